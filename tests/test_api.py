"""The JSON API, in process: answers, documents, every bad input as a 4xx JSON error, headers."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from assistant.api import create_app
from assistant.service import Assistant


@pytest.fixture
def client(built: Assistant) -> TestClient:
    return TestClient(create_app(built.settings, assistant=built))


def test_health(client: TestClient) -> None:
    body = client.get("/api/health").json()
    assert body["status"] == "ok" and body["documents"] == 5 and body["chunks"] > 50
    assert body["model"] == "test-hash-embedder"


def test_ask_returns_the_contract_shape(client: TestClient) -> None:
    response = client.post("/api/ask", json={"question": "Graded Care Profile to identify neglect", "k": 3})
    assert response.status_code == 200
    body = response.json()
    assert body["found"] is True and "[1]" in body["answer"]
    citation = body["citations"][0]
    assert set(citation) >= {"n", "doc_id", "chunk_id", "title", "area", "year", "section", "page", "text",
                             "score", "url"}
    assert len(body["citations"]) <= 3


def test_ask_uses_history_for_a_followup(client: TestClient) -> None:
    response = client.post("/api/ask", json={
        "question": "what tool are they using for it?",
        "history": [{"question": "what did the Luton review say about neglect?", "answer": "..."}],
    })
    body = response.json()
    assert body["searched"].startswith("what did the Luton review say about neglect?")
    assert any(c["area"] == "Luton" for c in body["citations"][:3])


def test_search(client: TestClient) -> None:
    body = client.get("/api/search", params={"q": "professional curiosity", "k": 4}).json()
    assert body["query"] == "professional curiosity"
    assert len(body["results"]) == 4
    assert body["results"][0]["n"] == 1


def test_documents(client: TestClient) -> None:
    documents = client.get("/api/documents").json()["documents"]
    assert len(documents) == 5
    one = client.get("/api/documents/2021-telford-wrekin-thematic-briefing-3").json()
    assert one["area"] == "Telford and Wrekin" and one["chunks"][0]["n"] == 0


@pytest.mark.parametrize(
    ("request_kwargs", "status"),
    [
        ({"json": {"question": ""}}, 400),
        ({"json": {"question": "   "}}, 400),
        ({"json": {"question": "x" * 2001}}, 400),
        ({"json": {}}, 422),
        ({"json": {"question": 12}}, 422),
        ({"json": {"question": "neglect", "k": 0}}, 422),
        ({"json": {"question": "neglect", "k": 51}}, 422),
        ({"json": {"question": "neglect", "k": "ten"}}, 422),
        ({"json": {"question": "neglect", "history": "not a list"}}, 422),
        ({"json": {"question": "neglect", "history": [{"answer": "no question"}]}}, 422),
        ({"json": {"question": "neglect", "history": [["a", "b"]]}}, 422),
        ({"content": b"{not json", "headers": {"content-type": "application/json"}}, 400),
        ({"content": b"question=hi", "headers": {"content-type": "application/x-www-form-urlencoded"}}, 422),
    ],
)
def test_bad_ask_requests(client: TestClient, request_kwargs: dict, status: int) -> None:  # type: ignore[type-arg]
    response = client.post("/api/ask", **request_kwargs)
    assert response.status_code == status
    body = response.json()
    assert body["status"] == status and isinstance(body["error"], str) and body["error"]


@pytest.mark.parametrize(
    ("params", "status"),
    [({"q": ""}, 400), ({}, 400), ({"q": "x", "theme": "nope"}, 400),
     ({"q": "x", "year_from": 2022, "year_to": 2020}, 400), ({"q": "neglect", "k": 0}, 422),
     ({"q": "neglect", "k": "x"}, 422), ({"q": "y" * 3000}, 422), ({"q": "x", "year_from": "soon"}, 422),
     ({"q": "x", "year_from": "99999999999999999999"}, 422)],
)
def test_bad_search_requests(client: TestClient, params: dict, status: int) -> None:  # type: ignore[type-arg]
    response = client.get("/api/search", params=params)
    assert response.status_code == status
    assert response.json()["status"] == status


@pytest.mark.parametrize("doc_id", ["no-such-review", "..%2F..%2Fetc%2Fpasswd", "%2e%2e", "a" * 300])
def test_unknown_or_path_like_documents_are_404(client: TestClient, doc_id: str) -> None:
    response = client.get(f"/api/documents/{doc_id}")
    assert response.status_code in (400, 404)
    assert "root:" not in response.text


def test_unknown_route_and_method(client: TestClient) -> None:
    missing = client.get("/api/nothing")
    assert missing.json() == {"error": "not found", "status": 404, "request_id": missing.headers["x-request-id"]}
    wrong = client.get("/api/ask")
    assert wrong.status_code == 405 and wrong.headers["allow"] == "POST"
    assert client.delete("/api/health").headers["allow"] == "GET, HEAD"


def test_security_headers(client: TestClient) -> None:
    headers = client.get("/api/health").headers
    assert "default-src 'self'" in headers["content-security-policy"]
    assert "script-src 'self'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"


def test_missing_index_is_a_clear_503(tmp_path, embedder) -> None:  # type: ignore[no-untyped-def]
    from assistant.config import Settings

    settings = Settings.from_env(index_dir=tmp_path / "none", corpus_dir=tmp_path)
    client = TestClient(create_app(settings, assistant=Assistant(settings, embedder=embedder)))
    response = client.post("/api/ask", json={"question": "neglect"})
    assert response.status_code == 503
    assert "assistant index build" in response.json()["error"]
    assert client.get("/api/health").status_code == 503
