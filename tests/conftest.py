"""Shared fixtures: small corpora and indexes in tmp_path (helper functions and classes live in helpers.py)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from assistant.build import build_index, scan_corpus
from assistant.config import Settings
from assistant.service import Assistant

from .helpers import SEED_CORPUS, HashEmbedder

# Fixtures wider than one test build their settings before `private_app_data` runs: never the checkout's folder.
os.environ.setdefault("ASSISTANT_DATA_DIR", tempfile.mkdtemp(prefix="assistant-test-appdata-"))


@pytest.fixture(autouse=True)
def private_app_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Feedback, recorded questions and the audit trail of each test go to its own folder."""
    folder = tmp_path / "appdata"
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(folder))
    return folder


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
    build_index(files=scan_corpus(settings.corpus_dir), store=assistant.store, embedder=embedder)
    return assistant


@pytest.fixture(scope="session")
def real_index(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The seed corpus indexed with the real bundled model, once per test session."""
    from assistant.config import BUNDLED_MODEL
    from assistant.embedding import load_embedder

    root = tmp_path_factory.mktemp("real")
    settings = Settings.from_env(corpus_dir=SEED_CORPUS, index_dir=root / "index", model=BUNDLED_MODEL)
    assistant = Assistant(settings, embedder=load_embedder(BUNDLED_MODEL))
    build_index(files=scan_corpus(SEED_CORPUS), store=assistant.store, embedder=assistant.embedder)
    return settings


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that needs the real model (through the `real_index` fixture) is slow."""
    for item in items:
        if "real_index" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)
