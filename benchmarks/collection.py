"""Quality on the seeds plus the fictional evaluation collection (benchmarks/collection/), split into a
tuning part and a held-out part that is never tuned on.

    python benchmarks/collection.py               # figures for tune, held-out and both
    python benchmarks/collection.py --misses      # also each held-out miss and wrong outcome
    python benchmarks/collection.py --features F  # also write the answerability features of every question
    python benchmarks/collection.py --fit         # also fit the coverage model on the tuning split only

A question may have more than one accepted passage: benchmarks/collection/alternates.json holds passages
other than the author's that a reviewer judged, strictly, to answer as directly (pooled from the top five
of the ranking at the time, the usual way of completing relevance judgments).

The split is by document: a review whose id hashes into the held-out part has all its questions there,
so held-out figures are about documents (as well as questions) the tuning never saw. Unanswerable
questions are split by their own hash. The index is built once per chunking version into
benchmarks/out/ and reused.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from common import ROOT, built_once, fit_coverage, load_questions, rank_of

from assistant.answer import Turn
from assistant.build import scan_corpus
from assistant.config import Settings
from assistant.evaluation import baseline_for, baseline_ranker
from assistant.params import VectorParams, as_dict, chunking_fingerprint
from assistant.service import Assistant

COLLECTION = Path(__file__).resolve().parent / "collection"
OUT = Path(__file__).resolve().parent / "out"
HELD_OUT_SHARE = 0.4
FEATURES = ("best", "margin", "coverage", "unknown", "score")


def held_out(key: str) -> bool:
    return int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF < HELD_OUT_SHARE


ALTERNATES = COLLECTION / "alternates.json"


@dataclass
class Case:
    question: str
    expect: list[str] | None  # phrases of which one must be in the passage; None: the reviews do not answer it
    history: list[str]
    split: str  # "tune" or "held-out"


def accepted(question: str, expect: str) -> list[str]:
    """The author's phrase and those of other passages judged (pooled, strictly) to answer as directly."""
    return [expect, *ALTERNATE_PHRASES.get(question, [])]


def _alternates() -> dict[str, list[str]]:
    data = json.loads(ALTERNATES.read_text(encoding="utf-8")) if ALTERNATES.exists() else {"alternates": []}
    return {item["question"]: item["accept"] for item in data["alternates"]}


ALTERNATE_PHRASES = _alternates()


def collection_cases() -> list[Case]:
    cases: list[Case] = []
    for path in sorted(COLLECTION.glob("*-questions.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        for item in data["questions"] + data.get("followups", []):
            split = "held-out" if held_out(item["doc"]) else "tune"
            cases.append(Case(item["question"], accepted(item["question"], item["expect"]), item.get("history", []),
                              split))
        for item in data["unanswerable"]:
            split = "held-out" if held_out(item["question"]) else "tune"
            cases.append(Case(item["question"], None, [], split))
    return cases


def seed_cases() -> list[Case]:
    """The seed questions were written and tuned on before this collection existed: all 'tune'."""
    data = load_questions()
    cases = [Case(q["question"], accepted(q["question"], q["expect"]), [], "tune") for q in data["questions"]]
    cases += [Case(q["question"], accepted(q["question"], q["expect"]), q["history"], "tune")
              for q in data["followups"]]
    cases += [Case(q["question"], None, [], "tune") for q in data["unanswerable"]]
    return cases


APPROXIMATE = {  # searched as a national collection is, whatever the size
    "ann": VectorParams(ann_min_passages=0),  # passages through the ANN index
    "sentences": VectorParams(exact_sentence_limit=0),  # sentences only within candidate passages
    "both": VectorParams(ann_min_passages=0, exact_sentence_limit=0),
}


def collection_assistant(*, rebuild: bool = False, approximate: str | None = None) -> Assistant:
    """An assistant over corpus/ plus benchmarks/collection/, built once per chunking version (and once more
    with an ANN index when `approximate` asks for one; see APPROXIMATE)."""
    version = chunking_fingerprint(Settings.from_env().chunking)
    vectors = APPROXIMATE[approximate] if approximate else VectorParams()
    root = OUT / f"collection-{version}{'-ann' if vectors.ann_min_passages == 0 else ''}"
    return built_once(root, [*scan_corpus(ROOT / "corpus"), *scan_corpus(COLLECTION)], rebuild=rebuild,
                      vectors=vectors)


def figures(rows: list[dict[str, Any]]) -> str:
    answerable = [row for row in rows if row["expect"] is not None]
    unanswerable = [row for row in rows if row["expect"] is None]
    n = max(len(answerable), 1)
    ranks = [row["rank"] for row in answerable]
    r1 = sum(r == 1 for r in ranks) / n
    r3 = sum(r is not None and r <= 3 for r in ranks) / n
    mrr = sum(1 / r for r in ranks if r) / n
    false_refusals = sum(row["coverage"] != "direct" for row in answerable)
    refused = sum(row["coverage"] != "direct" for row in unanswerable)
    return (f"answerable {len(answerable):3d}  R@1 {r1:.3f}  R@3 {r3:.3f}  MRR {mrr:.3f}  "
            f"refused {false_refusals}/{len(answerable)} ({false_refusals / n:.1%})  |  "
            f"unanswerable {len(unanswerable):3d}  refused {refused}/{len(unanswerable)} "
            f"({refused / max(len(unanswerable), 1):.1%})")


def unsupported(rows: list[dict[str, Any]], cited: int) -> str:
    """Answerable questions answered directly although no accepted passage is among the `cited` passages the
    answer quotes from: confident answers built from other passages (which may or may not say the same)."""
    answerable = [row for row in rows if row["expect"] is not None]
    count = sum(row["coverage"] == "direct" and (row["rank"] is None or row["rank"] > cited) for row in answerable)
    return f"{count}/{len(answerable)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--misses", action="store_true")
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--features", type=Path)
    parser.add_argument("--fit", action="store_true")
    parser.add_argument("--no-alternates", action="store_true", help="only the question author's passage counts")
    parser.add_argument("-k", type=int, default=10)
    parser.add_argument("--approximate", choices=sorted(APPROXIMATE),
                        help="search as past the size thresholds: ANN passages, sentences within candidates, both")
    options = parser.parse_args()
    if options.no_alternates:
        ALTERNATE_PHRASES.clear()
    assistant = collection_assistant(rebuild=options.rebuild, approximate=options.approximate)
    settings = assistant.settings
    print(f"ranking: {as_dict(settings.ranking)}\nanswer: {as_dict(settings.answer)}\n"
          f"chunking: {assistant.store.chunking_version}")
    cases = seed_cases() + collection_cases()
    rows: list[dict[str, Any]] = []
    ask_seconds: list[float] = []
    encode_seconds: list[float] = []
    assistant.ask("warm up", k=options.k)
    for case in cases:
        history = [Turn(h) for h in case.history]
        started = time.perf_counter()
        assistant.embedder.encode([case.question])
        encode_seconds.append(time.perf_counter() - started)
        started = time.perf_counter()
        answer = assistant.ask(case.question, history=history, k=options.k)
        ask_seconds.append(time.perf_counter() - started)
        passages = [hit.stored.chunk.text for hit in assistant.hits_for(case.question, history=history, k=options.k)]
        rows.append({"question": case.question, "expect": case.expect, "split": case.split,
                     "history": case.history, "rank": rank_of(case.expect, passages) if case.expect else None,
                     "coverage": answer.coverage, "features": answer.evidence, "answer": answer.answer,
                     "top": answer.citations[0].chunk_id if answer.citations else None})
    documents = len(assistant.index().manifest.documents)
    ask_ms, encode_ms = statistics.median(ask_seconds) * 1000, statistics.median(encode_seconds) * 1000
    print(f"{len(cases)} questions over {documents} documents: ask p50 {ask_ms:.1f} ms, the question's encoding "
          f"alone p50 {encode_ms:.1f} ms ({ask_ms / encode_ms:.2f}x)")
    plain = baseline_ranker(baseline_for(assistant), options.k)
    baseline_rows = [{**row, "coverage": "direct",
                      "rank": rank_of(row["expect"], plain(row["question"], [Turn(h) for h in row["history"]])
                                      .passages) if row["expect"] else None} for row in rows]
    for split in ("tune", "held-out"):
        print(f"{split:9s} {figures([row for row in rows if row['split'] == split])}")
        print(f"{'baseline':9s} {figures([row for row in baseline_rows if row['split'] == split])}")
    print(f"{'all':9s} {figures(rows)}")
    cited = settings.answer.answer_passages
    counts = [f"{split} {unsupported([row for row in rows if row['split'] == split], cited)}"
              for split in ("tune", "held-out")]
    print(f"answered directly with no accepted passage among the {cited} quoted from: {', '.join(counts)}")
    if options.fit:
        tune = [row for row in rows if row["split"] == "tune" and row["features"]]
        bias, weights = fit_coverage([[row["features"][key] for key in FEATURES] for row in tune],
                                     [row["expect"] is not None for row in tune])
        print(f"fitted on the tuning split: bias {bias:.2f}, weights {weights} for {FEATURES}")
        chances = [1 / (1 + np.exp(-(bias + sum(w * row["features"][k] for w, k in zip(weights, FEATURES,
                                                                                           strict=True)))))
                   for row in tune]
        for threshold in (0.2, 0.3, 0.4, 0.5):
            false_refusals = sum(c < threshold for c, row in zip(chances, tune, strict=True) if row["expect"])
            refused = sum(c < threshold for c, row in zip(chances, tune, strict=True) if not row["expect"])
            print(f"  direct at {threshold}: tune answerable refused {false_refusals}, unanswerable refused {refused}")
    if options.features:
        options.features.write_text(json.dumps(rows, indent=1), encoding="utf-8")
    if options.misses:
        print("\nheld-out misses and wrong outcomes:")
        for row in rows:
            if row["split"] != "held-out":
                continue
            wrong = (row["expect"] is None) == (row["coverage"] == "direct")
            if row["rank"] != 1 or wrong:
                print(f"- [{row['rank']}] {row['coverage']} {row['question']!r} wants {row['expect']!r}\n"
                      f"    top: {row['top']}  features: {row['features']}")


if __name__ == "__main__":
    main()
