"""Quality on benchmarks/questions.json: Recall@1, Recall@3, MRR, abstention, words per cited passage.

    python benchmarks/quality.py              # figures
    python benchmarks/quality.py --calibrate  # also the evidence measures behind `coverage`
    python benchmarks/quality.py --misses     # also list each question not answered in first place
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from common import fresh_assistant, load_questions, rank_of

from assistant.answer import Turn
from assistant.params import as_dict


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calibrate", action="store_true")
    parser.add_argument("--misses", action="store_true")
    parser.add_argument("-k", type=int, default=10)
    options = parser.parse_args()
    data = load_questions()
    with tempfile.TemporaryDirectory() as folder:
        assistant = fresh_assistant(Path(folder) / "index")
        answerable = [(q["question"], q["expect"], []) for q in data["questions"]]
        answerable += [(q["question"], q["expect"], q["history"]) for q in data["followups"]]
        ranks: list[int | None] = []
        top_scores: list[float] = []
        passage_words: list[int] = []
        refused = 0
        misses = []
        for question, expect, history in answerable:
            answer = assistant.ask(question, history=[Turn(h) for h in history], k=options.k)
            hits = assistant.hits_for(question, history=[Turn(h) for h in history], k=options.k)
            rank = rank_of(expect, [hit.stored.chunk.text for hit in hits])
            ranks.append(rank)
            refused += answer.coverage != "direct"
            top_scores.append(answer.evidence.get("best", 0.0))
            passage_words += [len(c.text.split()) for c in answer.citations[:3]]
            if rank != 1:
                misses.append((question, expect, rank, answer))
        unanswerable_scores = []
        wrongly_found = []
        for item in data["unanswerable"]:
            answer = assistant.ask(item["question"], k=options.k)
            unanswerable_scores.append(answer.evidence.get("best", 0.0))
            if answer.found:
                wrongly_found.append(item["question"])
        settings = assistant.settings
        print(f"ranking: {as_dict(settings.ranking)}\nanswer: {as_dict(settings.answer)}\n"
              f"chunking: {assistant.store.chunking_version} {as_dict(settings.chunking)}\n"
              )
        n = len(ranks)
        followup_ranks = ranks[len(data["questions"]):]
        print(f"answerable questions: {n} ({len(data['followups'])} follow-ups); "
              f"unanswerable: {len(data['unanswerable'])}")
        print(f"Recall@1   {sum(r == 1 for r in ranks) / n:.3f}")
        print(f"Recall@3   {sum(r is not None and r <= 3 for r in ranks) / n:.3f}")
        print(f"MRR        {sum(1 / r for r in ranks if r) / n:.3f}")
        print(f"follow-ups Recall@3 {sum(r is not None and r <= 3 for r in followup_ranks) / len(followup_ranks):.3f}")
        print(f"abstention: {len(data['unanswerable']) - len(wrongly_found)}/{len(data['unanswerable'])} "
              f"unanswerable refused; {refused}/{n} answerable refused")
        print(f"median words per cited passage (top 3): {statistics.median(passage_words):.0f}")
        for question in wrongly_found:
            print(f"  answered but should not be: {question}")
        if options.calibrate:
            p5 = sorted(top_scores)[len(top_scores) // 20]
            print(f"\nbest evidence (best sentence cosine), answerable: min {min(top_scores):.3f}  p5 {p5:.3f}  "
                  f"median {statistics.median(top_scores):.3f}")
            print(f"best evidence, unanswerable: max {max(unanswerable_scores):.3f}  "
                  f"median {statistics.median(unanswerable_scores):.3f}")
            print("lowest answerable:", sorted(top_scores)[:5])
            print("highest unanswerable:", sorted(unanswerable_scores)[-5:])
        if options.misses:
            print("\nnot first:")
            for question, expect, rank, answer in misses:
                top = answer.citations[0] if answer.citations else None
                print(f"- [{rank}] {question!r} wants {expect!r}\n    searched: {answer.searched}\n"
                      f"    got: {top.chunk_id if top else None} {top.text[:100] if top else ''!r}")


if __name__ == "__main__":
    main()
