"""Recall on benchmarks/questions.json over realistic PDF versions of the seed reviews against their text
versions (real bundled model); with --pages N, the time and peak memory of indexing one long generated PDF.

    python benchmarks/realistic_quality.py              # Recall@1, Recall@3, MRR: text vs PDF versions
    python benchmarks/realistic_quality.py --pages 150  # a 150-page PDF indexed by the CLI: time, peak memory

The PDFs come from tests/realistic.py: title page, contents page, running header and footer, numbered
paragraphs, two footnotes, a table of agency involvement and a two-column page. The long PDF is the longer
fictional reviews of benchmarks/collection/ one after another (repeated if need be) up to N pages.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, fresh_assistant, load_questions, rank_of

from assistant.answer import Turn
from assistant.ingest.loaders import load_file
from tests.realistic import FOOTNOTES, TABLE_HEADER, TABLE_ROWS, render_pdf, review_title

CORPUS = ROOT / "corpus"
COLLECTION = Path(__file__).resolve().parent / "collection"


def pdf_corpus(folder: Path, *, extras: bool = True) -> Path:
    """The seed reviews as realistic PDFs (with their sidecars) in `folder`; without `extras`, no added table
    or footnotes (only the review's own words, laid out)."""
    folder.mkdir(parents=True, exist_ok=True)
    for source in sorted(CORPUS.glob("*.txt")):
        render_pdf(source.read_text(encoding="utf-8"), folder / f"{source.stem}.pdf", title=review_title(source),
                   extras=extras)
        shutil.copy(source.with_name(source.stem + ".meta.toml"), folder)
    return folder


def text_corpus_with_extras(folder: Path) -> Path:
    """The text versions with the PDFs' added table (as the loader reads it: 'Header: cell' rows) and
    footnotes in them too: the fair baseline for PDF+, whose extra passages compete for every question."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = [" | ".join(f"{name}: {cell}" for name, cell in zip(TABLE_HEADER, row, strict=True)) for row in TABLE_ROWS]
    notes = [f"Footnote {n}: {note}" for n, note in enumerate(FOOTNOTES, start=1)]
    for source in sorted(CORPUS.glob("*.txt")):
        extra = "\n\n## Agency involvement\n\n" + "\n\n".join(rows) + "\n\n" + "\n\n".join(notes)
        (folder / source.name).write_text(source.read_text(encoding="utf-8") + extra, encoding="utf-8")
        shutil.copy(source.with_name(source.stem + ".meta.toml"), folder)
    return folder


def recall(corpus: Path, index: Path) -> dict[str, float]:
    assistant = fresh_assistant(index, corpus)
    data = load_questions()
    cases = [(q["question"], q["expect"], []) for q in data["questions"]]
    cases += [(q["question"], q["expect"], q["history"]) for q in data["followups"]]
    ranks = []
    for question, expect, history in cases:
        hits = assistant.hits_for(question, history=[Turn(h) for h in history], k=10)
        ranks.append(rank_of(expect, [hit.stored.chunk.text for hit in hits]))
    n = len(ranks)
    return {"Recall@1": sum(r == 1 for r in ranks) / n, "Recall@3": sum(r is not None and r <= 3 for r in ranks) / n,
            "MRR": sum(1 / r for r in ranks if r) / n}


def compare() -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        text = recall(CORPUS, root / "text-index")
        laid_out = recall(pdf_corpus(root / "pdf", extras=False), root / "pdf-index")
        extras = recall(pdf_corpus(root / "pdf-extras"), root / "pdf-extras-index")
        text_extras = recall(text_corpus_with_extras(root / "text-extras"), root / "text-extras-index")
    print("PDF: the review's own words laid out (title, contents, header/footer, numbers, two columns);")
    print("PDF+: also the fictional agency table and two footnotes added to every review (extra distractors);")
    print("text+: the text versions with the same table rows and footnotes, PDF+'s fair baseline\n")
    print(f"{'':10} {'text':>7} {'PDF':>7} {'diff':>7} {'text+':>7} {'PDF+':>7} {'diff':>7}")
    for name in text:
        print(f"{name:10} {text[name]:>7.3f} {laid_out[name]:>7.3f} {laid_out[name] - text[name]:>+7.3f} "
              f"{text_extras[name]:>7.3f} {extras[name]:>7.3f} {extras[name] - text_extras[name]:>+7.3f}")


def long_pdf(path: Path, pages: int) -> int:
    """The longer collection reviews one after another, repeated as needed, rendered up to `pages` pages."""
    sources = sorted(COLLECTION.glob("*.txt"), key=lambda p: -p.stat().st_size)[:8]
    parts: list[str] = []
    words = 0
    while words < pages * 520:  # about 450 words a page: enough to fill them
        for source in sources:
            parts.append(source.read_text(encoding="utf-8"))
            words += len(parts[-1].split())
    rendered = render_pdf("\n\n".join(parts), path, title="Collected reviews", max_pages=pages)
    return rendered.pages


def index_long(pages: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        corpus = Path(folder) / "corpus"
        corpus.mkdir()
        pdf = corpus / "collected-reviews.pdf"
        printed = long_pdf(pdf, pages)
        started = time.perf_counter()
        loaded = load_file(pdf)
        load_seconds = time.perf_counter() - started
        peak_loading = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"{printed} pages, {pdf.stat().st_size / 1e6:.1f} MB; read in {load_seconds:.1f} s "
              f"({1000 * load_seconds / printed:.0f} ms a page), {len(loaded.text.split())} words; "
              f"this process's peak memory {peak_loading:.0f} MB", flush=True)
        command = [sys.executable, "-m", "assistant", "index", "build", "--corpus", str(corpus), "--index",
                   str(Path(folder) / "index")]
        environment = {**os.environ, "PYTHONPATH": str(ROOT)}
        started = time.perf_counter()
        done = subprocess.run(command, env=environment, check=False)
        seconds = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        if done.returncode:
            raise SystemExit(f"the build failed (exit status {done.returncode})")
        print(f"`assistant index build`: {seconds:.1f} s, peak memory {peak:.0f} MB (the build process)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, help="index one generated PDF of this many pages instead")
    options = parser.parse_args()
    if options.pages is not None:
        if options.pages < 3:
            raise SystemExit("--pages: at least 3 (title, contents and body pages)")
        index_long(options.pages)
    else:
        compare()


if __name__ == "__main__":
    main()
