"""Helpers shared by the benchmark scripts: a fresh index of a corpus in a temporary folder."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.build import scan_corpus, sync_index  # noqa: E402
from assistant.config import Settings  # noqa: E402
from assistant.service import Assistant  # noqa: E402

QUESTIONS = Path(__file__).resolve().parent / "questions.json"


def load_questions() -> dict[str, Any]:
    return json.loads(QUESTIONS.read_text(encoding="utf-8"))


def normalise(text: str) -> str:
    """Lower case, straight quotes, single spaces: how expected phrases are matched."""
    for curly, straight in (("“", '"'), ("”", '"'), ("‘", "'"), ("’", "'")):
        text = text.replace(curly, straight)
    return " ".join(text.lower().split())


def fresh_assistant(index_dir: Path, corpus_dir: Path = ROOT / "corpus", **overrides: Any) -> Assistant:
    settings = Settings.from_env(index_dir=index_dir, corpus_dir=corpus_dir, **overrides)
    assistant = Assistant(settings)
    sync_index(files=scan_corpus(corpus_dir), store=assistant.store, embedder=assistant.embedder,
               reuse_unchanged=False)
    return assistant


class HashingEmbedder:
    """A fast stand-in for the model (hashed bag of words), to build large indexes in seconds.

    Used only to fill the background of a benchmark: what it measures is the pipeline around the model.
    """

    name = "benchmark-hashing-embedder"

    def __init__(self, dimension: int = 384) -> None:
        self.dimension = dimension

    def encode(self, texts: Any, *, batch_size: int = 32) -> Any:
        import zlib

        import numpy as np

        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().split():
                out[row, zlib.crc32(word.encode()) % self.dimension] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-9)
