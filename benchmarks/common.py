"""Helpers shared by the benchmark scripts: a fresh index of a corpus in a temporary folder."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from assistant.build import BuildOptions, build_index, scan_corpus  # noqa: E402
from assistant.config import Settings  # noqa: E402
from assistant.errors import IndexUnavailable  # noqa: E402
from assistant.evaluation import normalise  # noqa: E402
from assistant.evaluation import rank_of as gold_rank  # noqa: E402
from assistant.service import Assistant  # noqa: E402
from tests.helpers import HashEmbedder, child_pids, free_port, wait_until_healthy  # noqa: E402

__all__ = ["HashEmbedder", "child_pids", "free_port", "wait_until_healthy", "fresh_assistant", "load_questions",
           "normalise", "rank_of", "fit_coverage", "built_once"]

QUESTIONS = Path(__file__).resolve().parent / "questions.json"


def load_questions() -> dict[str, Any]:
    return json.loads(QUESTIONS.read_text(encoding="utf-8"))


def rank_of(expect: str | list[str], passages: list[str]) -> int | None:
    """The place of the first passage holding an expected phrase (the ranking, whatever the outcome)."""
    return gold_rank([expect] if isinstance(expect, str) else expect, passages)


def built_once(root: Path, sources: list[Path], *, rebuild: bool = False, label: str = "built",
               **overrides: Any) -> Assistant:
    """An assistant over copies of `sources` (review files, with their sidecars) indexed into `root`, built only
    when the index there is missing, of another model or chunking, or `rebuild` asks."""
    corpus = root / "corpus"
    settings = Settings.from_env(corpus_dir=corpus, index_dir=root / "index", **overrides)
    assistant = Assistant(settings)
    try:
        usable = assistant.store.published(model=assistant.model_name) is not None
    except IndexUnavailable:  # none yet, or written by an earlier version of the code
        usable = False
    if rebuild or not usable:
        shutil.rmtree(root, ignore_errors=True)
        corpus.mkdir(parents=True)
        for source in sources:
            for path in (source, source.with_name(source.stem + ".meta.toml")):
                if path.exists():
                    shutil.copy2(path, corpus / path.name)
        report = build_index(files=scan_corpus(corpus), store=assistant.store, embedder=assistant.embedder,
                             options=BuildOptions.from_settings(settings))
        print(f"{label}: {report.documents} documents, {report.chunks} passages in {report.seconds:.0f} s")
    return assistant


def fresh_assistant(index_dir: Path, corpus_dir: Path = ROOT / "corpus", **overrides: Any) -> Assistant:
    settings = Settings.from_env(index_dir=index_dir, corpus_dir=corpus_dir, **overrides)
    assistant = Assistant(settings)
    build_index(files=scan_corpus(corpus_dir), store=assistant.store, embedder=assistant.embedder)
    return assistant


def fit_coverage(features: Sequence[Sequence[float]], answerable: Sequence[bool], l2: float = 0.1
                 ) -> tuple[float, list[float]]:
    """Class-balanced logistic regression (Newton steps) of answerable against not: (bias, weights), for
    AnswerParams."""
    x = np.array([[*row, 1.0] for row in features])
    y = np.array(answerable, dtype=float)
    balance = np.where(y == 1, 1.0, y.sum() / max((1 - y).sum(), 1))
    penalty = l2 * np.diag([1.0] * (x.shape[1] - 1) + [0.0])
    beta = np.zeros(x.shape[1])
    for _ in range(50):
        p = 1 / (1 + np.exp(-x @ beta))
        gradient = x.T @ ((p - y) * balance) + penalty @ beta
        hessian = x.T @ (x * (balance * p * (1 - p))[:, None]) + penalty
        beta -= np.linalg.solve(hessian, gradient)
    return round(float(beta[-1]), 2), [round(float(w), 2) for w in beta[:-1]]
