"""Scanned PDF pages read by OCR: word recall on a scanned seed review, mixed documents page by page, the
OCR marking in the API and the source viewer, and clear reports when Tesseract is missing or fails."""

from __future__ import annotations

import io
import os
import re
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from fpdf import FPDF

from assistant.api import create_app
from assistant.build import BuildOptions, build_index, scan_corpus
from assistant.cli import main
from assistant.config import BUNDLED_MODEL, Settings
from assistant.errors import DocumentUnreadable
from assistant.ingest import chunk_document, load_document
from assistant.ingest.loaders import load_file
from assistant.ingest.ocr import ocr_furniture, ocr_paragraphs, page_ranges
from assistant.params import DEFAULT_CHUNKING, OcrParams
from assistant.service import Assistant

from .helpers import SEED_CORPUS, HashEmbedder
from .scanned import ScanStyle, render_pages, scanned_pdf, word_recall

MISSING = OcrParams(executable="/nonexistent/tesseract")
TEXT_PAGE = ("Finding 1: Early help. The health visitor saw the family weekly and recorded each visit in the "
             "case notes, but no one asked why the children were so often absent from nursery.")
SCANNED_PAGE = ("Finding 2: Housing. The family was evicted in the winter and moved between three temporary "
                "addresses. Professionals did not test what they were told by the parents about their housing, "
                "and the baby's sleeping arrangements were never seen.")
LAST_PAGE = ("Recommendations. The partnership should audit how practitioners record sleeping arrangements "
             "and report back to the board within six months of this review.")


@pytest.fixture
def tesseract() -> None:
    """Tesseract must be installed (`make ocr`): missing, the test is skipped, except under CI where it fails."""
    if shutil.which("tesseract") is None:
        if os.environ.get("CI"):
            pytest.fail("tesseract is not installed; `make test` installs it with `make ocr`")
        pytest.skip("tesseract is not installed (make ocr)")


def mixed_pdf(path: Path) -> Path:
    """Three pages: text, a scanned image of a page (no text layer), text."""
    pdf = FPDF()
    pdf.set_font("Helvetica", "", 11)
    pdf.add_page()
    pdf.multi_cell(0, 6, TEXT_PAGE)
    pdf.add_page()
    picture = io.BytesIO()
    render_pages(SCANNED_PAGE, ScanStyle(dpi=200))[0].save(picture, format="PNG")
    pdf.image(picture, x=0, y=0, w=pdf.w, h=pdf.h)
    pdf.add_page()
    pdf.multi_cell(0, 6, LAST_PAGE)
    pdf.output(str(path))
    return path


def page_text(loaded_text: str, page_starts: list[int], page: int) -> str:
    """The text of one 1-based page."""
    end = page_starts[page] if page < len(page_starts) else len(loaded_text)
    return loaded_text[page_starts[page - 1]:end]


# --- without Tesseract: reported by name with the reason, the rest goes on --------------------------

def test_without_tesseract_a_mixed_pdf_keeps_its_text_pages(tmp_path: Path) -> None:
    loaded = load_file(mixed_pdf(tmp_path / "mixed.pdf"), ocr=MISSING)
    assert loaded.ocr_pages == []
    assert loaded.warnings == ["page 2 is a scanned image and OCR is not available (install tesseract-ocr)"]
    assert len(loaded.page_starts) == 3
    assert "health visitor saw the family" in page_text(loaded.text, loaded.page_starts, 1)
    assert page_text(loaded.text, loaded.page_starts, 2).strip() == ""
    assert "audit how practitioners record" in page_text(loaded.text, loaded.page_starts, 3)


def test_without_tesseract_a_scanned_pdf_is_refused_with_the_reason(tmp_path: Path) -> None:
    path = scanned_pdf("\n\n".join([SCANNED_PAGE] * 30), tmp_path / "scan.pdf", ScanStyle(dpi=100))
    with pytest.raises(DocumentUnreadable) as error:
        load_file(path, ocr=MISSING)
    assert error.value.message == ("scan.pdf: pages 1-3 are scanned images and OCR is not available "
                                   "(install tesseract-ocr)")


def test_build_without_tesseract_names_scanned_files_and_goes_on(tmp_path: Path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    mixed_pdf(corpus / "mixed.pdf")
    scanned_pdf(SCANNED_PAGE, corpus / "scan.pdf", ScanStyle(dpi=100))
    shutil.copy(SEED_CORPUS / "2016-luton-child-f-scr-response.txt", corpus / "luton.txt")
    monkeypatch.setenv("ASSISTANT_CORPUS_DIR", str(corpus))
    monkeypatch.setenv("ASSISTANT_INDEX_DIR", str(tmp_path / "index"))
    monkeypatch.setenv("ASSISTANT_TESSERACT", "/nonexistent/tesseract")
    assert main(["index", "build"]) == 0
    captured = capsys.readouterr()
    assert "added     luton" in captured.out and "added     mixed" in captured.out
    assert "Built: 2 reviews" in captured.out
    assert ("skipped   scan.pdf: page 1 is a scanned image and OCR is not available (install tesseract-ocr)"
            in captured.err)
    assert ("warning   mixed.pdf: page 2 is a scanned image and OCR is not available (install tesseract-ocr)"
            in captured.err)
    assert "Traceback" not in captured.err


def test_tesseract_failures_name_the_pages(tmp_path: Path, tesseract: None) -> None:
    path = mixed_pdf(tmp_path / "mixed.pdf")
    loaded = load_file(path, ocr=OcrParams(language="no-such-language"))
    assert loaded.ocr_pages == []
    assert len(loaded.warnings) == 1
    assert loaded.warnings[0].startswith("page 2 could not be read by OCR: Tesseract failed (")
    assert "audit how practitioners record" in loaded.text
    slow = load_file(path, ocr=OcrParams(page_timeout_seconds=0.001))
    assert slow.warnings == ["page 2 could not be read by OCR: OCR took longer than 0.001 s"]


def test_bad_ocr_resolution_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from assistant.errors import BadRequest

    monkeypatch.setenv("ASSISTANT_OCR_DPI", "5000")
    with pytest.raises(BadRequest, match="ASSISTANT_OCR_DPI must be between 72 and 600, not 5000"):
        Settings.from_env()
    monkeypatch.setenv("ASSISTANT_OCR_DPI", "300")
    monkeypatch.setenv("ASSISTANT_TESSERACT", "/opt/tesseract/bin/tesseract")
    assert Settings.from_env().ocr == OcrParams(executable="/opt/tesseract/bin/tesseract", dpi=300)


# --- the pieces ------------------------------------------------------------------------------------

def test_ocr_output_becomes_paragraphs() -> None:
    raw = ("Finding 2: Housing | .\n\nThe family was evic-\nted in the winter ; and moved _\n"
           "between addresses - rented / owned & shared by 40 %.\n- first item\n- second item\n\n12\n\n. , ~\n\f")
    assert ocr_paragraphs(raw) == ("Finding 2: Housing\n\nThe family was evicted in the winter and moved between "
                                   "addresses - rented / owned & shared by 40 %.\n\n- first item\n\n- second item")


def test_contents_pages_and_running_headers_are_left_out_of_ocr_text() -> None:
    contents = ("Walker Review 2021 OFFICIAL\n\nContents\n\n1. Introduction .......... 3\n"
                "2. Findings . . . . . . 7\n3. Recommendations ____ 12\n\nPage 2 of 9")
    body = ("Walker Review 2021 OFFICIAL\n\nThe school nurse saw the child twice that term and noted the "
            "weight loss.\n\nPage 3 of 9")
    later = "Walker Review 2021 OFFICIAL\n\nNo referral followed.\n\nPage 4 of 9"
    furniture = ocr_furniture([contents, body, later])
    assert "walker review # official" in furniture and "page # of #" in furniture
    assert ocr_paragraphs(contents, furniture) == ""
    assert ocr_paragraphs(body, furniture) == ("The school nurse saw the child twice that term and noted the "
                                               "weight loss.")
    # a line that merely mentions contents, or ends in a number, is body text
    assert ocr_paragraphs("Contents of the home were poor.\n\nShe was seen on day 12", furniture) == (
        "Contents of the home were poor.\n\nShe was seen on day 12")
    assert ocr_furniture([body]) == frozenset()  # one page repeats nothing


def test_page_ranges() -> None:
    assert page_ranges([3]) == "page 3"
    assert page_ranges([1, 2, 3, 4]) == "pages 1-4"
    assert page_ranges([7, 2, 5, 6]) == "pages 2, 5-7"


# --- with Tesseract ------------------------------------------------------------------------------

def test_mixed_pdf_is_read_page_by_page(tmp_path: Path, tesseract: None) -> None:
    path = mixed_pdf(tmp_path / "mixed-review.pdf")
    document = load_document(path)
    assert document.ocr_pages == [2]
    assert document.warnings == []
    assert len(document.page_starts) == 3
    assert "health visitor saw the family" in page_text(document.text, document.page_starts, 1)
    scanned = page_text(document.text, document.page_starts, 2)
    assert word_recall(SCANNED_PAGE, scanned) >= 0.95, scanned
    assert "audit how practitioners record" in page_text(document.text, document.page_starts, 3)
    assert document.page_at(document.text.index("temporary addresses")) == 2
    assert document.page_at(document.text.index("audit how practitioners")) == 3
    chunks = chunk_document(document, DEFAULT_CHUNKING)
    assert any("temporary addresses" in chunk.text for chunk in chunks)


def test_api_and_source_viewer_say_a_review_was_read_by_ocr(tmp_path: Path, tesseract: None) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    mixed_pdf(corpus / "mixed-review.pdf")
    shutil.copy(SEED_CORPUS / "2016-luton-child-f-scr-response.txt", corpus / "luton.txt")
    settings = Settings.from_env(corpus_dir=corpus, index_dir=tmp_path / "index", model="test-hash-embedder")
    embedder = HashEmbedder()
    assistant = Assistant(settings, embedder=embedder)
    build_index(files=scan_corpus(corpus), store=assistant.store, embedder=embedder,
                options=BuildOptions.from_settings(settings))
    client = TestClient(create_app(settings, assistant=assistant))
    listed = {doc["doc_id"]: doc for doc in client.get("/api/documents").json()["documents"]}
    assert listed["mixed-review"]["ocr_pages"] == [2]
    assert listed["luton"]["ocr_pages"] == []
    one = client.get("/api/documents/mixed-review").json()
    assert one["ocr_pages"] == [2]
    assert any("temporary addresses" in chunk["text"] for chunk in one["chunks"])
    html = client.get("/documents/mixed-review").text
    assert re.search(r"This review was read from scanned pages by OCR \(page 2\);\s+check quotations against "
                     r"the original\.", html)
    assert "read from scanned pages by OCR" not in client.get("/documents/luton").text


@pytest.mark.slow
def test_scanned_seed_review_recall(tmp_path: Path, tesseract: None) -> None:
    """The shortest seed review, printed, turned and speckled at 250 dpi: 95 % of its words read back."""
    source = (SEED_CORPUS / "2016-luton-child-f-scr-response.txt").read_text(encoding="utf-8")
    path = scanned_pdf(source, tmp_path / "luton-scan.pdf")
    loaded = load_file(path)
    assert loaded.ocr_pages == list(range(1, len(loaded.page_starts) + 1))
    assert len(loaded.ocr_pages) >= 3
    assert word_recall(source, loaded.text) >= 0.95


@pytest.mark.slow
def test_canonical_question_answered_from_a_scanned_review(tmp_path: Path, tesseract: None) -> None:
    """The scanned variant of the Telford briefing alone, with the real model: the canonical question is found."""
    from assistant.embedding import load_embedder

    name = "2021-telford-wrekin-thematic-briefing-3"
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    scanned_pdf((SEED_CORPUS / f"{name}.txt").read_text(encoding="utf-8"), corpus / f"{name}.pdf")
    shutil.copy(SEED_CORPUS / f"{name}.meta.toml", corpus / f"{name}.meta.toml")
    settings = Settings.from_env(corpus_dir=corpus, index_dir=tmp_path / "index", model=BUNDLED_MODEL)
    assistant = Assistant(settings, embedder=load_embedder(BUNDLED_MODEL))
    report = build_index(files=scan_corpus(corpus), store=assistant.store, embedder=assistant.embedder)
    assert report.skipped == [] and report.documents == 1
    body = TestClient(create_app(settings, assistant=assistant)).post(
        "/api/ask", json={"question": "what should I do if a family won't engage with early help"}).json()
    assert body["found"] is True
    assert any("engage with early help" in citation["text"].lower() and citation["page"] is not None
               for citation in body["citations"][:3])
