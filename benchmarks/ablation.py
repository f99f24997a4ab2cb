"""Does each piece of the ranking earn its place? Each switched off in turn, on real-world sets and the seeds.

    python benchmarks/ablation.py /tmp/rw/setA [/tmp/rw/setB ...]   # R@1, R@3, MRR per variant and set
    python benchmarks/ablation.py --seeds                            # the same on the seed questions

Every line is from the same run as the plain baseline printed first. A piece whose removal does not lower
the figures on held-out real sets should go (the developers' guide).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from common import load_questions as seed_questions
from realworld import set_assistant

from assistant.config import Settings
from assistant.evaluation import (
    EvalQuestion,
    assistant_ranker,
    baseline_for,
    baseline_ranker,
    load_questions,
    run,
    score,
)
from assistant.service import Assistant

RANKING_VARIANTS: dict[str, dict[str, Any]] = {
    "as configured": {},
    "no keyword scores": {"keyword_weight": 0.0, "focus_weight": 0.0},
    "no sentence evidence": {"sentence_weight": 0.0},
    "no word coverage": {"coverage_weight": 0.0},
    "passage cosine alone": {"keyword_weight": 0.0, "focus_weight": 0.0, "sentence_weight": 0.0,
                             "coverage_weight": 0.0},
    "cited without context": {"context_max_words": 0},
}


def variants(base: Settings, empty_glossary: Path) -> dict[str, Settings]:
    out = {name: replace(base, ranking=replace(base.ranking, **change)) for name, change in RANKING_VARIANTS.items()}
    out["no glossary expansion"] = replace(base, glossary_path=empty_glossary)
    return out


def seed_set() -> list[EvalQuestion]:
    data = seed_questions()
    questions = [EvalQuestion(f"s{n}", q["question"], (q["expect"],) if isinstance(q["expect"], str)
                              else tuple(q["expect"])) for n, q in enumerate(data["questions"])]
    questions += [EvalQuestion(f"u{n}", q["question"], None) for n, q in enumerate(data["unanswerable"])]
    return questions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sets", nargs="*", type=Path)
    parser.add_argument("--seeds", action="store_true")
    parser.add_argument("-k", type=int, default=5)
    parser.add_argument("--only", nargs="*", help="variant names to run (default: all)")
    options = parser.parse_args()
    jobs: list[tuple[str, Assistant, list[EvalQuestion]]] = []
    if options.seeds:
        folder = Path(tempfile.mkdtemp(prefix="seeds-"))
        (folder / "corpus").mkdir()
        jobs.append(("seeds", set_assistant(folder), seed_set()))
    for folder in options.sets:
        jobs.append((folder.name, set_assistant(folder), load_questions(folder / "questions.json")))
    with tempfile.TemporaryDirectory() as scratch:
        empty = Path(scratch) / "glossary.json"
        empty.write_text(json.dumps({"abbreviations": {}, "synonyms": []}), encoding="utf-8")
        for name, assistant, questions in jobs:
            plain = score(run(questions, baseline_ranker(baseline_for(assistant), options.k)))
            print(f"\n== {name} ({plain.answerable} answerable) ==\n{'plain baseline':26s} {plain.line()}")
            for label, settings in variants(assistant.settings, empty).items():
                if options.only and label not in options.only:
                    continue
                variant = Assistant(settings, embedder=assistant.embedder)
                print(f"{label:26s} {score(run(questions, assistant_ranker(variant, options.k))).line()}", flush=True)


if __name__ == "__main__":
    main()
