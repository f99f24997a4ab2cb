"""Adding, updating and removing reviews: the core, the CLI and the admin API."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from assistant.admin import add_files, remove_documents, safe_file_name
from assistant.api import create_app
from assistant.cli import main
from assistant.config import Settings
from assistant.errors import BadRequest
from assistant.service import Assistant

from .helpers import HashEmbedder

NEW_REVIEW = ("# Learning review: Baby Q\n\n## Finding 1: Safer sleep\n\nThe health visitor gave safer sleep "
              "advice but did not see where the baby slept. Practitioners should ask to see the sleeping "
              "arrangements at every visit.\n")
TOKEN = "correct-horse-battery-staple"


def test_add_copies_into_corpus_and_indexes_only_it(built: Assistant, tmp_path: Path) -> None:
    source = tmp_path / "incoming" / "2024-baby-q-learning-review.md"
    source.parent.mkdir()
    source.write_text(NEW_REVIEW)
    embedder = HashEmbedder()
    report = add_files(settings=built.settings, store=built.store, embedder=embedder, files=[source])
    assert report.added == ["2024-baby-q-learning-review"]
    assert report.embedded_chunks == 1 and report.documents == 6
    assert (built.settings.corpus_dir / source.name).read_text() == NEW_REVIEW
    assert built.search("sleeping arrangements safer sleep baby Q", k=1)[0].doc_id == "2024-baby-q-learning-review"
    # the same file again is indexed once
    again = add_files(settings=built.settings, store=built.store, embedder=embedder, files=[source])
    assert not again.changed and again.embedded_chunks == 0
    # the same content under another name is not indexed twice
    copy = tmp_path / "incoming" / "copy-of-baby-q.md"
    copy.write_text(NEW_REVIEW)
    duplicate = add_files(settings=built.settings, store=built.store, embedder=embedder, files=[copy])
    assert duplicate.skipped == [("copy-of-baby-q.md", "same content as 2024-baby-q-learning-review, already indexed")]
    assert duplicate.documents == 6


def test_remove_keeps_the_file(built: Assistant) -> None:
    report = remove_documents(settings=built.settings, store=built.store, embedder=HashEmbedder(),
                              doc_ids=["2016-luton-child-f-scr-response"])
    assert report.removed == ["2016-luton-child-f-scr-response"] and report.documents == 4
    removed = built.settings.corpus_dir / ".removed"
    assert (removed / "2016-luton-child-f-scr-response.txt").exists()
    assert (removed / "2016-luton-child-f-scr-response.meta.toml").exists()
    assert all(c.doc_id != "2016-luton-child-f-scr-response" for c in built.search("Luton neglect", k=10))


def test_a_review_and_its_sidecar_stay_a_pair_in_removed(built: Assistant) -> None:
    """Removed twice (added back in between): the second pair gets one prefix for both files."""
    corpus, doc_id = built.settings.corpus_dir, "2016-luton-child-f-scr-response"
    text, sidecar = (corpus / f"{doc_id}.txt").read_bytes(), (corpus / f"{doc_id}.meta.toml").read_bytes()
    remove_documents(settings=built.settings, store=built.store, embedder=HashEmbedder(), doc_ids=[doc_id])
    (corpus / f"{doc_id}.txt").write_bytes(text)
    (corpus / f"{doc_id}.meta.toml").write_bytes(sidecar)
    add_files(settings=built.settings, store=built.store, embedder=HashEmbedder(), files=[corpus / f"{doc_id}.txt"])
    remove_documents(settings=built.settings, store=built.store, embedder=HashEmbedder(), doc_ids=[doc_id])
    names = sorted(path.name for path in (corpus / ".removed").iterdir())
    prefixed = [name for name in names if not name.startswith(doc_id)]
    assert len(names) == 4 and len(prefixed) == 2
    assert prefixed[0].removesuffix(f"{doc_id}.meta.toml") == prefixed[1].removesuffix(f"{doc_id}.txt")


@pytest.mark.parametrize(
    ("uploaded", "kind", "expected"),
    [("../../etc/passwd", "text", "passwd.txt"), ("...", "html", "upload.html"), ("notes.md", "text", "notes.md"),
     ("C:\\Users\\x\\Review 2023 (final).PDF", "pdf", "review-2023-final.pdf"), ("tool.exe", "docx", "tool.docx")],
)
def test_uploaded_names_are_never_paths(uploaded: str, kind: str, expected: str) -> None:
    assert safe_file_name(uploaded, kind) == expected


@pytest.fixture
def admin_client(built: Assistant) -> TestClient:
    settings = Settings.from_env(corpus_dir=built.settings.corpus_dir, index_dir=built.settings.index_dir,
                                 model=built.settings.model, admin_token=TOKEN, max_upload_bytes=1_000_000)
    return TestClient(create_app(settings, assistant=Assistant(settings, embedder=built.embedder)))


def auth(token: str = TOKEN) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def test_upload_and_delete(admin_client: TestClient, built: Assistant) -> None:
    files = {"file": ("../../Baby Q review.md", NEW_REVIEW.encode(), "text/markdown")}
    response = admin_client.post("/api/admin/documents", files=files, headers=auth())
    assert response.status_code == 200, response.text
    assert response.json()["added"] == ["baby-q-review"]
    assert (built.settings.corpus_dir / "baby-q-review.md").exists()
    hits = admin_client.get("/api/search", params={"q": "baby sleeping arrangements safer sleep", "k": 3}).json()
    assert hits["results"][0]["doc_id"] == "baby-q-review"
    deleted = admin_client.delete("/api/admin/documents/baby-q-review", headers=auth())
    assert deleted.status_code == 200 and deleted.json()["removed"] == ["baby-q-review"]
    assert (built.settings.corpus_dir / ".removed" / "baby-q-review.md").exists()
    assert admin_client.delete("/api/admin/documents/baby-q-review", headers=auth()).status_code == 404


def zip_bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/document.xml", b"0" * (210 * 1024 * 1024))
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "content", "headers", "status", "message"),
    [
        ("r.md", NEW_REVIEW.encode(), {}, 401, "admin token"),
        ("r.md", NEW_REVIEW.encode(), {"authorization": "Bearer wrong"}, 401, "admin token"),
        ("r.md", NEW_REVIEW.encode(), {"authorization": TOKEN}, 401, "admin token"),
        ("big.txt", b"word " * 250_000, None, 413, "limit"),
        ("report.pdf", b"MZ\x90\x00\x03" + b"\x00" * 2000, None, 415, "not a document"),
        ("photo.docx", b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, None, 415, "not a document"),
        ("broken.pdf", b"%PDF-1.7 garbage", None, 422, "not a readable PDF"),
        ("empty.txt", b"", None, 422, "empty"),
        ("bomb.docx", zip_bomb(), None, 422, "refused"),
    ],
)
def test_bad_uploads_are_refused(admin_client: TestClient, built: Assistant, name: str, content: bytes,
                                 headers: dict[str, str] | None, status: int, message: str) -> None:
    before = sorted(p.name for p in built.settings.corpus_dir.iterdir())
    response = admin_client.post("/api/admin/documents", files={"file": (name, content)},
                                 headers=auth() if headers is None else headers)
    assert response.status_code == status, response.text
    assert message in response.json()["error"]
    assert sorted(p.name for p in built.settings.corpus_dir.iterdir() if p.name != ".incoming") == before
    assert not list(built.settings.corpus_dir.glob(".incoming/*"))


def test_admin_is_disabled_without_a_token(built: Assistant) -> None:
    client = TestClient(create_app(built.settings, assistant=built))
    response = client.post("/api/admin/documents", files={"file": ("r.md", NEW_REVIEW.encode())}, headers=auth())
    assert response.status_code == 404 and "ASSISTANT_ADMIN_TOKEN" in response.json()["error"]
    assert client.get("/admin", headers={"accept": "text/html"}).status_code == 404


def test_admin_page(admin_client: TestClient) -> None:
    page = admin_client.get("/admin", headers={"accept": "text/html"}).text
    assert 'type="password"' in page and 'type="file"' in page
    assert "feedback-table" in page and "audit-table" in page
    listed = admin_client.get("/api/admin/documents", headers=auth()).json()["documents"]
    assert len(listed) == 5 and all(doc["access"] is None for doc in listed)
    assert admin_client.get("/api/admin/documents").status_code == 401  # the list needs the token too


def test_second_writer_gets_409(admin_client: TestClient, built: Assistant) -> None:
    with built.store.writer_lock():
        response = admin_client.post("/api/admin/documents", files={"file": ("r.md", NEW_REVIEW.encode())},
                                     headers=auth())
    assert response.status_code == 409 and "already running" in response.json()["error"]
    assert admin_client.get("/api/health").json()["update_in_progress"] is False


def test_every_status_the_upload_returns_is_in_the_openapi(admin_client: TestClient) -> None:
    files = {"file": ("new.md", NEW_REVIEW.encode(), "text/markdown")}
    bad = admin_client.post("/api/admin/documents", files=files, data={"access": "a,,b\x00"}, headers=auth())
    assert bad.status_code == 400 and bad.json()["error"].startswith("access:")
    documented = admin_client.get("/openapi.json").json()["paths"]["/api/admin/documents"]["post"]["responses"]
    assert {"200", "400", "401", "403", "404", "409", "413", "415", "422", "503"} <= set(documented)


def test_a_reader_refuses_every_change_and_names_the_writer(built: Assistant, monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    settings = Settings.from_env(corpus_dir=built.settings.corpus_dir, index_dir=built.settings.index_dir,
                                 model=built.settings.model, admin_token=TOKEN, role="reader",
                                 writer_url="http://writer.example:8000")
    client = TestClient(create_app(settings, assistant=Assistant(settings, embedder=built.embedder)))
    version = built.store.current_version()
    files = {"file": ("new.md", NEW_REVIEW.encode(), "text/markdown")}
    for response in (client.post("/api/admin/documents", files=files, headers=auth()),
                     client.delete("/api/admin/documents/2016-luton-child-f-scr-response", headers=auth())):
        assert response.status_code == 409
        assert "http://writer.example:8000" in response.json()["error"]
    assert client.get("/api/admin/documents", headers=auth()).status_code == 200  # reading is fine
    assert client.post("/api/ask", json={"question": "what is neglect?"}).status_code == 200
    assert built.store.current_version() == version and not (settings.corpus_dir / "new.md").exists()
    monkeypatch.setenv("ASSISTANT_ROLE", "reader")
    for command in (["index", "build"], ["index", "update"], ["index", "remove", "x"]):
        assert main([*command, "--corpus", str(settings.corpus_dir), "--index", str(settings.index_dir)]) == 5
        assert "only reads the published index" in capsys.readouterr().err
    monkeypatch.setenv("ASSISTANT_ROLE", "boss")
    with pytest.raises(BadRequest, match="ASSISTANT_ROLE"):
        Settings.from_env()
