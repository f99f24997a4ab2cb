"""The encoders: PyTorch and ONNX Runtime give the same vectors; the export is made once and reused."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from assistant.config import BUNDLED_MODEL, Settings
from assistant.embedding import SentenceTransformerEmbedder, load_embedder
from assistant.errors import BadRequest, ModelUnavailable
from assistant.onnx_encoder import OnnxEncoder, agreement_of
from assistant.text import sentence_spans

from .helpers import ROOT, SEED_CORPUS

pytestmark = pytest.mark.slow  # the real model


def seed_sentences() -> list[str]:
    texts = [path.read_text(encoding="utf-8") for path in sorted(SEED_CORPUS.glob("*.txt"))]
    return [block[start:end] for text in texts for block in text.split("\n\n")
            for start, end in sentence_spans(block)]


@pytest.fixture(scope="module")
def torch_embedder() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(BUNDLED_MODEL)


def test_onnx_vectors_agree_with_pytorch_on_every_seed_sentence(tmp_path: Path,
                                                                torch_embedder: SentenceTransformerEmbedder) -> None:
    onnx = load_embedder(BUNDLED_MODEL, encoder="onnx", cache_dir=tmp_path)
    assert isinstance(onnx, OnnxEncoder) and onnx.name == torch_embedder.name and onnx.dimension == 384
    sentences = seed_sentences()
    assert len(sentences) > 300
    agreement = (onnx.encode(sentences) * torch_embedder.encode(sentences)).sum(axis=1)
    assert agreement.mean() >= 0.999 and agreement.min() >= 0.99
    assert np.allclose(np.linalg.norm(onnx.encode(sentences[:5]), axis=1), 1.0, atol=1e-5)
    # order is kept although texts are batched by length
    shuffled = sentences[::-1][:64]
    assert np.allclose(onnx.encode(shuffled, batch_size=7), onnx.encode(shuffled, batch_size=64), atol=1e-5)


def test_int8_weights_still_agree(tmp_path: Path, torch_embedder: SentenceTransformerEmbedder) -> None:
    quantised = load_embedder(BUNDLED_MODEL, encoder="onnx-int8", cache_dir=tmp_path)
    sentences = seed_sentences()[:200]
    agreement = (quantised.encode(sentences) * torch_embedder.encode(sentences)).sum(axis=1)
    assert agreement.mean() >= 0.98
    folder = next(tmp_path.glob("*-int8-*"))
    assert agreement_of(folder) is not None and agreement_of(folder) >= 0.99  # type: ignore[operator]


def test_the_export_is_reused_and_then_needs_no_pytorch(tmp_path: Path) -> None:
    load_embedder(BUNDLED_MODEL, encoder="onnx", cache_dir=tmp_path)
    exported = next(tmp_path.glob("*-fp32-*/model.onnx"))
    stamp = exported.stat().st_mtime_ns
    probe = ("import sys; from pathlib import Path; from assistant.embedding import load_embedder; "
             f"e = load_embedder({BUNDLED_MODEL!r}, encoder='onnx', cache_dir=Path({str(tmp_path)!r})); "
             "e.encode(['a question about neglect']); print(type(e).__name__, 'torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT)
    assert done.stdout.split() == ["OnnxEncoder", "False"]
    assert exported.stat().st_mtime_ns == stamp


def test_a_refused_export_falls_back_to_pytorch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import assistant.onnx_encoder as onnx_encoder

    def refuse(model: object, folder: Path, *, quantised: bool) -> None:
        raise ModelUnavailable("the ONNX export's vectors agree with PyTorch's only to 0.5")

    monkeypatch.setattr(onnx_encoder, "export", refuse)
    load_embedder.cache_clear()
    try:
        assert isinstance(load_embedder(BUNDLED_MODEL, cache_dir=tmp_path), SentenceTransformerEmbedder)
        assert list(tmp_path.glob("*.refused"))
        with pytest.raises(ModelUnavailable, match="could not be prepared"):
            load_embedder(BUNDLED_MODEL, encoder="onnx", cache_dir=tmp_path / "other")
    finally:
        load_embedder.cache_clear()


def test_encoder_settings_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_ENCODER", "tensorflow")
    with pytest.raises(BadRequest, match="ASSISTANT_ENCODER must be one of"):
        Settings.from_env()
    monkeypatch.setenv("ASSISTANT_ENCODER", "onnx")
    monkeypatch.setenv("ASSISTANT_DEVICE", "tpu")
    with pytest.raises(BadRequest, match="ASSISTANT_DEVICE must be one of"):
        Settings.from_env()
    with pytest.raises(ModelUnavailable, match="needs onnxruntime and a model folder"):
        load_embedder("some-org/some-hub-model", encoder="onnx")
