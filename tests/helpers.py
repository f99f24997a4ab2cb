"""Helpers shared by the tests and the benchmarks: a deterministic stand-in for the model, free ports and
waiting for a server to come up."""

from __future__ import annotations

import hashlib
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import httpx
import numpy as np

from assistant.text import stem, words

ROOT = Path(__file__).resolve().parent.parent
SEED_CORPUS = ROOT / "corpus"


def free_port() -> int:
    """A port nothing is listening on, for a test server."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def child_pids(pid: int) -> list[int]:
    """The processes `pid` started (a server's workers), from /proc."""
    try:
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def wait_until_healthy(base: str, process: subprocess.Popen[bytes] | subprocess.Popen[str],
                       seconds: float = 120, path: str = "/api/health") -> None:
    """Poll `path` (/api/ready: until the model and index are loaded) until it answers 200; fail if the
    server process dies or time runs out."""
    deadline = time.time() + seconds
    while True:
        try:
            if httpx.get(base + path, timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.time() > deadline:
            raise RuntimeError(f"the server at {base} did not start")
        time.sleep(0.25)


class HashEmbedder:
    """Bag of stemmed words hashed into a few hundred dimensions: deterministic, instant, good enough to rank.

    The tests use it for speed; the benchmarks use it (at the real model's 384 dimensions) to fill the
    background of large indexes, so that they measure the pipeline around the model.
    """

    def __init__(self, dimension: int = 256, name: str = "test-hash-embedder") -> None:
        self.dimension = dimension
        self.name = name
        self.calls = 0

    def encode(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        self.calls += 1
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in words(text):
                digest = hashlib.blake2b(stem(word).encode(), digest_size=4).digest()
                out[row, int.from_bytes(digest, "little") % self.dimension] += 1.0
            norm = np.linalg.norm(out[row])
            if norm:
                out[row] /= norm
        return out


class FailingEmbedder(HashEmbedder):
    """Dies part-way through embedding, like a build killed half way."""

    def encode(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        raise KeyboardInterrupt("killed")
