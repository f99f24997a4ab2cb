"""HTML pages: rendered, escaped, with security headers; unknown reviews are 404 pages."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from assistant.api import create_app
from assistant.service import Assistant

HTML = {"accept": "text/html"}


@pytest.fixture
def client(built: Assistant) -> TestClient:
    return TestClient(create_app(built.settings, assistant=built))


def test_chat_page(client: TestClient) -> None:
    response = client.get("/", headers=HTML)
    assert response.status_code == 200
    page = response.text
    assert '<label for="question"' in page and 'maxlength="2000"' in page
    assert "does not replace" in page
    assert "<script src=\"/static/chat.js?v=" in page
    assert "<script>" not in page and "style=" not in page  # nothing inline: the CSP allows neither
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"


def test_static_files_are_local(client: TestClient) -> None:
    for path in ("/static/chat.js", "/static/style.css", "/static/document.js",
                 "/vendor/swagger-ui/swagger-ui-bundle.js"):
        assert client.get(path).status_code == 200, path
    assert "cdn" not in client.get("/docs").text.lower()


def test_source_viewer_anchors_every_chunk(client: TestClient, built: Assistant) -> None:
    doc_id = "2021-telford-wrekin-thematic-briefing-3"
    page = client.get(f"/documents/{doc_id}", headers=HTML).text
    chunks = built.index().document_chunks(doc_id)
    for stored in chunks:
        assert f'id="chunk-{stored.chunk.n}"' in page
    assert "<h2>Theme 6: Lack of family engagement with Early Help &amp; Support, and closure of cases</h2>" in page
    assert "Telford and Wrekin Safeguarding Partnership" in page


def test_review_markup_is_escaped(client: TestClient, built: Assistant, settings, embedder) -> None:  # type: ignore[no-untyped-def]
    from assistant.build import scan_corpus, update_index

    (settings.corpus_dir / "hostile.md").write_text("# Hostile\n\n## Theme 1: Markup\n\nText with "
                                                    "<script>alert('x')</script> and <img src=x onerror=alert(1)>.")
    update_index(files=scan_corpus(settings.corpus_dir), store=built.store, embedder=embedder)
    page = client.get("/documents/hostile", headers=HTML).text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page
    assert "<img src=x" not in page


@pytest.mark.parametrize("doc_id", ["no-such-review", "..%2F..%2Fetc%2Fpasswd", "%2e%2e", "UPPER", "a" * 300])
def test_unknown_review_is_a_404_page(client: TestClient, doc_id: str) -> None:
    response = client.get(f"/documents/{doc_id}", headers=HTML)
    assert response.status_code == 404
    assert "text/html" in response.headers["content-type"]
    assert "Page not found" in response.text and "root:" not in response.text


def test_reviews_list(client: TestClient) -> None:
    page = client.get("/documents", headers=HTML).text
    assert page.count('class="review-card"') == 5
    assert 'href="/documents/2016-luton-child-f-scr-response"' in page
