"""How well the ANN index finds what exact search finds, on real model vectors at national size.

    python benchmarks/ann_recall.py [--passages 500000]

Embedding half a million real passages would take hours here, so the background is made from the model's
own vectors: each synthetic passage is the normalised mean of 2-5 real sentence vectors of the seeds and
the benchmark collection (a passage's vector is the mean of its sentences'), and the collection's real
passages are among them. The questions are the benchmark questions, encoded by the model. Prints
recall@50 of the ANN search (as `OpenIndex.dense` runs it, exact rescoring included) against exact
search, and the time per question, for the settings in VectorParams and the collection alone.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from collection import collection_assistant, collection_cases, seed_cases

from assistant.params import DEFAULT_VECTORS, VectorParams
from assistant.vectors import CHUNK_KIND, SegmentWriter, VectorSet, ann_search, build_ann


def synthetic_passages(sentences: np.ndarray, real: np.ndarray, count: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    sizes = rng.integers(2, 6, size=count)
    out = np.zeros((count, sentences.shape[1]), dtype=np.float32)
    for part in range(5):
        picked = sentences[rng.integers(0, len(sentences), size=count)]
        out += np.where((part < sizes)[:, None], picked, 0.0)
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    out[:len(real)] = real
    return out


def recall(vectors: np.ndarray, questions: np.ndarray, params: VectorParams, folder: Path) -> tuple[float, float]:
    writer = SegmentWriter(folder, "s", CHUNK_KIND, vectors.shape[1])
    writer.add(np.arange(1, len(vectors) + 1, dtype=np.int64), vectors)
    writer.close()
    passages = VectorSet(folder, ["s"], CHUNK_KIND, vectors.shape[1], np.zeros(0, dtype=np.int64))
    index = build_ann(passages, params)
    found, seconds = [], 0.0
    for question in questions:
        exact = {i for i, _ in passages.search(question, 50)}
        started = time.perf_counter()
        approximate = {i for i, _ in ann_search(index, passages, question, 50, params)}
        seconds += time.perf_counter() - started
        found.append(len(exact & approximate) / 50)
    return statistics.mean(found), seconds / len(questions) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--passages", type=int, default=500_000)
    options = parser.parse_args()
    assistant = collection_assistant()
    index = assistant.index()
    sentences = np.concatenate([v for _, v in index.sentences.live_batches()])
    real = np.concatenate([v for _, v in index.passages.live_batches()])
    questions = assistant.embedder.encode([case.question for case in seed_cases() + collection_cases()])
    print(f"{len(questions)} questions; {len(real)} real passages, {len(sentences)} real sentences")
    for name, vectors in (("the collection alone", real),
                          (f"{options.passages:,} passages", synthetic_passages(sentences, real, options.passages))):
        for params in (DEFAULT_VECTORS, replace(DEFAULT_VECTORS, ann_probe_share=DEFAULT_VECTORS.ann_probe_share / 2)):
            with tempfile.TemporaryDirectory() as folder:
                found, ms = recall(vectors, questions, params, Path(folder))
            print(f"{name}: lists {params.ann_lists_per_sqrt:g} sqrt(N), {params.ann_probe_share:.0%} visited: "
                  f"recall@50 {found:.4f}, {ms:.1f} ms per question")


if __name__ == "__main__":
    main()
