"""The cost of adding one long review to indexes of different sizes (10k and 100k chunks by default).

    python benchmarks/add_cost.py [--sizes 10000 100000]

The background index is filled with a hashing stand-in for the model (building 100k chunks with the real
model would take half an hour on this machine); the added review goes through exactly the same pipeline.
The real model's time to embed that review's chunks is measured separately and added to give the total
an administrator waits for. Only the new review's chunks are embedded: `embedded` proves it.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from common import HashEmbedder
from generate import generate

from assistant.admin import add_files
from assistant.build import build_index, scan_corpus, sentence_text
from assistant.config import BUNDLED_MODEL, Settings
from assistant.embedding import load_embedder
from assistant.ingest import chunk_document, load_document
from assistant.params import DEFAULT_CHUNKING
from assistant.store import IndexStore
from assistant.text import sentence_spans

SEEDS = Path(__file__).resolve().parent.parent / "corpus"
CHUNKS_PER_COPY = 110  # the five seed reviews together


def long_review(path: Path) -> Path:
    """A review of about 40 pages (16,000 words): the seed reviews twice over, as one document."""
    parts = ["# Overview report: Child L (generated for the benchmark)"]
    for round_number in (1, 2):
        for seed in sorted(SEEDS.glob("*.txt")):
            parts.append(f"## Part {round_number}: {seed.stem.replace('-', ' ')}")
            parts.append(seed.read_text(encoding="utf-8"))
    path.write_text("\n\n".join(parts), encoding="utf-8")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    options = parser.parse_args()
    stand_in = HashEmbedder(dimension=384, name="benchmark-hashing-embedder")
    with tempfile.TemporaryDirectory() as folder:
        review = long_review(Path(folder) / "2026-child-l-overview-report.md")
        review_chunks = chunk_document(load_document(review), DEFAULT_CHUNKING)
        words = sum(len(c.text.split()) for c in review_chunks)
        model = load_embedder(BUNDLED_MODEL)
        model.encode(["warm up"])
        # what the build embeds for it: every sentence, and each section title once
        texts = [sentence_text(c.text, span) for c in review_chunks for span in sentence_spans(c.text)]
        texts += sorted({c.section for c in review_chunks if c.section})
        started = time.perf_counter()
        model.encode(texts)
        model_seconds = time.perf_counter() - started
        print(f"added review: {words} words, {len(review_chunks)} chunks; the real model embeds them in "
              f"{model_seconds:.1f} s")
        results = []
        for size in options.sizes:
            root = Path(folder) / f"size-{size}"
            corpus = root / "corpus"
            generate(corpus, copies=max(1, size // CHUNKS_PER_COPY))
            settings = Settings.from_env(corpus_dir=corpus, index_dir=root / "index", model=stand_in.name)
            store = IndexStore(settings.index_dir)
            started = time.perf_counter()
            base = build_index(files=scan_corpus(corpus), store=store, embedder=stand_in)
            build_seconds = time.perf_counter() - started
            started = time.perf_counter()
            report = add_files(settings=settings, store=store, embedder=stand_in, files=[review])
            pipeline = time.perf_counter() - started
            assert report.embedded_chunks == len(review_chunks), "only the new review is embedded"
            total = pipeline + model_seconds
            results.append((size, total))
            print(f"index of {base.chunks:>7} chunks (built in {build_seconds:.0f} s): add took {pipeline:.2f} s "
                  f"around the model, embedded {report.embedded_chunks} chunks; with the real model "
                  f"{total:.1f} s")
        if len(results) > 1:
            (small, small_total), (large, large_total) = results[0], results[-1]
            print(f"add at {large} vs {small} chunks: {large_total / small_total:.2f}x "
                  f"(index {large / small:.0f}x larger)")


if __name__ == "__main__":
    main()
