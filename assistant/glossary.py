"""The safeguarding glossary: abbreviations and near-synonyms that widen what a question searches for."""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Expansion:
    """A question and the words the glossary added to it."""

    question: str
    added: tuple[str, ...]

    @property
    def text(self) -> str:
        """What is actually searched: the question followed by the added terms."""
        return f"{self.question} ({'; '.join(self.added)})" if self.added else self.question


@dataclass(frozen=True)
class Glossary:
    abbreviations: dict[str, tuple[str, ...]]
    case_sensitive: frozenset[str]
    synonyms: tuple[tuple[str, ...], ...]

    def expand(self, question: str) -> Expansion:
        added: list[str] = []
        lowered = question.lower()
        for abbreviation, meanings in self.abbreviations.items():
            flags = 0 if abbreviation in self.case_sensitive else re.IGNORECASE
            if re.search(rf"(?<![\w&]){re.escape(abbreviation)}(?![\w&])", question, flags):
                added += [m for m in meanings if m.lower() not in lowered]
        for group in self.synonyms:
            if any(_contains_phrase(lowered, phrase) for phrase in group):
                added += [phrase for phrase in group if not _contains_phrase(lowered, phrase)]
        return Expansion(question, tuple(dict.fromkeys(added)))


def _contains_phrase(text: str, phrase: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(phrase.lower())}(?!\w)", text) is not None


@functools.lru_cache(maxsize=4)
def load_glossary(path: Path) -> Glossary:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return Glossary(
        abbreviations={key: tuple(value) for key, value in data["abbreviations"].items()},
        case_sensitive=frozenset(data.get("case_sensitive", [])),
        synonyms=tuple(tuple(group) for group in data["synonyms"]),
    )
