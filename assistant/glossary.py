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
    meanings: tuple[str, ...] = ()  # what the abbreviations in the question stand for
    related: tuple[str, ...] = ()  # near-synonyms of phrases in the question

    @property
    def added(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.meanings + self.related))

    @property
    def keyword_text(self) -> str:
        """Everything searched by keyword: the question followed by all the added terms."""
        return _with(self.question, self.added)

    @property
    def dense_text(self) -> str:
        """What is embedded: the question with its abbreviations spelled out (synonyms blur the meaning)."""
        return _with(self.question, self.meanings)


def _with(question: str, terms: tuple[str, ...]) -> str:
    return f"{question} ({'; '.join(terms)})" if terms else question


@dataclass(frozen=True)
class Glossary:
    abbreviations: dict[str, tuple[str, ...]]
    case_sensitive: frozenset[str]
    synonyms: tuple[tuple[str, ...], ...]

    @functools.cached_property
    def abbreviation_terms(self) -> frozenset[str]:
        """The abbreviations as lower-case single words (as keyword_terms gives them)."""
        return frozenset(key.lower() for key in self.abbreviations if key.isalnum())

    @functools.cached_property
    def _abbreviation_patterns(self) -> tuple[tuple[str, re.Pattern[str], tuple[str, ...]], ...]:
        """Each abbreviation as a whole word (upper case always; any case unless listed case-sensitive), after
        the lower-case text a question must hold for it to match (a quick test before the pattern's)."""
        return tuple((abbreviation.lower(),
                      re.compile(rf"(?<![\w&]){re.escape(abbreviation)}(?![\w&])",
                                 0 if abbreviation in self.case_sensitive else re.IGNORECASE), spelled_out)
                     for abbreviation, spelled_out in self.abbreviations.items())

    @functools.cached_property
    def _synonym_patterns(self) -> tuple[tuple[tuple[str, str, re.Pattern[str]], ...], ...]:
        """Each synonym group's phrases with their whole-phrase patterns (compiled once, not per question), and
        the text each pattern needs."""
        return tuple(tuple((phrase, expand_contractions(phrase.lower()), _phrase_pattern(phrase)) for phrase in group)
                     for group in self.synonyms)

    def expand(self, question: str) -> Expansion:
        meanings: list[str] = []
        related: list[str] = []
        lowered = expand_contractions(question.lower())
        plain = question.lower()
        for needle, pattern, spelled_out in self._abbreviation_patterns:
            if needle in plain and pattern.search(question):
                meanings += [m for m in spelled_out if m.lower() not in lowered]
        # synonyms of what the abbreviations stand for count too: WNB -> was not brought -> did not attend
        spelled = " | ".join([lowered, *meanings]).lower()

        def said(needle: str, pattern: re.Pattern[str]) -> bool:
            return needle in spelled and pattern.search(spelled) is not None

        for group in self._synonym_patterns:
            if any(said(needle, pattern) for _, needle, pattern in group):
                related += [phrase for phrase, needle, pattern in group if not said(needle, pattern)]
        return Expansion(question, tuple(dict.fromkeys(meanings)), tuple(dict.fromkeys(related)))


_CONTRACTIONS = {"won't": "will not", "can't": "cannot", "n't": " not", "'re": " are", "'ve": " have",
                 "'ll": " will", "'m": " am"}


def expand_contractions(text: str) -> str:
    """'isn't' -> 'is not', "won't" -> 'will not': so glossary phrases match however they are typed."""
    text = text.replace("’", "'")
    for short, full in _CONTRACTIONS.items():
        text = text.replace(short, full)
    return text


def _phrase_pattern(phrase: str) -> re.Pattern[str]:
    return re.compile(rf"(?<!\w){re.escape(expand_contractions(phrase.lower()))}(?!\w)")


@functools.lru_cache(maxsize=4)
def load_glossary(path: Path) -> Glossary:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return Glossary(
        abbreviations={key: tuple(value) for key, value in data["abbreviations"].items()},
        case_sensitive=frozenset(data.get("case_sensitive", [])),
        synonyms=tuple(tuple(group) for group in data["synonyms"]),
    )
