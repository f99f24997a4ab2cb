"""The themes reviews keep returning to, and tagging passages with them at build time."""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .embedding import Embedder

# A passage is also tagged with the one theme whose description is closest in meaning, if at least this
# close (cosine), even without that theme's terms ("the house was filthy and the children hungry" ->
# neglect). Calibrated on benchmarks/theme_labels.json with benchmarks/themes_quality.py --sweep.
MIN_THEME_SIMILARITY = 0.40


@dataclass(frozen=True)
class Theme:
    id: str
    label: str
    description: str
    terms: tuple[str, ...]

    @property
    def pattern(self) -> re.Pattern[str]:
        alternatives = [re.escape(term[:-1]) + r"\w*" if term.endswith("*") else re.escape(term) + r"\b"
                        for term in self.terms]
        return re.compile(r"\b(?:" + "|".join(alternatives) + ")", re.IGNORECASE)


@functools.lru_cache(maxsize=4)
def load_themes(path: Path) -> tuple[Theme, ...]:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return tuple(Theme(t["id"], t["label"], t["description"], tuple(t["terms"])) for t in data["themes"])


def themes_hash(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


class ThemeTagger:
    """Tags texts with theme ids: every theme whose terms they use, and the theme closest in meaning."""

    def __init__(self, themes: Sequence[Theme], embedder: Embedder, *,
                 min_similarity: float = MIN_THEME_SIMILARITY) -> None:
        self.themes = tuple(themes)
        self.patterns = [theme.pattern for theme in self.themes]
        self.vectors = embedder.encode([f"{t.label}. {t.description}" for t in self.themes])
        self.min_similarity = min_similarity

    def tag(self, texts: Sequence[str], vectors: np.ndarray) -> list[list[str]]:
        similarity = vectors @ self.vectors.T if len(texts) else np.zeros((0, len(self.themes)))
        tags = []
        for row, text in enumerate(texts):
            closest = int(np.argmax(similarity[row])) if len(self.themes) else -1
            tags.append([theme.id for column, (theme, pattern) in enumerate(zip(self.themes, self.patterns,
                                                                                strict=True))
                         if pattern.search(text)
                         or (column == closest and similarity[row, column] >= self.min_similarity)])
        return tags
