"""The themes reviews keep returning to, and tagging passages with them at build time."""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .embedding import Embedder
from .errors import BadRequest

# A passage is tagged with a theme whose terms it uses only if its meaning is at least this close (cosine) to
# the theme's description (a passing mention is not what a passage is about); and with the theme closest in
# meaning, terms or not, if at least MIN_THEME_SIMILARITY close ("the house was filthy and the children hungry"
# -> neglect). Calibrated with benchmarks/themes_quality.py --sweep on one real-world set's hand labels.
TERM_MIN_SIMILARITY = 0.20
MIN_THEME_SIMILARITY = 0.50
# A document of more than this many passages raises a theme only if two of its passages do, or a heading names
# it: one passage alone is a passing mention.
SHORT_DOCUMENT = 2


@dataclass(frozen=True)
class Theme:
    id: str
    label: str
    description: str
    terms: tuple[str, ...]
    group: str = ""

    @property
    def pattern(self) -> re.Pattern[str]:
        alternatives = [re.escape(term[:-1]) + r"\w*" if term.endswith("*") else re.escape(term) + r"\b"
                        for term in self.terms]
        return re.compile(r"\b(?:" + "|".join(alternatives) + ")", re.IGNORECASE)


@functools.lru_cache(maxsize=8)
def load_themes(*paths: Path) -> tuple[Theme, ...]:
    """The themes of the files given, in order: the built-in taxonomy, then a partnership's own
    (ASSISTANT_THEMES), whose themes are added (or, with an id already used, replace the built-in one)."""
    themes: dict[str, Theme] = {}
    for path in paths:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            found = [Theme(str(t["id"]), str(t["label"]), str(t["description"]), tuple(map(str, t["terms"])),
                           str(t.get("group", "Local themes"))) for t in data["themes"]]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise BadRequest(f"themes file {path} cannot be used: each theme needs id, label, description and "
                             f"terms ({type(exc).__name__}: {exc})") from None
        themes.update((theme.id, theme) for theme in found)
    return tuple(themes.values())


def themes_hash(*paths: Path) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(Path(path).read_bytes())
    return digest.hexdigest()[:16]


class ThemeTagger:
    """Tags one document's passages with theme ids: what each passage is about, by meaning and terms together,
    kept for the document only where more than a passing mention (see the constants above)."""

    def __init__(self, themes: Sequence[Theme], embedder: Embedder, *,
                 min_similarity: float = MIN_THEME_SIMILARITY, term_similarity: float = TERM_MIN_SIMILARITY) -> None:
        self.themes = tuple(themes)
        self.patterns = [theme.pattern for theme in self.themes]
        self.vectors = embedder.encode([f"{t.label}. {t.description}" for t in self.themes])
        self.min_similarity = min_similarity
        self.term_similarity = term_similarity

    def tag(self, texts: Sequence[str], vectors: np.ndarray, sections: Sequence[str | None] = ()) -> list[list[str]]:
        """`texts` (each passage with its section title) and `vectors` of one document's passages, and their
        `sections` (headings) when known."""
        similarity = vectors @ self.vectors.T if len(texts) else np.zeros((0, len(self.themes)))
        chosen: list[set[int]] = []
        for row, text in enumerate(texts):
            found = {column for column, pattern in enumerate(self.patterns)
                     if similarity[row, column] >= self.term_similarity and pattern.search(text)}
            closest = int(np.argmax(similarity[row])) if len(self.themes) else -1
            if closest >= 0 and similarity[row, closest] >= self.min_similarity:
                found.add(closest)
            chosen.append(found)
        counts = Counter(column for found in chosen for column in found)
        headed = {column for column, pattern in enumerate(self.patterns)
                  if any(section and pattern.search(section) for section in sections)}
        kept = {column for column, count in counts.items()
                if count >= 2 or column in headed or len(texts) <= SHORT_DOCUMENT}
        return [[self.themes[column].id for column in sorted(found & kept)] for found in chosen]
