"""Quality on real-world sets (../shared/realworld/README.md), each beside the plain baseline from the same run.

    python benchmarks/realworld.py /tmp/rw/setA [/tmp/rw/setB ...]   # figures per set
    python benchmarks/realworld.py SET --misses                       # also each miss of the project
    python benchmarks/realworld.py SET --json                         # one JSON object per set
    python benchmarks/realworld.py TUNE OTHER... --fit                # fit the coverage model on TUNE only

Each set's texts sit beside the seed reviews, as a practitioner's collection would; the index is built once
per set, chunking version and model into the set's own folder (`SET/.index-*`, outside the repository, since
the texts may not be committed) and reused. Also printed: how passages of the set's real web text are cut
(share under 15 words, titles alone, words per cited passage) and the ask's cost against the question's
encoding.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
from common import ROOT, built_once, fit_coverage

from assistant.build import scan_corpus
from assistant.config import Settings
from assistant.evaluation import assistant_ranker, baseline_for, baseline_ranker, load_questions, run, score
from assistant.params import chunking_fingerprint
from assistant.service import Assistant


def set_assistant(folder: Path, *, rebuild: bool = False, **overrides: Any) -> Assistant:
    """An assistant over the seeds plus the set's corpus/, its index kept in the set's folder."""
    files = sorted((folder / "corpus").glob("*.txt"))
    settings = Settings.from_env(**overrides)
    digest = hashlib.sha256("\0".join([chunking_fingerprint(settings.chunking), settings.model,
                                       *(f"{p.name}:{p.stat().st_size}" for p in files)]).encode()).hexdigest()[:12]
    return built_once(folder / f".index-{digest}", [*scan_corpus(ROOT / "corpus"), *files], rebuild=rebuild,
                      label=f"built {folder.name}", **overrides)


def passage_shapes(assistant: Assistant, doc_ids: set[str]) -> dict[str, Any]:
    """How the set's own documents were cut: passages under 15 words, and titles or headings alone."""
    index = assistant.index()
    sizes: list[int] = []
    titles_alone = 0
    for doc_id in doc_ids:
        document = index.document(doc_id)
        for stored in index.document_chunks(doc_id):
            text = stored.chunk.text.strip()
            sizes.append(len(text.split()))
            if document is not None and text.rstrip(":") in {document.meta.title, stored.chunk.section or ""}:
                titles_alone += 1
    short = sum(size < 15 for size in sizes)
    return {"passages": len(sizes), "under_15_words": short, "under_15_share": round(short / max(len(sizes), 1), 4),
            "titles_alone": titles_alone, "median_words": statistics.median(sizes) if sizes else 0}


def timing(assistant: Assistant, questions: list[str]) -> dict[str, float]:
    """Median ask against the median encoding of the same questions alone, alternated in one run."""
    asks, encodes = [], []
    assistant.ask("warm up")
    for question in questions:
        started = time.perf_counter()
        assistant.embedder.encode([question])
        encodes.append(time.perf_counter() - started)
        started = time.perf_counter()
        assistant.ask(question)
        asks.append(time.perf_counter() - started)
    ask, encode = statistics.median(asks) * 1000, statistics.median(encodes) * 1000
    return {"ask_ms": round(ask, 2), "encode_ms": round(encode, 2), "ratio": round(ask / encode, 2)}


def evaluate_set(folder: Path, *, k: int, rebuild: bool) -> dict[str, Any]:
    assistant = set_assistant(folder, rebuild=rebuild)
    questions = load_questions(folder / "questions.json")
    project = run(questions, assistant_ranker(assistant, k))
    plain = run(questions, baseline_ranker(baseline_for(assistant), k))
    own = {p.stem for p in (folder / "corpus").glob("*.txt")}
    doc_ids = {row["doc_id"] for row in assistant.index().documents() if row["file_name"].rsplit(".", 1)[0] in own}
    cited = [words for outcome in project for words in outcome.cited_words]
    return {
        "set": folder.name,
        "project": score(project),
        "baseline": score(plain),
        "passages": passage_shapes(assistant, doc_ids),
        "cited_words": {"median": statistics.median(cited) if cited else 0, "max": max(cited, default=0)},
        "speed": timing(assistant, [q.q for q in questions[:40]]),
    }


def fit_answerability(folders: list[Path], thresholds: tuple[float, ...] = (0.2, 0.3, 0.4, 0.5)) -> None:
    """Fit the coverage model on the first set's questions; print refusals at each threshold on every set."""
    evidence: dict[str, list[tuple[list[float], bool]]] = {}
    for folder in folders:
        assistant = set_assistant(folder)
        evidence[folder.name] = [(list(assistant.ask(q.q).evidence.values()), q.gold is not None)
                                 for q in load_questions(folder / "questions.json")]
    tune = evidence[folders[0].name]
    bias, weights = fit_coverage([features for features, _ in tune], [answerable for _, answerable in tune])
    print(f"fitted on {folders[0].name}: bias {bias}, weights {tuple(weights)} (best, margin, coverage, unknown, "
          "score)")
    for threshold in thresholds:
        parts = []
        for name, rows in evidence.items():
            x = np.array([features for features, _ in rows])
            chance = 1 / (1 + np.exp(-(bias + x @ np.array(weights))))
            refused = [(c < threshold, answerable) for c, (_, answerable) in zip(chance, rows, strict=True)]
            answerable = sum(a for _, a in refused)
            parts.append(f"{name}: answerable refused {sum(r and a for r, a in refused)}/{answerable}, "
                         f"unanswerable refused {sum(r and not a for r, a in refused)}/{len(refused) - answerable}")
        print(f"direct at {threshold}: " + "  |  ".join(parts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sets", nargs="+", type=Path)
    parser.add_argument("-k", type=int, default=5)
    parser.add_argument("--misses", action="store_true")
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--fit", action="store_true", help="fit the coverage model on the first set")
    options = parser.parse_args()
    if options.fit:
        fit_answerability(options.sets)
        return
    for folder in options.sets:
        result = evaluate_set(folder, k=options.k, rebuild=options.rebuild)
        if options.json:
            print(json.dumps({**result, "project": result["project"].as_dict(),
                              "baseline": result["baseline"].as_dict()}))
            continue
        print(f"\n== {result['set']} ==")
        for name in ("project", "baseline"):
            print(f"{name:9s} {result[name].line()}")
        print(f"passages: {result['passages']}  cited words: {result['cited_words']}")
        print(f"speed: {result['speed']}")
        if options.misses:
            for miss in result["project"].misses:
                print(f"- [{miss.rank}] {'answered' if miss.answered else 'refused'} {miss.question.id} "
                      f"{miss.question.q!r} top {miss.top}")


if __name__ == "__main__":
    main()
