"""Several workers sharing one loaded model: forked, serving one socket, replaced when one dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from assistant.config import Settings

from .helpers import ROOT, child_pids, free_port, wait_until_healthy


def children(pid: int) -> set[int]:
    return set(child_pids(pid))


def test_forked_workers_answer_and_a_dead_one_is_replaced(real_index: Settings, tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "ASSISTANT_INDEX_DIR": str(real_index.index_dir),
           "ASSISTANT_CORPUS_DIR": str(real_index.corpus_dir), "ASSISTANT_DATA_DIR": str(tmp_path / "appdata"),
           "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen([sys.executable, "-m", "assistant", "serve", "--port", str(port), "--workers", "2"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(base, server)
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
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            pytest.fail("the server did not stop on SIGTERM")
    assert server.returncode == 0
