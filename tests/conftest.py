"""Shared fixtures: a tiny deterministic embedder, small corpora and indexes in tmp_path."""

from __future__ import annotations

import hashlib
import shutil
import socket
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from assistant.build import scan_corpus, sync_index
from assistant.config import Settings
from assistant.service import Assistant
from assistant.text import stem, words

ROOT = Path(__file__).resolve().parent.parent
SEED_CORPUS = ROOT / "corpus"


def free_port() -> int:
    """A port nothing is listening on, for a test server."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class HashEmbedder:
    """Bag of stemmed words hashed into 256 dimensions: deterministic, instant, good enough to rank."""

    name = "test-hash-embedder"
    dimension = 256

    def __init__(self) -> None:
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


@pytest.fixture
def embedder() -> HashEmbedder:
    return HashEmbedder()


@pytest.fixture
def seed_corpus(tmp_path: Path) -> Path:
    """A private copy of the shipped corpus (tests may change it)."""
    target = tmp_path / "corpus"
    shutil.copytree(SEED_CORPUS, target)
    return target


@pytest.fixture
def settings(tmp_path: Path, seed_corpus: Path) -> Settings:
    return Settings.from_env(corpus_dir=seed_corpus, index_dir=tmp_path / "index", model="test-hash-embedder")


@pytest.fixture
def built(settings: Settings, embedder: HashEmbedder) -> Assistant:
    """An Assistant over the seed corpus, indexed with the hash embedder."""
    assistant = Assistant(settings, embedder=embedder)
    sync_index(files=scan_corpus(settings.corpus_dir), store=assistant.store, embedder=embedder,
               reuse_unchanged=False)
    return assistant


@pytest.fixture(scope="session")
def real_index(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The seed corpus indexed with the real bundled model, once per test session."""
    from assistant.config import BUNDLED_MODEL
    from assistant.embedding import load_embedder

    root = tmp_path_factory.mktemp("real")
    settings = Settings.from_env(corpus_dir=SEED_CORPUS, index_dir=root / "index", model=BUNDLED_MODEL)
    assistant = Assistant(settings, embedder=load_embedder(BUNDLED_MODEL))
    sync_index(files=scan_corpus(SEED_CORPUS), store=assistant.store, embedder=assistant.embedder,
               reuse_unchanged=False)
    return settings
