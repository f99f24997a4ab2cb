"""Sign-in through a proxy and restricted reviews: walk every route as an outsider, a member and an admin."""

from __future__ import annotations

import asyncio
import json
import shutil
import threading
import time
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

from assistant.api import create_app
from assistant.build import build_index, scan_corpus
from assistant.config import Settings
from assistant.errors import BadRequest, DocumentUnreadable
from assistant.http import SERVER_OPTIONS
from assistant.ingest.documents import load_document
from assistant.service import Assistant

from .helpers import SEED_CORPUS, HashEmbedder, free_port

# Two fictional unpublished documents: one for the review panel, one for admins only.
PANEL_REVIEW = """# Rapid review: the Harrowgate canal boat family (draft)

## What happened
A family of four lived on a narrowboat moored along the Northmarsh towpath. The boat moved every fourteen
days, so health visiting lost track of the youngest child twice. Nobody held a single chronology.

## Learning
Practitioners should record the mooring, not only the postcode, when a family lives afloat, and the
health visitor should pass the record on each time the boat moves to a new stretch of the canal.
"""
PANEL_SIDECAR = """title = "Rapid review: the Harrowgate canal boat family"
area = "Northmarsh"
year = 2026
review_type = "Rapid review"
fictional = true
access = ["review-panel", "lscp-board"]
"""
ADMIN_REVIEW = """# Draft action plan following the Quillfeather review

## Actions
The partnership will audit the Quillfeather escalation log every quarter and report to the board whether
each disagreement between agencies was resolved within twenty working days.
"""
ADMIN_SIDECAR = """title = "Draft action plan: Quillfeather"
area = "Eastwold"
year = 2026
fictional = true
access = "restricted"
"""
SECRETS = ("harrowgate", "narrowboat", "northmarsh", "quillfeather", "eastwold", "canal boat")
PANEL_ID, ADMIN_ID = "panel-rapid-review", "admin-action-plan"


def write_restricted(corpus: Path) -> None:
    (corpus / f"{PANEL_ID}.md").write_text(PANEL_REVIEW, encoding="utf-8")
    (corpus / f"{PANEL_ID}.meta.toml").write_text(PANEL_SIDECAR, encoding="utf-8")
    (corpus / f"{ADMIN_ID}.md").write_text(ADMIN_REVIEW, encoding="utf-8")
    (corpus / f"{ADMIN_ID}.meta.toml").write_text(ADMIN_SIDECAR, encoding="utf-8")


def built_assistant(root: Path, *, restricted: bool) -> Assistant:
    corpus = root / "corpus"
    shutil.copytree(SEED_CORPUS, corpus)
    if restricted:
        write_restricted(corpus)
    settings = Settings.from_env(corpus_dir=corpus, index_dir=root / "index", model="test-hash-embedder",
                                 auth="proxy", admin_groups=("safeguarding-admins",))
    embedder = HashEmbedder()
    assistant = Assistant(settings, embedder=embedder)
    build_index(files=scan_corpus(corpus), store=assistant.store, embedder=embedder)
    return assistant


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    return built_assistant(tmp_path_factory.mktemp("restricted"), restricted=True)


@pytest.fixture(scope="module")
def public_only(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    return built_assistant(tmp_path_factory.mktemp("public"), restricted=False)


def proxied(assistant: Assistant, user: str | None, groups: str = "") -> TestClient:
    """A client that comes through the trusted proxy as `user` (no user: the proxy sent no identity)."""
    headers = {"X-Forwarded-User": user, "X-Forwarded-Groups": groups} if user else {}
    return TestClient(create_app(assistant.settings, assistant=assistant), client=("127.0.0.1", 40000),
                      headers=headers)


def every_route(client: TestClient) -> dict[str, tuple[int, str]]:
    """Status and body of every route that shows reviews, asked about the restricted material."""
    calls = {
        "documents": client.get("/api/documents"),
        "panel document": client.get(f"/api/documents/{PANEL_ID}"),
        "panel viewer": client.get(f"/documents/{PANEL_ID}", headers={"accept": "text/html"}),
        "admin document": client.get(f"/api/documents/{ADMIN_ID}"),
        "search": client.get("/api/search", params={"q": "narrowboat family moored on the canal towpath", "k": 5}),
        "search quillfeather": client.get("/api/search", params={"q": "Quillfeather escalation log audit"}),
        "ask": client.post("/api/ask", json={"question": "What should we record when a family lives on a canal "
                                                          "boat that keeps moving its mooring?"}),
        "follow-up": client.post("/api/ask", json={
            "question": "And who passes the record on?",
            "history": [{"question": "families living on narrowboats", "answer": ""}]}),
        "ask escalation": client.post("/api/ask", json={"question": "How often is the escalation log audited?"}),
        "facets": client.get("/api/facets"),
        "themes": client.get("/api/themes"),
        "health": client.get("/api/health"),
        "export": client.post("/api/export", json={"chunk_ids": [f"{PANEL_ID}#1"], "format": "md"}),
        "chat page": client.get("/", headers={"accept": "text/html"}),
        "reviews page": client.get("/documents", headers={"accept": "text/html"}),
        "extracts page": client.get("/extracts", headers={"accept": "text/html"}),
        "themes page": client.get("/themes", headers={"accept": "text/html"}),
    }
    for theme in client.get("/api/themes").json()["themes"]:
        calls[f"theme {theme['id']}"] = client.get(f"/api/themes/{theme['id']}")
    return {name: (response.status_code, shown(response)) for name, response in calls.items()}


def shown(response: httpx.Response) -> str:
    """What a response tells, leaving out the person's own words echoed back (the query, the question)."""
    if response.status_code != 200 or not response.headers["content-type"].startswith("application/json"):
        return response.text
    body = response.json()
    for echoed in ("query", "question", "searched", "follows"):
        body.pop(echoed, None)
    return json.dumps(body)


def leaks(body: str) -> list[str]:
    lowered = body.lower()
    return [secret for secret in (*SECRETS, PANEL_ID, ADMIN_ID) if secret in lowered]


def test_an_outsider_sees_nothing_of_a_restricted_review_on_any_route(library: Assistant) -> None:
    outsider = proxied(library, "olivia.social-worker", "children-social-care")
    for name, (status, body) in every_route(outsider).items():
        if name in ("panel document", "panel viewer", "admin document"):
            assert status == 404, name
            continue
        if name == "export":
            assert status == 404, name
            continue
        assert status == 200, (name, body[:300])
        assert leaks(body) == [], name


def test_a_restricted_id_is_a_plain_404(library: Assistant) -> None:
    outsider = proxied(library, "olivia", "")
    hidden = outsider.get(f"/api/documents/{PANEL_ID}").json()
    unknown = outsider.get("/api/documents/no-such-review").json()
    assert hidden["error"].replace(PANEL_ID, "X") == unknown["error"].replace("no-such-review", "X")
    refused = outsider.post("/api/export", json={"chunk_ids": [f"{PANEL_ID}#1"], "format": "md"}).json()
    assert "harrowgate" not in refused["error"].lower()


def test_restricted_reviews_do_not_starve_an_outsider_of_results(library: Assistant) -> None:
    outsider = proxied(library, "olivia", "")
    results = outsider.get("/api/search", params={"q": "family moving home health visitor record", "k": 8}).json()
    assert len(results["results"]) == 8  # filled from what the outsider may read, not cut after filtering


def test_counts_for_an_outsider_equal_a_library_without_the_restricted_reviews(library: Assistant,
                                                                               public_only: Assistant) -> None:
    outsider = proxied(library, "olivia", "")
    reference = proxied(public_only, "olivia", "")
    assert outsider.get("/api/themes").json() == reference.get("/api/themes").json()
    assert outsider.get("/api/facets").json() == reference.get("/api/facets").json()
    health, expected = outsider.get("/api/health").json(), reference.get("/api/health").json()
    assert (health["documents"], health["chunks"]) == (expected["documents"], expected["chunks"])
    assert health["documents"] == 5


def test_answers_for_an_outsider_equal_a_library_without_the_restricted_reviews(library: Assistant,
                                                                                public_only: Assistant) -> None:
    """Not even the evidence measures (word rarity, nearest sentences) may tell that a restricted word exists."""
    outsider, reference = proxied(library, "olivia", ""), proxied(public_only, "olivia", "")
    for question in ("How often is the Quillfeather escalation log audited?",
                     "What should practitioners record when a family lives on a narrowboat?"):
        got = outsider.post("/api/ask", json={"question": question}).json()
        want = reference.post("/api/ask", json={"question": question}).json()
        assert got == want


def test_a_member_sees_their_groups_reviews_and_no_others(library: Assistant) -> None:
    member = proxied(library, "rita.panel", "review-panel, schools")
    listed = {doc["doc_id"]: doc for doc in member.get("/api/documents").json()["documents"]}
    assert PANEL_ID in listed and ADMIN_ID not in listed
    assert listed[PANEL_ID]["access"] == ["lscp-board", "review-panel"]
    found = member.get("/api/search", params={"q": "narrowboat moored on the Northmarsh towpath"}).json()
    assert found["results"][0]["doc_id"] == PANEL_ID
    assert member.get(f"/documents/{PANEL_ID}", headers={"accept": "text/html"}).status_code == 200
    assert member.post("/api/export", json={"chunk_ids": [f"{PANEL_ID}#1"], "format": "md"}).status_code == 200
    assert "Northmarsh" in member.get("/api/facets").json()["areas"]
    assert member.get(f"/api/documents/{ADMIN_ID}").status_code == 404
    results = member.get("/api/search", params={"q": "Quillfeather escalation log"}).json()["results"]
    assert results and "quillfeather" not in json.dumps(results).lower()


def test_an_admin_sees_every_review(library: Assistant) -> None:
    admin = proxied(library, "ade.admin", "safeguarding-admins")
    listed = {doc["doc_id"] for doc in admin.get("/api/documents").json()["documents"]}
    assert {PANEL_ID, ADMIN_ID} <= listed
    everything = {doc["doc_id"]: doc["access"] for doc in admin.get("/api/admin/documents").json()["documents"]}
    assert everything[ADMIN_ID] == [] and everything["2016-luton-child-f-scr-response"] is None


def test_the_command_line_reads_as_the_operator(library: Assistant) -> None:
    from assistant.access import OPERATOR

    citations = library.search("Quillfeather escalation log audit", reader=OPERATOR)
    assert citations[0].doc_id == ADMIN_ID
    assert all(c.doc_id != ADMIN_ID for c in library.search("Quillfeather escalation log audit"))


# --- sign-in through the proxy ------------------------------------------------------------------


def test_requests_without_identity_or_from_elsewhere_get_401(library: Assistant) -> None:
    app = create_app(library.settings, assistant=library)
    no_identity = TestClient(app, client=("127.0.0.1", 40000))
    for response in (no_identity.get("/api/documents"), no_identity.post("/api/ask", json={"question": "neglect"})):
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == 'SignInProxy realm="assistant"'  # every 401 says how
    spoofed = TestClient(app, client=("203.0.113.9", 40000),
                         headers={"X-Forwarded-User": "ade.admin", "X-Forwarded-Groups": "safeguarding-admins"})
    for path in ("/", "/api/documents", f"/api/documents/{PANEL_ID}", "/api/admin/audit", "/static/style.css"):
        response = spoofed.get(path)
        assert response.status_code == 401, path
        assert response.headers["www-authenticate"].startswith("SignInProxy "), path
        assert leaks(response.text) == [] and "error" in response.json()
    assert spoofed.get("/api/health").status_code == 200  # load balancers probe it directly
    assert spoofed.get("/api/health").json()["documents"] == 5


def test_the_page_shows_who_is_signed_in(library: Assistant) -> None:
    page = proxied(library, "olivia.social-worker", "").get("/", headers={"accept": "text/html"}).text
    assert "Signed in as <strong>olivia.social-worker</strong>" in page
    assert "Signed in as" not in TestClient(create_app(Settings.from_env(
        corpus_dir=library.settings.corpus_dir, index_dir=library.settings.index_dir, model="test-hash-embedder"),
        assistant=library)).get("/", headers={"accept": "text/html"}).text


def test_admin_rights_come_from_an_admin_group_or_the_token(library: Assistant) -> None:
    assert proxied(library, "olivia", "children-social-care").get("/api/admin/audit").status_code == 403
    assert proxied(library, "ade", "safeguarding-admins").get("/api/admin/audit").status_code == 200
    settings = Settings.from_env(corpus_dir=library.settings.corpus_dir, index_dir=library.settings.index_dir,
                                 model="test-hash-embedder", auth="proxy", admin_token="t0ken")
    token_holder = TestClient(create_app(settings, assistant=library), client=("198.51.100.7", 1),
                              headers={"Authorization": "Bearer t0ken"})
    assert token_holder.get("/api/admin/audit").status_code == 200
    wrong = TestClient(create_app(settings, assistant=library), client=("198.51.100.7", 1),
                       headers={"Authorization": "Bearer wrong"})
    assert wrong.get("/api/admin/audit").status_code == 401


def test_trusted_proxies_may_be_networks(library: Assistant) -> None:
    settings = Settings.from_env(corpus_dir=library.settings.corpus_dir, index_dir=library.settings.index_dir,
                                 model="test-hash-embedder", auth="proxy", trusted_proxies=("10.1.0.0/16",))
    app = create_app(settings, assistant=library)
    inside = TestClient(app, client=("10.1.4.2", 1), headers={"X-Forwarded-User": "olivia"})
    outside = TestClient(app, client=("10.2.4.2", 1), headers={"X-Forwarded-User": "olivia"})
    assert inside.get("/api/documents").status_code == 200 and outside.get("/api/documents").status_code == 401


def test_bad_sign_in_settings_are_refused_clearly(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ASSISTANT_AUTH", "ldap")
    with pytest.raises(BadRequest, match="ASSISTANT_AUTH must be one of open, proxy"):
        Settings.from_env()
    monkeypatch.setenv("ASSISTANT_AUTH", "proxy")
    monkeypatch.setenv("ASSISTANT_TRUSTED_PROXIES", "127.0.0.1, proxy.council.local")
    settings = Settings.from_env(index_dir=tmp_path / "none", corpus_dir=tmp_path)
    with pytest.raises(BadRequest, match="not an IP address"):
        create_app(settings)


@pytest.mark.parametrize("value", ["5", '["ok", 3]', "[]", '"secret"'])
def test_a_sidecar_access_must_be_groups_or_restricted(tmp_path: Path, value: str) -> None:
    (tmp_path / "r.md").write_text(PANEL_REVIEW, encoding="utf-8")
    (tmp_path / "r.meta.toml").write_text(f"access = {value}\n", encoding="utf-8")
    with pytest.raises(DocumentUnreadable, match="access must be a list of group names"):
        load_document(tmp_path / "r.md")


def test_access_is_kept_through_the_index(library: Assistant) -> None:
    from assistant.access import OPERATOR

    document, _ = library.document(PANEL_ID, OPERATOR)
    assert document.meta.access == ("lscp-board", "review-panel")
    assert library.index().restricted == {PANEL_ID: frozenset({"lscp-board", "review-panel"}),
                                          ADMIN_ID: frozenset()}


def test_a_real_server_trusts_its_proxy_and_records_where_a_write_came_from(tmp_path: Path) -> None:
    """Through uvicorn as `assistant serve` runs it: X-Forwarded-For must not replace the proxy's address
    before sign-in checks it, and the audit trail names both."""
    library = built_assistant(tmp_path, restricted=True)
    settings = Settings.from_env(corpus_dir=library.settings.corpus_dir, index_dir=library.settings.index_dir,
                                 model="test-hash-embedder", auth="proxy", admin_groups=("safeguarding-admins",))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings, assistant=library), host="127.0.0.1", port=port,
                                           **SERVER_OPTIONS))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.time() + 30
        while not server.started and time.time() < deadline:
            time.sleep(0.05)
        headers = {"X-Forwarded-User": "ade.admin", "X-Forwarded-Groups": "safeguarding-admins",
                   "X-Forwarded-For": "203.0.113.5"}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=30) as client:
            assert client.get("/api/documents").status_code == 200
            removed = client.delete(f"/api/admin/documents/{ADMIN_ID}")
            assert removed.status_code == 200 and removed.json()["removed"] == [ADMIN_ID]
            entry = client.get("/api/admin/audit").json()["audit"][0]
        assert (entry["actor"], entry["action"], entry["target"]) == ("ade.admin", "remove", ADMIN_ID)
        assert entry["address"] == "203.0.113.5 (via 127.0.0.1)"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_an_admin_upload_can_restrict_a_review(tmp_path: Path) -> None:
    library = built_assistant(tmp_path, restricted=False)
    admin = proxied(library, "ade", "safeguarding-admins")
    outsider = proxied(library, "olivia", "")
    upload = admin.post("/api/admin/documents", data={"access": "review-panel, lscp-board"},
                        files={"file": ("canal-review.md", PANEL_REVIEW.encode())})
    assert upload.status_code == 200 and upload.json()["added"] == ["canal-review"]
    sidecar = (library.settings.corpus_dir / "canal-review.meta.toml").read_text(encoding="utf-8")
    assert 'access = ["lscp-board", "review-panel"]' in sidecar
    assert "canal-review" not in outsider.get("/api/documents").text
    assert proxied(library, "rita", "review-panel").get("/api/documents/canal-review").status_code == 200
    # Replacing the file without saying who may read it keeps its access; "public" opens it.
    admin.post("/api/admin/documents", files={"file": ("canal-review.md", (PANEL_REVIEW + "\nMore.\n").encode())})
    assert outsider.get("/api/documents/canal-review").status_code == 404
    admin.post("/api/admin/documents", data={"access": "public"},
               files={"file": ("canal-review.md", (PANEL_REVIEW + "\nMore again.\n").encode())})
    assert outsider.get("/api/documents/canal-review").status_code == 200
    refused = admin.post("/api/admin/documents", data={"access": "panel; drop table"},
                         files={"file": ("other.md", PANEL_REVIEW.encode())})
    assert refused.status_code == 400 and "not a group name" in refused.json()["error"]
    assert not (library.settings.corpus_dir / "other.md").exists()


def test_a_hidden_review_is_never_read_for_an_outsider(library: Assistant, monkeypatch: pytest.MonkeyPatch) -> None:
    """Not read at all, so a restricted id answers exactly as fast as a missing one (no timing oracle)."""
    from assistant.reader import OpenIndex

    asked: list[str] = []
    real_chunk, real_document = OpenIndex.chunk_by_key, OpenIndex.document
    monkeypatch.setattr(OpenIndex, "chunk_by_key",
                        lambda self, doc_id, n: asked.append(doc_id) or real_chunk(self, doc_id, n))
    monkeypatch.setattr(OpenIndex, "document", lambda self, doc_id: asked.append(doc_id) or real_document(self, doc_id))
    outsider = proxied(library, "olivia", "")
    assert outsider.post("/api/export", json={"chunk_ids": [f"{PANEL_ID}#{n}" for n in range(5)],
                                              "format": "md"}).status_code == 404
    assert outsider.get(f"/api/documents/{ADMIN_ID}").status_code == 404
    assert PANEL_ID not in asked and ADMIN_ID not in asked
    proxied(library, "rita", "review-panel").get(f"/api/documents/{PANEL_ID}")
    assert PANEL_ID in asked  # the check above could fail


def test_a_sign_in_header_sent_twice_is_refused(library: Assistant) -> None:
    """Sent straight to the app (HTTP clients merge repeated headers before they leave)."""
    app = create_app(library.settings, assistant=library)

    def status_for(headers: list[tuple[bytes, bytes]]) -> int:
        sent: list[dict[str, object]] = []

        async def receive() -> dict[str, object]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, object]) -> None:
            sent.append(message)

        scope = {"type": "http", "method": "GET", "path": "/api/admin/audit", "raw_path": b"/api/admin/audit",
                 "query_string": b"", "headers": headers, "client": ("127.0.0.1", 1), "server": ("testserver", 80),
                 "scheme": "http", "http_version": "1.1", "root_path": ""}
        asyncio.run(app(scope, receive, send))
        return int(sent[0]["status"])  # type: ignore[call-overload]

    admin = [(b"x-forwarded-user", b"ade"), (b"x-forwarded-groups", b"safeguarding-admins")]
    assert status_for(admin) == 200
    assert status_for([(b"x-forwarded-user", b"olivia"), (b"x-forwarded-groups", b"staff"),
                       (b"x-forwarded-groups", b"safeguarding-admins")]) == 400
    assert status_for([(b"x-forwarded-user", b"olivia"), *admin]) == 400


def test_no_redirect_is_built_from_the_host_header(library: Assistant) -> None:
    response = proxied(library, "olivia", "").get("/api/documents/", headers={"Host": "evil.example"},
                                                  follow_redirects=False)
    assert response.status_code == 404 and "location" not in response.headers


def test_the_admin_page_is_refused_to_a_signed_in_non_admin(library: Assistant) -> None:
    assert proxied(library, "olivia", "staff").get("/admin", headers={"accept": "text/html"}).status_code == 403
    assert proxied(library, "ade", "safeguarding-admins").get("/admin", headers={"accept": "text/html"}
                                                              ).status_code == 200


def test_an_upload_under_another_file_name_replaces_the_review_and_keeps_its_access(tmp_path: Path) -> None:
    library = built_assistant(tmp_path, restricted=True)
    admin = proxied(library, "ade", "safeguarding-admins")
    upload = admin.post("/api/admin/documents",
                        files={"file": (f"{ADMIN_ID}.txt", (ADMIN_REVIEW + "\nA revised action.\n").encode())})
    assert upload.status_code == 200 and upload.json()["replaced"] == [ADMIN_ID]
    corpus = library.settings.corpus_dir
    assert not (corpus / f"{ADMIN_ID}.md").exists() and (corpus / f"{ADMIN_ID}.txt").exists()
    assert 'access = "restricted"' in (corpus / f"{ADMIN_ID}.meta.toml").read_text(encoding="utf-8")
    assert 'title = "Draft action plan: Quillfeather"' in (corpus / f"{ADMIN_ID}.meta.toml").read_text(encoding="utf-8")
    assert proxied(library, "olivia", "").get(f"/api/documents/{ADMIN_ID}").status_code == 404


@pytest.mark.parametrize(("value", "message"), [(",", "names no group"), (" , , ", "names no group"),
                                                ("public, review-panel", "stand alone")])
def test_upload_access_values_that_say_nothing_clear_are_refused(library: Assistant, value: str,
                                                                 message: str) -> None:
    admin = proxied(library, "ade", "safeguarding-admins")
    response = admin.post("/api/admin/documents", data={"access": value},
                          files={"file": ("another.md", PANEL_REVIEW.encode())})
    assert response.status_code == 400 and message in response.json()["error"]
