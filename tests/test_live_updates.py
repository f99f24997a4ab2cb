"""A running server (two worker processes) picks up added and removed reviews, and survives a killed
rebuild, while clients keep asking: zero failed requests throughout."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from assistant.store import IndexStore

from .helpers import ROOT, SEED_CORPUS, free_port, wait_until_healthy

pytestmark = pytest.mark.slow  # the real model

ASSISTANT = str(Path(sys.executable).parent / "assistant")
NEW_REVIEW = """# Learning review: Child W and the trampoline park

## Finding 1: Supervision at leisure venues

Staff at the trampoline park did not know who to call when they saw bruising on Child W. Leisure venues
should have a named safeguarding lead and know how to contact the children's services front door.
"""
QUESTION = "who should trampoline park staff call when they see bruising on a child?"



class Askers:
    """Threads asking the server questions non-stop, recording every failure."""

    def __init__(self, base: str, threads: int = 3) -> None:
        self.base = base
        self.failures: list[str] = []
        self.requests = 0
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, args=(n,), daemon=True) for n in range(threads)]

    def run(self, number: int) -> None:
        questions = ["what should I do if a family won't engage with early help", "WNB appointments", QUESTION]
        with httpx.Client(base_url=self.base, timeout=60) as client:
            i = number
            while not self.stop.is_set():
                try:
                    response = client.post("/api/ask", json={"question": questions[i % len(questions)]})
                    ok = response.status_code == 200 and isinstance(response.json().get("citations"), list)
                    problem = None if ok else f"{response.status_code} {response.text[:200]}"
                except httpx.HTTPError as exc:
                    problem = repr(exc)
                with self.lock:
                    self.requests += 1
                    if problem:
                        self.failures.append(problem)
                i += 1

    def __enter__(self) -> Askers:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, dict[str, str], Path]]:
    corpus = tmp_path / "corpus"
    shutil.copytree(SEED_CORPUS, corpus)
    port = free_port()
    env = {**os.environ, "ASSISTANT_CORPUS_DIR": str(corpus), "ASSISTANT_INDEX_DIR": str(tmp_path / "index"),
           "ASSISTANT_PORT": str(port), "ASSISTANT_WORKERS": "2"}
    subprocess.run([ASSISTANT, "index", "build"], env=env, check=True, capture_output=True, timeout=300)
    process = subprocess.Popen([ASSISTANT, "serve"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    wait_until_healthy(base, process)
    yield base, env, tmp_path
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=30)


def eventually(check: Callable[[], bool], seconds: float = 30) -> bool:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


def cited(base: str, doc_id: str) -> bool:
    """Whether both workers (asked several times) cite `doc_id` for the question."""
    answers = [httpx.post(base + "/api/ask", json={"question": QUESTION}, timeout=30).json() for _ in range(4)]
    return all(any(c["doc_id"] == doc_id for c in a["citations"][:3]) for a in answers)


def not_cited(base: str, doc_id: str) -> bool:
    answers = [httpx.post(base + "/api/ask", json={"question": QUESTION}, timeout=30).json() for _ in range(4)]
    return all(all(c["doc_id"] != doc_id for c in a["citations"]) for a in answers)


def test_live_add_remove_and_killed_rebuild(server: tuple[str, dict[str, str], Path]) -> None:
    base, env, folder = server
    review = folder / "2026-child-w-trampoline-park.md"
    review.write_text(NEW_REVIEW)
    store = IndexStore(Path(env["ASSISTANT_INDEX_DIR"]))
    with Askers(base) as askers:
        time.sleep(1)
        added = subprocess.run([ASSISTANT, "index", "add", str(review)], env=env, capture_output=True, text=True,
                               timeout=300)
        assert added.returncode == 0, added.stderr
        assert "added     2026-child-w-trampoline-park" in added.stdout
        assert eventually(lambda: cited(base, "2026-child-w-trampoline-park"))

        removed = subprocess.run([ASSISTANT, "index", "remove", "2026-child-w-trampoline-park"], env=env,
                                 capture_output=True, text=True, timeout=300)
        assert removed.returncode == 0, removed.stderr
        assert eventually(lambda: not_cited(base, "2026-child-w-trampoline-park"))

        serving = store.current_version()
        rebuild = subprocess.Popen([ASSISTANT, "index", "build"], env=env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        assert eventually(store.writer_busy, 120), "the rebuild never took the writer lock"
        time.sleep(0.5)
        rebuild.kill()
        rebuild.wait()
        assert store.current_version() == serving
        time.sleep(2)
        with askers.lock:
            asked_so_far = askers.requests
    assert askers.failures == []
    assert asked_so_far > 20
    health = httpx.get(base + "/api/health").json()
    assert health["version"] == serving and health["update_in_progress"] is False
    # the next writer runs without any clean-up by hand
    again = subprocess.run([ASSISTANT, "index", "update"], env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
