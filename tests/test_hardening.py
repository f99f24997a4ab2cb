"""What a hostile tester found, each reproduced first: control characters in review text, HTML and links in a
Markdown export, the sign-in challenge of a 401 (see test_access.py)."""

from __future__ import annotations

import io
import re
from pathlib import Path

import docx
import pytest
from fastapi.testclient import TestClient

from assistant.api import create_app
from assistant.build import build_index, scan_corpus
from assistant.config import Settings
from assistant.ingest.documents import load_document
from assistant.ingest.loaders import LoadedText, without_control_characters
from assistant.service import Assistant

from .helpers import HashEmbedder

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
