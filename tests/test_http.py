"""HTTP done properly: no 500 from bad input, bodies refused early, refused admin writes change nothing,
HEAD, Allow, WWW-Authenticate, Cache-Control, readiness."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from assistant.api import create_app
from assistant.auth import SignIn
from assistant.config import Settings
from assistant.http import HttpEdge
from assistant.service import Assistant

from .helpers import HashEmbedder

JSON = {"content-type": "application/json"}
TOKEN = "a-long-admin-token"
REVIEW = b"# Learning review: Baby Q\n\nPractitioners should ask to see where the baby sleeps at every visit.\n"


@pytest.fixture
def client(built: Assistant) -> TestClient:
    return TestClient(create_app(built.settings, assistant=built))


@pytest.fixture
def admin(built: Assistant) -> TestClient:
    settings = Settings.from_env(corpus_dir=built.settings.corpus_dir, index_dir=built.settings.index_dir,
                                 model=built.settings.model, admin_token=TOKEN)
    return TestClient(create_app(settings, assistant=built))


def corpus_files(corpus: Path) -> list[str]:
    return sorted(str(path.relative_to(corpus)) for path in corpus.rglob("*") if path.is_file())


@pytest.mark.parametrize(("method", "url", "body"), [
    ("POST", "/api/ask", '{"question":"neglect","filters":{"theme":["x"]}}'),
    ("GET", "/api/search?q=x&year_from=99999999999999999999", None),
    ("POST", "/api/ask", '{"question":"neglect","filters":{"year_from":1e30}}'),
    ("POST", "/api/ask", '{"question":"neglect","filters":{"year_from":Infinity}}'),
    ("POST", "/api/ask", '{"question":"neglect","filters":{"year_from":true}}'),
    ("POST", "/api/ask", '{"question":"\\udfff"}'),
    ("POST", "/api/ask", '{"question":"neglect","filters":{"area":"\\udfff"}}'),
    ("POST", "/api/export", '{"chunk_ids":["a#99999999999999999999999"],"format":"md"}'),
    ("POST", "/api/export", '{"chunk_ids":["\\udfff#1"],"format":"md"}'),
    ("POST", "/api/ask", '{"question":"neglect","k":"5"}'),
    ("POST", "/api/ask", '{"question":"neglect","k":true}'),
    ("POST", "/api/ask", '{"question":"neglect","k":5.0}'),
])
def test_reproductions_give_a_4xx_json_error(client: TestClient, method: str, url: str, body: str | None) -> None:
    response = client.request(method, url, content=body, headers=JSON if body else {})
    assert 400 <= response.status_code < 500
    payload = response.json()
    assert payload["status"] == response.status_code and payload["error"]
    assert payload["request_id"] == response.headers["x-request-id"]
    assert response.headers["x-content-type-options"] == "nosniff"


class BrokenEmbedder(HashEmbedder):
    def encode(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        raise RuntimeError("a bug")


def test_a_server_fault_is_json_with_headers_and_the_connection_stays_usable(built: Assistant) -> None:
    broken = Assistant(built.settings, embedder=BrokenEmbedder())
    client = TestClient(create_app(built.settings, assistant=broken), raise_server_exceptions=False)
    response = client.post("/api/ask", json={"question": "neglect of dental health"})
    assert response.status_code == 500
    assert response.json()["request_id"] == response.headers["x-request-id"]
    assert "request id" in response.json()["error"] and "a bug" not in response.text
    assert response.headers["content-security-policy"].startswith("default-src 'self'")
    assert client.get("/api/documents").status_code == 200


def test_head_allow_and_cache_control(client: TestClient) -> None:
    for path in ("/", "/api/health"):
        head = client.head(path)
        assert head.status_code == 200 and head.content == b""
    assert client.delete("/api/health").headers["allow"] == "GET, HEAD"
    assert client.post("/api/ask", json={"question": "neglect"}).headers["cache-control"] == "no-store"
    assert client.get("/api/search", params={"q": "neglect"}).headers["cache-control"] == "no-store"
    page = client.get("/", headers={"accept": "text/html"}).text
    stylesheet = page.split('href="/static/style.css')[1].split('"')[0]
    assert "immutable" in client.get("/static/style.css" + stylesheet).headers["cache-control"]


def test_large_bodies_are_refused(client: TestClient) -> None:
    question = {"question": "neglect", "history": [{"question": "q", "answer": "a" * 20_000}] * 20}
    response = client.post("/api/ask", json=question)  # about 400 KB: within the limit
    assert response.status_code == 200
    huge = b'{"question": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    refused = client.post("/api/ask", content=huge, headers=JSON)
    assert refused.status_code == 413 and "limit" in refused.json()["error"]


def edge_refuses_without_reading(headers: list[tuple[bytes, bytes]], path: str, limit: int) -> int:
    """Run a request through the edge alone; fail if anything reads its body. Returns the status sent."""
    sent: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("the app must not be reached")

    async def receive() -> dict[str, Any]:
        raise AssertionError("the body must not be read")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    sign_in = SignIn(Settings(admin_token="secret"))
    edge = HttpEdge(app, limit_for=lambda _: limit, gate=sign_in.check)
    asyncio.run(edge({"type": "http", "method": "POST", "path": path, "headers": headers,
                      "client": ("127.0.0.1", 5000)}, receive, send))
    return int(sent[0]["status"])


def test_refusals_happen_before_the_body_is_read() -> None:
    assert edge_refuses_without_reading([(b"content-length", b"300000000")], "/api/admin/documents", 10**9) == 401
    assert edge_refuses_without_reading([(b"content-length", b"5000000")], "/api/ask", 1024 * 1024) == 413


def test_upload_without_a_token_changes_nothing(admin: TestClient, built: Assistant) -> None:
    before = corpus_files(built.settings.corpus_dir)
    response = admin.post("/api/admin/documents", files={"file": ("big.md", REVIEW * 1000)})
    assert response.status_code == 401 and response.headers["www-authenticate"].startswith("Bearer")
    assert corpus_files(built.settings.corpus_dir) == before


def test_refused_admin_writes_change_nothing(admin: TestClient, built: Assistant) -> None:
    corpus = built.settings.corpus_dir
    before = corpus_files(corpus)
    auth = {"authorization": f"Bearer {TOKEN}"}
    with built.store.writer_lock():
        upload = admin.post("/api/admin/documents", files={"file": ("baby-q.md", REVIEW)}, headers=auth)
        delete = admin.delete("/api/admin/documents/2016-luton-child-f-scr-response", headers=auth)
    assert upload.status_code == 409 and delete.status_code == 409
    assert corpus_files(corpus) == before


def test_a_duplicate_upload_is_not_kept(admin: TestClient, built: Assistant) -> None:
    corpus = built.settings.corpus_dir
    auth = {"authorization": f"Bearer {TOKEN}"}
    first = admin.post("/api/admin/documents", files={"file": ("baby-q.md", REVIEW)}, headers=auth)
    assert first.json()["added"] == ["baby-q"]
    again = admin.post("/api/admin/documents", files={"file": ("copy-of-baby-q.md", REVIEW)}, headers=auth)
    assert again.status_code == 200 and "same content as baby-q" in again.json()["skipped"][0]["reason"]
    assert (corpus / "baby-q.md").exists() and not (corpus / "copy-of-baby-q.md").exists()


def test_ready_only_once_the_model_and_index_are_loaded(built: Assistant) -> None:
    cold = Assistant(built.settings)  # nothing loaded yet (the model would load on first use)
    client = TestClient(create_app(built.settings, assistant=cold))
    assert client.get("/api/ready").status_code == 503
    assert client.get("/api/health").json()["status"] == "starting"
    warm = TestClient(create_app(built.settings, assistant=built))
    built.index()
    assert warm.get("/api/ready").json() == {"ready": True}
    assert warm.get("/api/health").json()["status"] == "ok"


def test_links_never_come_from_the_host_header(client: TestClient) -> None:
    hit = client.get("/api/search", params={"q": "neglect", "k": 1}, headers={"host": "evil.example"}).json()
    assert "evil.example" not in hit["results"][0]["reference"]
    assert "http://127.0.0.1:8000/documents/" in hit["results"][0]["reference"]


def test_static_errors_are_not_cached_and_say_allow(client: TestClient) -> None:
    missing = client.get("/static/nothing-here.js")
    assert missing.status_code == 404 and missing.headers["cache-control"] == "no-store"
    assert client.post("/static/style.css").headers["allow"] == "GET, HEAD"
