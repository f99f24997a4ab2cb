"""OCR quality on scanned variants of the seed reviews: word recall per review and seconds per page; with
--questions, also each review's first benchmark question answered from an index of the scanned variants.

    python benchmarks/ocr_quality.py               # recall and speed per review
    python benchmarks/ocr_quality.py --questions   # also questions answered from the scans (real model)
    python benchmarks/ocr_quality.py --dpi 200     # scans made at another resolution

Each review is printed on A4 pages as images (DejaVu Sans, 11 pt), turned by 0.4-0.8 degrees and speckled
(tests/scanned.py), saved as a PDF with no text layer and read back through the loader. Word recall is the
share of the text version's word occurrences found in the text read back, after lower-casing and taking off
punctuation. Pages are read one after another on one thread.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from common import ROOT, fresh_assistant, load_questions, normalise, rank_of

from assistant.ingest.loaders import load_file
from assistant.ingest.ocr import find_tesseract
from assistant.params import DEFAULT_OCR
from tests.scanned import ScanStyle, scanned_pdf, word_recall

CORPUS = ROOT / "corpus"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dpi", type=int, default=ScanStyle().dpi, help="resolution the scans are made at")
    parser.add_argument("--questions", action="store_true", help="also ask each review's first question")
    options = parser.parse_args()
    if find_tesseract(DEFAULT_OCR) is None:
        raise SystemExit("tesseract is not installed: run `make ocr`")
    style = ScanStyle(dpi=options.dpi)
    print(f"scans: {asdict(style)}\nocr: {asdict(DEFAULT_OCR)}\n")
    with tempfile.TemporaryDirectory() as folder:
        scans = Path(folder) / "corpus"
        scans.mkdir()
        print(f"{'review':<48} {'pages':>5} {'recall':>7} {'s/page':>7}")
        recalls, pages, seconds = [], 0, 0.0
        for source in sorted(CORPUS.glob("*.txt")):
            text = source.read_text(encoding="utf-8")
            pdf = scanned_pdf(text, scans / f"{source.stem}.pdf", style)
            shutil.copy(source.with_name(source.stem + ".meta.toml"), scans)
            started = time.perf_counter()
            loaded = load_file(pdf)
            elapsed = time.perf_counter() - started
            recall = word_recall(text, loaded.text)
            recalls.append(recall)
            pages += len(loaded.ocr_pages)
            seconds += elapsed
            print(f"{source.stem:<48} {len(loaded.ocr_pages):>5} {recall:>7.3f} "
                  f"{elapsed / max(len(loaded.ocr_pages), 1):>7.2f}")
        print(f"{'all':<48} {pages:>5} {min(recalls):>7.3f} {seconds / max(pages, 1):>7.2f}"
              "   (recall: the lowest)")
        if options.questions:
            ask_each_review(scans, Path(folder) / "index")


def ask_each_review(scans: Path, index_dir: Path) -> None:
    """Each review's first benchmark question (the first whose expected phrase is in its text), asked of
    an index of the five scanned variants built with the real model."""
    assistant = fresh_assistant(index_dir, scans)
    questions = load_questions()["questions"]
    print(f"\n{'review':<48} found  cited  question")
    for source in sorted(CORPUS.glob("*.txt")):
        text = normalise(source.read_text(encoding="utf-8"))
        item = next((q for q in questions if isinstance(q["expect"], str) and normalise(q["expect"]) in text), None)
        if item is None:
            print(f"{source.stem:<48} (no question in benchmarks/questions.json)")
            continue
        answer = assistant.ask(item["question"])
        rank = rank_of(item["expect"], [citation.text for citation in answer.citations])
        cited = f"#{rank}" if rank else "no"
        print(f"{source.stem:<48} {str(answer.found):<6} {cited:<6} {item['question']}")


if __name__ == "__main__":
    main()
