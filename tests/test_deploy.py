"""Several servers behind nginx, sharing one index folder and one PostgreSQL database (deploy/): answers keep
coming while the writer changes the index, feedback is shared, a killed reader is routed around and rejoins,
and a reader refuses changes. Real PostgreSQL, real nginx, the real model."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy

from .cluster import Cluster, cluster, missing, postgres
from .helpers import SEED_CORPUS

pytestmark = pytest.mark.slow

TOKEN = "cluster-admin-token"
ADMIN = {"authorization": f"Bearer {TOKEN}"}
NEW_REVIEW = ("# Learning review: Baby Wren\n\n## Finding 1: Safer sleep on the narrowboat\n\nThe health visitor "
              "gave safer sleep advice at every visit, but nobody asked where the baby slept when the family moored "
              "the narrowboat away from the town.\n")


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Cluster:
    lacking = missing()
    if lacking:
        pytest.fail(f"{lacking} is needed for the several-servers test: `make cluster` installs it")
    folder = tmp_path_factory.mktemp("cluster")
    corpus = folder / "corpus"
    shutil.copytree(SEED_CORPUS, corpus)
    with postgres() as url, cluster(folder, corpus=corpus, database_url=url, admin_token=TOKEN) as group:
        group.database_url = url
        yield group


def wait_for_version(group: Cluster, version: str, seconds: float = 10) -> float:
    """How long until every reader serves `version`."""
    started = time.monotonic()
    while True:
        serving = [httpx.get(reader.url + "/api/health", timeout=5).json().get("serving_version")
                   for reader in group.readers]
        if all(found == version for found in serving):
            return time.monotonic() - started
        assert time.monotonic() - started < seconds, f"readers serve {serving}, not {version}"
        time.sleep(0.1)


def test_answers_keep_coming_while_the_writer_adds_and_removes_a_review(servers: Cluster) -> None:
    statuses: list[int] = []
    stop = threading.Event()

    def ask() -> None:
        with httpx.Client(base_url=servers.url, timeout=30) as client:
            while not stop.is_set():
                statuses.append(client.post("/api/ask", json={"question": "safer sleep advice on a boat"}).status_code)

    askers = [threading.Thread(target=ask) for _ in range(3)]
    for thread in askers:
        thread.start()
    try:
        added = httpx.post(servers.url + "/api/admin/documents", headers=ADMIN, timeout=300,
                           files={"file": ("baby-wren.md", NEW_REVIEW.encode(), "text/markdown")})
        assert added.status_code == 200, added.text
        assert wait_for_version(servers, added.json()["version"]) < 5
        found = httpx.get(servers.url + "/api/search", params={"q": "narrowboat moored safer sleep"}).json()
        assert found["results"][0]["doc_id"] == "baby-wren"
        removed = httpx.delete(servers.url + "/api/admin/documents/baby-wren", headers=ADMIN, timeout=300)
        assert removed.status_code == 200, removed.text
        assert wait_for_version(servers, removed.json()["version"]) < 5
    finally:
        stop.set()
        for thread in askers:
            thread.join()
    assert statuses and set(statuses) == {200}
    trail = httpx.get(servers.writer.url + "/api/admin/audit", headers=ADMIN).json()["audit"]
    changes = [(entry["action"], entry["target"]) for entry in trail if entry["target"] == "baby-wren"]
    assert sorted(changes) == [("add", "baby-wren"), ("remove", "baby-wren")]  # once each, not once per server


def test_feedback_through_nginx_is_listed_by_every_server(servers: Cluster) -> None:
    comment = f"cluster feedback {time.time_ns()}"
    sent = httpx.post(servers.url + "/api/feedback", json={"kind": "answer", "helpful": True,
                                                            "question": "what is neglect?", "comment": comment})
    assert sent.status_code == 201
    for server in [servers.writer, *servers.readers]:
        listed = httpx.get(server.url + "/api/admin/feedback", headers=ADMIN).json()["feedback"]
        assert comment in [row["comment"] for row in listed], server.role
    engine = sqlalchemy.create_engine(servers.database_url)
    with engine.connect() as db:  # in PostgreSQL itself, the schema migrated once
        assert db.execute(sqlalchemy.text("SELECT count(*) FROM feedback WHERE comment = :c"), {"c": comment}
                          ).scalar_one() == 1
        assert db.execute(sqlalchemy.text("SELECT version FROM assistant_schema")).scalars().all() == [1]
    engine.dispose()
    assert not any((servers.folder / f"appdata-{s.role}-{s.port}" / "assistant.sqlite3").exists()
                   for s in [servers.writer, *servers.readers])


def test_a_reader_refuses_changes_and_names_the_writer(servers: Cluster) -> None:
    before = httpx.get(servers.writer.url + "/api/health").json()["version"]
    refused = httpx.post(servers.readers[0].url + "/api/admin/documents", headers=ADMIN,
                         files={"file": ("baby-wren.md", NEW_REVIEW.encode(), "text/markdown")})
    assert refused.status_code == 409 and servers.writer.url in refused.json()["error"]
    assert httpx.delete(servers.readers[0].url + "/api/admin/documents/2016-luton-child-f-scr-response",
                        headers=ADMIN).status_code == 409
    assert httpx.get(servers.writer.url + "/api/health").json()["version"] == before
    assert not (Path(servers.writer.environment["ASSISTANT_CORPUS_DIR"]) / "baby-wren.md").exists()


def test_a_killed_reader_is_routed_around_and_rejoins(servers: Cluster) -> None:
    victim = servers.readers[0]
    victim.kill()
    with httpx.Client(base_url=servers.url, timeout=30) as client:
        statuses = [client.post("/api/ask", json={"question": "what is professional curiosity?"}).status_code
                    for _ in range(20)]
    assert set(statuses) == {200}  # nothing was in flight on it: nothing fails
    victim.start(servers.folder)
    victim.wait_ready()
    assert httpx.get(victim.url + "/api/health").json()["serving_version"] == \
        httpx.get(servers.writer.url + "/api/health").json()["version"]
    other = servers.readers[1]
    other.kill()  # now only the victim can answer: it has rejoined if nginx's answers keep coming
    try:
        time.sleep(5.5)  # the victim's fail_timeout (5 s) has passed: nginx tries it again
        with httpx.Client(base_url=servers.url, timeout=30) as client:
            assert {client.post("/api/ask", json={"question": "what is neglect?"}).status_code
                    for _ in range(10)} == {200}
    finally:
        other.start(servers.folder)
        other.wait_ready()
