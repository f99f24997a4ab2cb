"""Several workers sharing one loaded model: forked, serving one socket, replaced when one dies."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from assistant.config import Settings

from .helpers import ROOT, child_pids, free_port, wait_until_healthy


def children(pid: int) -> set[int]:
    return set(child_pids(pid))


@contextlib.contextmanager
def two_forked_workers(settings: Settings, data_dir: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """`assistant serve --workers 2` on the settings' index, healthy; stopped with SIGTERM on leaving (it must
    exit 0). Yields the server process and its base URL."""
    port = free_port()
    env = {**os.environ, "ASSISTANT_INDEX_DIR": str(settings.index_dir),
           "ASSISTANT_CORPUS_DIR": str(settings.corpus_dir), "ASSISTANT_DATA_DIR": str(data_dir),
           "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen([sys.executable, "-m", "assistant", "serve", "--port", str(port), "--workers", "2"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(base, server)
        yield server, base
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            pytest.fail("the server did not stop on SIGTERM")
    assert server.returncode == 0


def test_forked_workers_answer_and_a_dead_one_is_replaced(real_index: Settings, tmp_path: Path) -> None:
    with two_forked_workers(real_index, tmp_path / "appdata") as (server, base):
        workers = children(server.pid)
        assert len(workers) == 2
        question = {"question": "what should I do if a family won't engage with early help"}
        for _ in range(4):  # spread over both workers
            answer = httpx.post(base + "/api/ask", json=question, timeout=60).json()
            assert answer["found"] and answer["citations"][0]["doc_id"] == "2021-telford-wrekin-thematic-briefing-3"
        killed = next(iter(workers))
        os.kill(killed, signal.SIGKILL)
        deadline = time.time() + 60
        while len(children(server.pid)) < 2 or killed in children(server.pid):
            assert time.time() < deadline, "the dead worker was not replaced"
            time.sleep(0.5)
        wait_until_healthy(base, server)
        assert httpx.post(base + "/api/ask", json=question, timeout=60).status_code == 200


def test_workers_are_renewed_to_share_a_newly_published_ann_index(real_index: Settings, tmp_path: Path) -> None:
    """A national collection's ANN index is read by the parent and inherited by the workers; a change that
    publishes a new one brings new workers (sharing it) and retires the old ones, with no failed request."""
    import shutil
    from dataclasses import replace

    from assistant.build import BuildOptions, scan_corpus, update_index
    from assistant.params import DEFAULT_VECTORS
    from assistant.service import Assistant

    corpus = tmp_path / "corpus"
    shutil.copytree(real_index.corpus_dir, corpus)
    shutil.copytree(real_index.index_dir, tmp_path / "index")
    settings = replace(real_index, corpus_dir=corpus, index_dir=tmp_path / "index",
                       vectors=replace(DEFAULT_VECTORS, ann_min_passages=50, ann_probe_share=1.0))
    assistant = Assistant(settings)
    review = corpus / "2016-luton-child-f-scr-response.txt"

    def change(paragraph: str) -> None:
        review.write_text(review.read_text(encoding="utf-8") + f"\n\n{paragraph}\n", encoding="utf-8")
        update_index(files=scan_corpus(corpus), store=assistant.store, embedder=assistant.embedder,
                     options=BuildOptions.from_settings(settings))
        assert assistant.store.read_manifest().ann  # the index has an ANN index, as a national collection's has

    change("A paragraph about supervision, added later.")
    question = {"question": "what should I do if a family won't engage with early help"}
    with two_forked_workers(settings, tmp_path / "appdata") as (server, base):
        first = children(server.pid)
        assert len(first) == 2
        change("Another paragraph, about health visiting, added later still.")
        deadline = time.time() + 60
        with httpx.Client(base_url=base, timeout=60) as client:
            while children(server.pid) & first or len(children(server.pid)) != 2:
                assert time.time() < deadline, "the workers were not renewed"
                assert client.post("/api/ask", json=question).status_code == 200  # served throughout
                time.sleep(0.2)
            wait_until_healthy(base, server)
            answer = client.post("/api/ask", json=question).json()
        assert answer["found"] and answer["citations"][0]["doc_id"] == "2021-telford-wrekin-thematic-briefing-3"

        # a version whose ANN index is damaged: the workers are not renewed into it, and keep answering
        renewed = children(server.pid)
        elsewhere = tmp_path / "elsewhere"
        shutil.copytree(settings.index_dir, elsewhere)
        store = Assistant(replace(settings, index_dir=elsewhere), embedder=assistant.embedder).store
        review.write_text(review.read_text(encoding="utf-8") + "\n\nA third paragraph.\n", encoding="utf-8")
        update_index(files=scan_corpus(corpus), store=store, embedder=assistant.embedder,
                     options=BuildOptions.from_settings(settings))
        damaged = store.read_manifest()
        ann = elsewhere / "versions" / damaged.version / damaged.ann
        data = bytearray(ann.read_bytes())
        data[len(data) // 2] ^= 0xFF
        ann.write_bytes(bytes(data))
        shutil.copytree(elsewhere / "versions" / damaged.version, settings.index_dir / "versions" / damaged.version)
        (settings.index_dir / ".CURRENT.test").write_text(damaged.version, encoding="utf-8")
        os.replace(settings.index_dir / ".CURRENT.test", settings.index_dir / "CURRENT")
        time.sleep(3)  # six of the parent's looks, and three of each worker's
        assert children(server.pid) == renewed
        assert httpx.post(base + "/api/ask", json=question, timeout=60).status_code == 200
    assert b"cannot be opened" in (server.stderr.read() if server.stderr else b"")
