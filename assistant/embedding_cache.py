"""Embeddings kept while a build runs, so a build killed half way embeds only what it had not yet embedded.

Each document's vectors are saved as soon as they are computed, under a key made of the model, the
chunking fingerprint and the document's content hash; a restarted build finds them and skips the model.
The cache is emptied once a version is published.
"""

from __future__ import annotations

import hashlib
import shutil
import uuid
from pathlib import Path

import numpy as np

CACHE_DIR = ".embedding-cache"


class EmbeddingCache:
    def __init__(self, index_root: Path, model: str, chunking_version: str) -> None:
        self.folder = index_root / CACHE_DIR
        self.salt = f"{model}\0{chunking_version}\0"

    def _path(self, content_hash: str) -> Path:
        key = hashlib.sha256((self.salt + content_hash).encode()).hexdigest()[:32]
        return self.folder / f"{key}.npz"

    def get(self, content_hash: str, chunks: int, sentences: int) -> tuple[np.ndarray, np.ndarray] | None:
        """(chunk vectors, sentence vectors) saved for this document, if they fit its chunks and sentences."""
        path = self._path(content_hash)
        try:
            with np.load(path) as saved:
                vectors, sentence_vectors = saved["chunks"], saved["sentences"]
        except (OSError, ValueError, KeyError):
            return None
        if len(vectors) != chunks or len(sentence_vectors) != sentences:
            return None
        return vectors, sentence_vectors

    def put(self, content_hash: str, vectors: np.ndarray, sentence_vectors: np.ndarray) -> None:
        """Save atomically: a build killed while saving leaves no half-written entry."""
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self._path(content_hash)
        partial = target.with_name(f".{uuid.uuid4().hex}.npz")
        np.savez(partial, chunks=vectors, sentences=sentence_vectors)
        partial.replace(target)

    def clear(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
