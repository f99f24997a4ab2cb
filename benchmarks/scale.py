"""The national collection on one machine: the cost of asking, opening, adding and building at N passages.

    python benchmarks/scale.py --chunks 100000 [--json] [--keep DIR] [--workers 4]

The background (copies of the seed reviews, varied) is embedded with a hashing stand-in for the model at
its 384 dimensions, under the real model's name, so that building half a million passages takes minutes,
not hours; the seed reviews themselves, the questions and the added 40-page review go through the real
model. Figures "around the model" are an ask's time less its question's encoding, measured per question, on
the seed questions after the benchmark collection's (which map the vector files' pages a server's first
questions map; their ratio is reported as `first_questions_whole_ask_over_encode`).
Memory is PSS (proportional set size: shared pages split between the processes sharing them) summed over
the server's processes, with RSS beside it. `--keep DIR` keeps (and reuses) the built index.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from add_cost import long_review
from ann_recall import recall, synthetic_passages
from collection import collection_assistant, collection_cases, seed_cases
from common import ROOT, child_pids, load_questions, wait_until_healthy
from generate import generate
from speed import percentile

from assistant.admin import add_files
from assistant.build import sentence_text
from assistant.config import BUNDLED_MODEL, Settings
from assistant.embedding import Embedder, SentenceTransformerEmbedder, load_embedder
from assistant.service import Assistant
from assistant.text import sentence_spans

CHUNKS_PER_COPY = 110  # the five seed reviews together
SEEDS = ROOT / "corpus"

BUILD_PROBE = """
import json, resource, sys, time
sys.path.insert(0, {benchmarks!r})
from common import HashEmbedder
from assistant.build import BuildOptions, build_index, scan_corpus
from assistant.config import Settings
from assistant.store import IndexStore
settings = Settings.from_env(corpus_dir={corpus!r}, index_dir={index!r})
stand_in = HashEmbedder(dimension=384, name={model!r})
started = time.perf_counter()
report = build_index(files=scan_corpus(settings.corpus_dir), store=IndexStore(settings.index_dir,
                     chunking=settings.chunking), embedder=stand_in, options=BuildOptions.from_settings(settings))
print(json.dumps({{"seconds": time.perf_counter() - started, "chunks": report.chunks,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def build_background(root: Path, chunks: int) -> dict[str, Any]:
    """Generate and build the background index in a process of its own (its peak memory is the build's)."""
    corpus, index = root / "corpus", root / "index"
    copies = max(1, math.ceil(chunks / CHUNKS_PER_COPY))
    generate(corpus, copies)
    probe = BUILD_PROBE.format(benchmarks=str(ROOT / "benchmarks"), corpus=str(corpus), index=str(index),
                               model=BUNDLED_MODEL)
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=False,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    if done.returncode != 0:
        raise SystemExit(f"the background build failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def memory_of(pid: int) -> tuple[float, float]:
    """(PSS, RSS) in MB of a process and all its descendants."""
    pss = rss = 0.0
    for process in [pid, *descendants(pid)]:
        try:
            for line in Path(f"/proc/{process}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    pss += int(line.split()[1]) / 1024
                elif line.startswith("Rss:"):
                    rss += int(line.split()[1]) / 1024
        except OSError:
            continue
    return pss, rss


def descendants(pid: int) -> list[int]:
    return [found for child in child_pids(pid) for found in (child, *descendants(child))]


def serving_memory(settings: Settings, workers: int, questions: list[str]) -> tuple[float, float]:
    """Serve the index with `workers` processes, ask through each, and measure them."""
    port = 8700 + workers
    env = {**os.environ, "ASSISTANT_INDEX_DIR": str(settings.index_dir), "ASSISTANT_CORPUS_DIR": str(
        settings.corpus_dir), "ASSISTANT_DATA_DIR": str(settings.index_dir.parent / "appdata")}
    server = subprocess.Popen([sys.executable, "-m", "assistant", "serve", "--port", str(port), "--workers",
                               str(workers)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_healthy(base, server, seconds=600, path="/api/ready")
        time.sleep(5 if workers > 1 else 0)  # every worker loaded
        with httpx.Client(base_url=base, timeout=120) as client:
            for question in questions * workers:  # the requests spread over the workers
                client.post("/api/ask", json={"question": question})
        return memory_of(server.pid)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)


def timed_asks(assistant: Assistant, model: Embedder, questions: list[str]) -> tuple[list[float], list[float]]:
    """Each question encoded alone, then asked: (whole ask ms, encoding ms), per question."""
    ask_ms, encode_ms = [], []
    for question in questions:
        started = time.perf_counter()
        model.encode([question])
        encode_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        assistant.ask(question)
        ask_ms.append((time.perf_counter() - started) * 1000)
    return ask_ms, encode_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--json", action="store_true", help="print one JSON object only")
    parser.add_argument("--keep", type=Path, help="build into (or reuse) this folder")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--skip-serving", action="store_true", help="leave out the served-memory measurement")
    options = parser.parse_args()
    say = (lambda *_: None) if options.json else print
    root = options.keep or Path(tempfile.mkdtemp(prefix="scale-"))
    root.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {}
    try:
        index_dir = root / "index"
        if not (index_dir / "CURRENT").exists():
            say(f"building a background of about {options.chunks:,} passages in {root} ...")
            built = build_background(root, options.chunks)
            result |= {"build_s_around_model": round(built["seconds"], 1),
                       "build_peak_rss_mb": round(built["peak_rss_mb"])}
            say(f"  built {built['chunks']:,} passages in {built['seconds']:.0f} s, peak {built['peak_rss_mb']:.0f} MB")
        settings = Settings.from_env(corpus_dir=root / "corpus", index_dir=index_dir, data_dir=root / "appdata")
        model = load_embedder(BUNDLED_MODEL)
        model.encode(["warm up"] * 4)
        assistant = Assistant(settings, embedder=model)
        names = {path.stem for path in SEEDS.glob("*.txt")}
        if not all(doc_id in assistant.store.read_manifest().documents for doc_id in names):
            seeds = sorted(SEEDS.glob("*.txt"))
            add_files(settings=settings, store=assistant.store, embedder=model, files=seeds)
        started = time.perf_counter()
        stamp = time.strftime("%Y%m%d%H%M%S")  # a new review each run, so a kept index measures a real add
        review = long_review(root / f"2026-child-l-overview-report-{stamp}.md")
        review.write_text(review.read_text(encoding="utf-8") + f"\n\nAdded by the scale benchmark at {stamp}.\n",
                          encoding="utf-8")
        added = add_files(settings=settings, store=assistant.store, embedder=model, files=[review])
        result["add_review_s"] = round(time.perf_counter() - started, 2)
        say(f"added a 40-page review ({added.embedded_chunks} passages) in {result['add_review_s']} s")

        started = time.perf_counter()
        index = assistant.store.open(model=model.name, vectors=settings.vectors)
        result["open_s"] = round(time.perf_counter() - started, 3)
        result["chunks"] = index.manifest.chunk_count
        result["ann"] = bool(index.manifest.ann)
        # The first questions a freshly opened version answers map the pages of its vector files they touch
        # into the process; a server's later questions find most mapped. So the benchmark collection's
        # questions go first (their figures reported as the first questions'), then the seed questions
        # are measured.
        first = timed_asks(assistant, model, [case.question for case in collection_cases()])
        result["first_questions_whole_ask_over_encode"] = round(statistics.median(first[0])
                                                                / statistics.median(first[1]), 2)
        questions = [q["question"] for q in load_questions()["questions"]]
        ask_ms, encode_ms = timed_asks(assistant, model, questions)
        around_ms = [ask - encode for ask, encode in zip(ask_ms, encode_ms, strict=True)]
        result |= {"ask_ms_p50": round(statistics.median(around_ms), 1),
                   "ask_ms_p95": round(percentile(around_ms, 0.95), 1),
                   "whole_ask_ms_p50": round(statistics.median(ask_ms), 1),
                   "question_encode_ms_p50": round(statistics.median(encode_ms), 1)}
        result["whole_ask_over_encode"] = round(result["whole_ask_ms_p50"] / result["question_encode_ms_p50"], 2)
        say(f"ask around the model p50 {result['ask_ms_p50']} ms, p95 {result['ask_ms_p95']} ms; whole ask p50 "
            f"{result['whole_ask_ms_p50']} ms = {result['whole_ask_over_encode']}x the question's encoding "
            f"({result['first_questions_whole_ask_over_encode']}x over the first {len(first[0])} questions)")

        # On real model vectors: as many passages as here, made of the benchmark collection's sentence vectors
        # (the hashing background says nothing about how real vectors cluster); see ann_recall.py.
        collection = collection_assistant().index()
        real_sentences = np.concatenate([v for _, v in collection.sentences.live_batches()])
        real_passages = np.concatenate([v for _, v in collection.passages.live_batches()])
        cases = [case.question for case in seed_cases() + collection_cases()]
        with tempfile.TemporaryDirectory() as folder:
            found, ann_ms = recall(synthetic_passages(real_sentences, real_passages, result["chunks"]),
                                   model.encode(cases), settings.vectors, Path(folder))
        result["ann_recall_at_50"] = round(found, 4)
        say(f"ANN recall@50 against exact search on {result['chunks']:,} passages of real vectors: {found:.4f} "
            f"({ann_ms:.1f} ms per question); ANN in use here: {result['ann']}")

        # the seed reviews' sentences, as a build embeds them (sentence_text: without paragraph numbers)
        sentences = [sentence_text(text, span) for path in sorted(SEEDS.glob("*.txt"))
                     for text in [path.read_text(encoding="utf-8")] for span in sentence_spans(text)]
        started = time.perf_counter()
        model.encode(sentences, batch_size=32)
        per_second = round(len(sentences) / (time.perf_counter() - started))
        result["encode_sentences_per_s"] = {type(model).__name__: per_second}
        if not isinstance(model, SentenceTransformerEmbedder):  # the PyTorch encoder, for comparison
            reference = SentenceTransformerEmbedder(BUNDLED_MODEL)
            reference.encode(sentences[:32])
            started = time.perf_counter()
            reference.encode(sentences, batch_size=32)
            result["encode_sentences_per_s"]["SentenceTransformerEmbedder"] = round(
                len(sentences) / (time.perf_counter() - started))
            started = time.perf_counter()
            for question in questions:
                reference.encode([question])
            result["question_encode_ms_torch"] = round((time.perf_counter() - started) / len(questions) * 1000, 1)
        say(f"encoding: {result['encode_sentences_per_s']} sentences per second")

        version = index.manifest.version
        if not options.skip_serving:
            # PSS splits a page among the processes mapping it: this process lets go of the index first
            del index, assistant
            gc.collect()
            sample = questions[:10]
            one = serving_memory(settings, 1, sample)
            many = serving_memory(settings, options.workers, sample)
            result |= {"rss_mb_1_worker": round(one[0]), f"rss_mb_{options.workers}_workers": round(many[0]),
                       "rss_mb_1_worker_rss": round(one[1]), f"rss_mb_{options.workers}_workers_rss": round(many[1])}
            say(f"serving memory (PSS): 1 worker {one[0]:.0f} MB, {options.workers} workers {many[0]:.0f} MB "
                f"({many[0] / one[0]:.2f}x); RSS {one[1]:.0f} / {many[1]:.0f} MB")
        on_disk = sum(f.stat().st_size for f in (index_dir / "versions" / version).iterdir())
        result["on_disk_mb"] = round(on_disk / 1e6)
    finally:
        if options.keep is None:
            shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(result) if options.json else json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
