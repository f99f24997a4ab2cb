"""The model run with ONNX Runtime: the same vectors as sentence-transformers, several times faster for a
question on a CPU, and without loading PyTorch once the model has been exported.

The model is exported locally, once, into a cache folder (`ASSISTANT_MODEL_CACHE`; nothing is
downloaded): the transformer as ONNX (optionally with int8 weights), its tokenizer, and what the
sentence-transformers pipeline does after it (mean pooling, normalising). An export is accepted only if
its vectors agree with PyTorch's (mean cosine at least MIN_AGREEMENT on probe sentences); otherwise the
folder records the refusal and the PyTorch encoder is used.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import shutil
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ModelUnavailable

MIN_AGREEMENT = 0.99
EXPORT_VERSION = "2"  # bump when the export below changes
PROBES = (
    "What should I do if a family won't engage with early help?",
    "The health visitor saw the baby twice before the injury was found.",
    "Professional curiosity means asking about the adults in the household.",
    "Reviews found that information was not shared between the school and children's social care.",
    "Safe sleep advice should be repeated at every contact, including by the police.",
    "A strategy discussion should be held when there is reasonable cause to suspect significant harm.",
    "Neglect",
    "Was Not Brought rather than Did Not Attend",
)
_THREADS = {"count": 0}  # 0: ONNX Runtime's default (one per core); see set_threads


def set_threads(count: int) -> None:
    """Threads per encoding for sessions opened from now on (several worker processes share the cores)."""
    _THREADS["count"] = max(0, count)


def cache_folder(cache_dir: Path, model_dir: Path, spec: str, quantised: bool) -> Path:
    """Where one model's export lives: named by the model's files, so a changed model is exported again."""
    digest = hashlib.sha256(f"{EXPORT_VERSION}\0{spec}\0{quantised}".encode())
    for path in sorted(model_dir.rglob("*")):
        if path.is_file():
            stat = path.stat()
            digest.update(f"{path.relative_to(model_dir)}\0{stat.st_size}\0{int(stat.st_mtime)}".encode())
    name = "".join(c if c.isalnum() else "-" for c in model_dir.name)[:40]
    return cache_dir / f"{name}-{'int8' if quantised else 'fp32'}-{digest.hexdigest()[:16]}"


class OnnxEncoder:
    """Encodes texts with an exported model (see `export`)."""

    def __init__(self, folder: Path, name: str) -> None:
        import onnxruntime
        import tokenizers

        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        self.name = name
        self.dimension = int(meta["dimension"])
        self.tokenizer = tokenizers.Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(int(meta["max_seq_length"]))
        self.tokenizer.no_padding()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = _THREADS["count"]
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        # Threads that spin-wait after a run keep a core busy while the searches that follow need it.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = onnxruntime.InferenceSession(str(folder / "model.onnx"), options,
                                                    providers=["CPUExecutionProvider"])
        self.inputs = {item.name for item in self.session.get_inputs()}

    def encode(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        """Unit-length vectors, in the order given; texts are batched by length so padding stays short."""
        encoded = self.tokenizer.encode_batch(list(texts))
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i].ids))
        out = np.zeros((len(encoded), self.dimension), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            chosen = order[start:start + batch_size]
            width = max(len(encoded[i].ids) for i in chosen)
            ids = np.zeros((len(chosen), width), dtype=np.int64)
            mask = np.zeros((len(chosen), width), dtype=np.int64)
            types = np.zeros((len(chosen), width), dtype=np.int64)
            for row, i in enumerate(chosen):
                length = len(encoded[i].ids)
                ids[row, :length] = encoded[i].ids
                mask[row, :length] = 1
                types[row, :length] = encoded[i].type_ids
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
            hidden = self.session.run(None, {key: value for key, value in feed.items() if key in self.inputs})[0]
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
            out[chosen] = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return out


def export(model: Any, folder: Path, *, quantised: bool) -> None:
    """Write a sentence-transformers model (Transformer, mean Pooling, Normalize) as an ONNX export in
    `folder`, written to a temporary folder first so that concurrent workers never see half an export;
    raises ModelUnavailable when the model is of another shape or its vectors disagree."""
    import torch

    modules = list(model)
    kinds = [type(module).__name__ for module in modules]
    mean = getattr(modules[1], "pooling_mode", None) == "mean" or getattr(modules[1], "pooling_mode_mean_tokens", False)
    if kinds[:2] != ["Transformer", "Pooling"] or not mean \
            or any(kind not in ("Transformer", "Pooling", "Normalize") for kind in kinds):
        raise ModelUnavailable(f"only mean-pooled sentence-transformers models are exported to ONNX, not {kinds}")
    transformer = modules[0].auto_model.eval()

    sample = modules[0].tokenizer(list(PROBES[:2]), padding=True, return_tensors="pt")
    # the inputs this architecture takes: MPNet and XLM-R have no token types, BERT-style models do
    accepted = inspect.signature(transformer.forward).parameters
    names = [name for name in ("input_ids", "attention_mask", "token_type_ids") if name in sample and name in accepted]

    class Hidden(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = transformer

        def forward(self, *inputs: Any) -> Any:
            return self.inner(**dict(zip(names, inputs, strict=True))).last_hidden_state

    staging = folder.with_name(f".{folder.name}-{uuid.uuid4().hex[:8]}")
    staging.mkdir(parents=True)
    try:
        modules[0].tokenizer.save_pretrained(str(staging / "tokenizer"))
        shutil.move(str(staging / "tokenizer" / "tokenizer.json"), staging / "tokenizer.json")
        shutil.rmtree(staging / "tokenizer")
        axes = {name: {0: "batch", 1: "tokens"} for name in [*names, "hidden"]}
        with torch.no_grad():
            torch.onnx.export(Hidden(), tuple(sample[name] for name in names), str(staging / "full.onnx"),
                              input_names=names, output_names=["hidden"], dynamic_axes=axes, opset_version=17,
                              dynamo=False)
        if quantised:
            from onnxruntime.quantization import QuantType, quantize_dynamic

            # per-channel int8 weights for the matrix products alone: per-tensor scales agreed only to 0.96
            quantize_dynamic(str(staging / "full.onnx"), str(staging / "model.onnx"), weight_type=QuantType.QInt8,
                             per_channel=True, op_types_to_quantize=["MatMul"])
            (staging / "full.onnx").unlink()
        else:
            (staging / "full.onnx").rename(staging / "model.onnx")
        dimension = (getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension)()
        (staging / "meta.json").write_text(json.dumps({"dimension": dimension,
                                                       "max_seq_length": model.max_seq_length}), encoding="utf-8")
        reference = np.asarray(model.encode(list(PROBES), normalize_embeddings=True, convert_to_numpy=True))
        agreement = float((OnnxEncoder(staging, "probe").encode(PROBES) * reference).sum(axis=1).mean())
        if agreement < MIN_AGREEMENT:
            raise ModelUnavailable(f"the ONNX export's vectors agree with PyTorch's only to {agreement:.4f}")
        (staging / "meta.json").write_text(json.dumps({"dimension": dimension, "max_seq_length": model.max_seq_length,
                                                       "agreement": round(agreement, 5)}), encoding="utf-8")
        folder.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(staging, folder)
        except OSError:  # another worker finished the same export first
            if not (folder / "meta.json").exists():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def agreement_of(folder: Path) -> float | None:
    try:
        return float(json.loads((folder / "meta.json").read_text(encoding="utf-8"))["agreement"])
    except (OSError, ValueError, KeyError):
        return None
