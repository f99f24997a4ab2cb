"""Speed, as ratios measured in one run (the machines are shared and noisy).

    python benchmarks/speed.py [--copies 50]

Prints: build throughput against plain SentenceTransformer.encode of the same chunk texts (model
loading excluded from both); ask latency p50/p95 against encoding the question alone; plain FAISS
lookup time; resident memory of a process serving the seed corpus.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, load_questions
from generate import generate

from assistant.build import build_index, scan_corpus
from assistant.config import BUNDLED_MODEL, Settings
from assistant.embedding import load_embedder
from assistant.ingest import chunk_document, load_document
from assistant.params import DEFAULT_CHUNKING
from assistant.service import Assistant


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


MEMORY_PROBE = """
import json, resource, sys
from assistant.config import Settings
from assistant.service import Assistant
from fastapi.testclient import TestClient
from assistant.api import create_app
settings = Settings.from_env(index_dir=sys.argv[1])
client = TestClient(create_app(settings))
for question in json.loads(sys.argv[2]):
    assert client.post("/api/ask", json={"question": question}).status_code == 200
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", type=int, default=50, help="copies of each seed review (50 -> ~5,500 chunks)")
    options = parser.parse_args()
    embedder = load_embedder(BUNDLED_MODEL)
    embedder.encode(["warm up the model"] * 8)
    questions = [q["question"] for q in load_questions()["questions"]]
    with tempfile.TemporaryDirectory() as folder:
        corpus = Path(folder) / "corpus"
        files = generate(corpus, options.copies)
        texts = [c.indexed_text() for path in files for c in chunk_document(load_document(path), DEFAULT_CHUNKING)]
        print(f"generated corpus: {len(files)} files, {len(texts)} chunks")

        started = time.perf_counter()
        embedder.encode(texts, batch_size=32)  # the same encoder the build uses, alone
        plain = time.perf_counter() - started

        settings = Settings.from_env(corpus_dir=corpus, index_dir=Path(folder) / "index")
        assistant = Assistant(settings, embedder=embedder)
        started = time.perf_counter()
        report = build_index(files=scan_corpus(corpus), store=assistant.store, embedder=embedder)
        build = time.perf_counter() - started
        print(f"build: {report.chunks} chunks in {build:.1f} s ({report.chunks / build:.0f} chunks/s); "
              f"plain encode of the same texts {plain:.1f} s; ratio {build / plain:.2f}x (target <= 1.2x)")

        assistant.ask(questions[0])
        encode_times, ask_times, faiss_times = [], [], []
        index = assistant.index()
        for question in questions:
            started = time.perf_counter()
            vector = embedder.encode([question])[0]
            encode_times.append(time.perf_counter() - started)
            started = time.perf_counter()
            index.dense(vector, 50)
            faiss_times.append(time.perf_counter() - started)
            started = time.perf_counter()
            assistant.ask(question)
            ask_times.append(time.perf_counter() - started)
        for label, fraction in (("p50", 0.5), ("p95", 0.95)):
            ask_value, encode_value = percentile(ask_times, fraction), percentile(encode_times, fraction)
            print(f"ask {label}: {ask_value * 1000:.1f} ms; encode question alone {encode_value * 1000:.1f} ms; "
                  f"ratio {ask_value / encode_value:.2f}x (target <= 2.5x)")
        print(f"plain FAISS lookup (top 50 of {report.chunks}): p50 {statistics.median(faiss_times) * 1000:.2f} ms")

    with tempfile.TemporaryDirectory() as folder:
        seed_settings = Settings.from_env(index_dir=Path(folder) / "index")
        seed = Assistant(seed_settings, embedder=embedder)
        build_index(files=scan_corpus(seed_settings.corpus_dir), store=seed.store, embedder=embedder)
        result = subprocess.run([sys.executable, "-c", MEMORY_PROBE, str(seed_settings.index_dir),
                                 json.dumps(questions[:20])], capture_output=True, text=True, cwd=ROOT)
        if result.returncode:
            raise SystemExit(f"the memory probe failed:\n{result.stderr[-2000:]}")
        peak_mb = int(result.stdout.strip().splitlines()[-1]) / 1024
        print(f"serving the seed corpus: peak resident memory {peak_mb:.0f} MB after 20 questions "
              "(target < 1536 MB)")


if __name__ == "__main__":
    main()
