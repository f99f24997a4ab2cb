"""What a hostile tester found, each reproduced first: control characters in review text, HTML and links in a
Markdown export, an upload read twice (the first time without the configured settings), no time budget or page
cap for a PDF upload. (The sign-in challenge of a 401 is in test_access.py, the pairs in .removed/ and the
upload's OpenAPI in test_admin.py, the cache of a killed build in test_store.py.)"""

from __future__ import annotations

import io
import json
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import docx
import httpx
import pypdfium2 as pdfium
import pytest
from fastapi.testclient import TestClient
from fpdf import FPDF

from assistant.api import create_app
from assistant.build import build_index, scan_corpus
from assistant.cli import main
from assistant.config import Settings
from assistant.errors import BadRequest, DocumentUnreadable
from assistant.ingest.documents import load_document
from assistant.ingest.loaders import LoadedText, without_control_characters
from assistant.params import OcrParams
from assistant.recovery import not_indexed
from assistant.service import Assistant

from .helpers import ROOT, SEED_CORPUS, HashEmbedder
from .scanned import scanned_pdf

HOSTILE = ("# Review of Hostile Lane\n\n"
           "## Theme 1: <b>Bold</b> [click](javascript:alert(1))\n\n"
           "The\x01 family\x02 moved\x0b house\x1b[31m often and the school\x0c was not told\x07 about it. "
           "<script>alert(1)</script> <iframe src=javascript:alert(2)></iframe> [x](javascript:alert(3)) "
           "![img](http://example.org/a.png) &lt;tag&gt; and a plain & sign stayed.\n")


@pytest.fixture
def hostile(tmp_path: Path) -> Assistant:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "hostile-lane.txt").write_text(HOSTILE, encoding="utf-8")
    settings = Settings.from_env(corpus_dir=corpus, index_dir=tmp_path / "index", model="test-hash-embedder")
    assistant = Assistant(settings, embedder=HashEmbedder())
    build_index(files=scan_corpus(corpus), store=assistant.store, embedder=assistant.embedder)
    return assistant


def test_control_characters_go_at_loading(tmp_path: Path) -> None:
    path = tmp_path / "hostile-lane.txt"
    path.write_text(HOSTILE, encoding="utf-8")
    text = load_document(path).text
    assert not any(ord(char) < 32 and char not in "\t\n\r" for char in text)
    assert "The family moved house[31m often" in text


def test_page_starts_move_back_with_the_characters_removed() -> None:
    loaded = LoadedText("ab\x01c\x02\x03de", page_starts=[0, 3, 4, 7])
    cleaned = without_control_characters(loaded)
    assert cleaned.text == "abcde"
    assert cleaned.page_starts == [0, 2, 3, 4]
    assert [cleaned.text[start:start + 1] for start in cleaned.page_starts] == ["a", "c", "d", "e"]


def test_every_export_of_a_hostile_passage_works_and_markdown_runs_nothing(hostile: Assistant) -> None:
    client = TestClient(create_app(hostile.settings, assistant=hostile))
    [passage] = [c for c in client.get("/api/search", params={"q": "family moved house school"}).json()["results"]
                 if "script" in c["text"]][:1]
    for fmt in ("docx", "md", "csv"):
        response = client.post("/api/export", json={"chunk_ids": [passage["chunk_id"]], "format": fmt})
        assert response.status_code == 200, fmt
    document = docx.Document(io.BytesIO(client.post("/api/export", json={
        "chunk_ids": [passage["chunk_id"]], "format": "docx"}).content))
    assert any("<script>alert(1)</script>" in p.text for p in document.paragraphs)  # shown as written
    markdown = client.post("/api/export", json={"chunk_ids": [passage["chunk_id"]], "format": "md"}).text
    assert not re.search(r"(?<!\\)[<\[]|(?<!\\)&lt;", markdown)  # no raw HTML, link, image or reference
    assert r"\<script\>alert(1)\</script\>" in markdown and r"\[x\](javascript:alert(3))" in markdown
    assert "a plain & sign stayed" in markdown


SCANNED_TEXT = ("Finding 2: Housing. The family was evicted in the winter and moved between three temporary "
                "addresses. Professionals did not test what they were told by the parents about their housing. ") * 40


def admin_app(tmp_path: Path, **overrides: object) -> tuple[TestClient, Settings]:
    corpus = tmp_path / "corpus"
    shutil.copytree(SEED_CORPUS, corpus)
    settings = Settings.from_env(corpus_dir=corpus, index_dir=tmp_path / "index", model="test-hash-embedder",
                                 admin_token="hardening-token", **overrides)
    assistant = Assistant(settings, embedder=HashEmbedder())
    build_index(files=scan_corpus(corpus), store=assistant.store, embedder=assistant.embedder)
    return TestClient(create_app(settings, assistant=assistant)), settings


def upload(client: TestClient, path: Path) -> httpx.Response:
    return client.post("/api/admin/documents", files={"file": (path.name, path.read_bytes(), "application/pdf")},
                       headers={"authorization": "Bearer hardening-token"})


def corpus_files(settings: Settings) -> list[str]:
    return sorted(str(path.relative_to(settings.corpus_dir)) for path in settings.corpus_dir.rglob("*")
                  if path.is_file())


@pytest.mark.slow  # Tesseract reads the pages
def test_an_upload_is_read_once_with_the_configured_tesseract(tmp_path: Path) -> None:
    if shutil.which("tesseract") is None:
        pytest.skip("tesseract is not installed (make ocr)")
    runs = tmp_path / "runs.log"
    wrapper = tmp_path / "bin" / "my-tesseract"  # not on PATH: only the configured setting finds it
    wrapper.parent.mkdir()
    wrapper.write_text(f'#!/bin/sh\necho run >> "{runs}"\nexec "{shutil.which("tesseract")}" "$@"\n')
    wrapper.chmod(0o755)
    client, settings = admin_app(tmp_path, ocr=OcrParams(executable=str(wrapper)))
    scan = scanned_pdf(SCANNED_TEXT, tmp_path / "scanned-housing-review.pdf")
    pages = len(pdfium.PdfDocument(scan.read_bytes()))
    assert pages >= 2
    response = upload(client, scan)
    assert response.status_code == 200, response.text
    assert runs.read_text().count("run") == pages  # each page read once, by the configured program


@pytest.mark.slow
def test_an_upload_whose_ocr_runs_past_its_budget_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    if shutil.which("tesseract") is None:
        pytest.skip("tesseract is not installed (make ocr)")
    client, settings = admin_app(tmp_path, upload_ocr_seconds=0.01)
    before = corpus_files(settings)
    started = time.monotonic()
    response = upload(client, scanned_pdf(SCANNED_TEXT, tmp_path / "slow-scan.pdf"))
    assert response.status_code == 422 and "longer than the 0.01 s an upload may take" in response.json()["error"]
    assert time.monotonic() - started < 30
    assert corpus_files(settings) == before


def test_a_pdf_with_too_many_pages_is_refused_before_its_pages_are_read(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    pdf = FPDF()
    pdf.set_font("Helvetica", "", 11)
    for line in ("The health visitor recorded each visit.", "Nobody asked why the children missed nursery.",
                 "The family moved three times that winter.", "The school raised concerns in March.",
                 "Recommendations followed in the autumn."):
        pdf.add_page()
        pdf.multi_cell(0, 6, line)
    path = tmp_path / "five-pages.pdf"
    pdf.output(str(path))
    monkeypatch.setenv("ASSISTANT_MAX_PDF_PAGES", "3")
    settings = Settings.from_env()
    assert settings.ocr.max_pdf_pages == 3
    with pytest.raises(DocumentUnreadable, match="5 pages, more than the 3 a review may have"):
        load_document(path, ocr=settings.ocr)
    assert "Recommendations followed" in load_document(path, ocr=OcrParams(max_pdf_pages=5)).text
    monkeypatch.setenv("ASSISTANT_MAX_PDF_PAGES", "0")
    with pytest.raises(BadRequest, match="ASSISTANT_MAX_PDF_PAGES must be at least 1"):
        Settings.from_env()


KILLED_UPLOAD = """
import sys, time
from pathlib import Path
from assistant.admin import accept_upload
from assistant.cli import main
from assistant.config import Settings
from assistant.service import Assistant
from tests.helpers import HashEmbedder

class Slow(HashEmbedder):
    def encode(self, texts, *, batch_size=32):
        time.sleep(600)  # killed here: the review is in corpus/, the index does not hold it

settings = Settings.from_env(corpus_dir=Path(sys.argv[1]), index_dir=Path(sys.argv[2]), model="test-hash-embedder")
accept_upload(settings=settings, store=Assistant(settings).store, embedder=Slow(),
              uploaded_name="Killed upload review.md", data=sys.argv[3].encode())
"""


def test_a_server_killed_during_an_upload_leaves_nothing_unsettled(tmp_path: Path) -> None:
    client, settings = admin_app(tmp_path)
    before = corpus_files(settings)
    review = "# Killed upload review\n\n" + "The health visitor saw the baby twice before the injury. " * 12
    process = subprocess.Popen([sys.executable, "-c", KILLED_UPLOAD, str(settings.corpus_dir),
                                str(settings.index_dir), review], cwd=ROOT)
    placed = settings.corpus_dir / "killed-upload-review.md"
    deadline = time.monotonic() + 60
    while not placed.exists():
        assert process.poll() is None and time.monotonic() < deadline, "the upload never reached the corpus"
        time.sleep(0.05)
    time.sleep(0.3)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert placed.exists() and list((settings.corpus_dir / ".incoming").iterdir())  # as the kill left it
    assistant = Assistant(settings, embedder=HashEmbedder())
    assert not_indexed(settings.corpus_dir, assistant.indexed_hashes())["new"] == ["killed-upload-review.md"]
    said = assistant.settle_corpus()
    assert any("rolled back (killed-upload-review.md)" in line for line in said)
    assert corpus_files(settings) == before  # the review the admin saw fail is not left to be published later
    assert not_indexed(settings.corpus_dir, assistant.indexed_hashes()) == {"new": [], "changed": [], "missing": []}
    assert assistant.settle_corpus() == []


def test_a_change_published_before_the_kill_is_kept_and_status_lists_unindexed_files(tmp_path: Path,
                                                                                    capsys) -> None:  # type: ignore[no-untyped-def]
    client, settings = admin_app(tmp_path)
    response = client.post("/api/admin/documents", headers={"authorization": "Bearer hardening-token"},
                           files={"file": ("kept.md", b"# Kept review\n\n" + b"The school nurse noted it. " * 20,
                                           "text/markdown")})
    assert response.status_code == 200
    # a journal such as a process killed just after publishing leaves (pid 2**22 + 1 runs nothing here)
    journal = settings.corpus_dir / ".incoming" / f"change-{2**22 + 1}-abcdef01.json"
    journal.write_text(json.dumps({"created": [str(settings.corpus_dir / "kept.md")], "moved": []}))
    (settings.corpus_dir / "dropped-in.txt").write_text("A review copied into the folder by hand. " * 10)
    assistant = Assistant(settings, embedder=HashEmbedder())
    assert any("published before it stopped: kept" in line for line in assistant.settle_corpus())
    assert (settings.corpus_dir / "kept.md").exists() and not journal.exists()
    assert main(["index", "status", "--json", "--corpus", str(settings.corpus_dir), "--index",
                 str(settings.index_dir), "--model", "test-hash-embedder"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["corpus_not_indexed"] == {"new": ["dropped-in.txt"], "changed": [], "missing": []}
