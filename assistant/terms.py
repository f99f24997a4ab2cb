"""A question's words: which carry its content, how rare each is in the collection, how much of them a
passage holds. Shared by the ranking (retrieval.py) and the judgement of coverage (answerability.py)."""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

from .params import AnswerParams
from .reader import OpenIndex
from .text import stem

STOPWORDS = frozenset("""
a about above after again against all am an and any are as at be because been before being below between
both but by can could did do does doing don down during each few for from further had has have having he her
here hers herself him himself his how i if in into is it its itself just me more most my myself no nor not
now of off on once only or other our ours ourselves out over own same she should so some such than that the
their theirs them themselves then there these they this those through to too under until up very was we
were what when where which while who whom why will with would you your yours yourself yourselves
anything something someone anyone thing things get got make made need needs want tell told know say
ought must might may shall us let lets i'm i've it's what's
""".split())


_WORD = re.compile(r"[a-z0-9]+")


def content_words(text: str) -> list[str]:
    """The words of a query that carry its content, lower-cased, in order (repeats kept)."""
    words = _WORD.findall(text.lower())
    return [word for word in words if word not in STOPWORDS and len(word) > 1]


def keyword_terms(text: str) -> list[str]:
    """The content words of a query, lower-cased and de-duplicated, in order."""
    return list(dict.fromkeys(content_words(text)))


# Reviews name the people in them by a letter: "Child Q", "Baby T", "Family K" (one letter, so no word alone).
PSEUDONYM = re.compile(r"\b((?i:child|baby|infant|sibling|family|adult|mother|father|young person))\s+"
                       r"([B-HJ-Z])\b")  # not "a child I saw"


def pseudonyms(text: str) -> list[str]:
    """The pseudonyms a question names ("Child Q" -> "child q"), searched as phrases."""
    return list(dict.fromkeys(f"{match.group(1).lower()} {match.group(2).lower()}"
                              for match in PSEUDONYM.finditer(text)))


def content_terms(question: str, abbreviations: frozenset[str]) -> list[str]:
    """The question's content words, without the abbreviations the glossary spells out (those are
    searched by their meaning, so their own letters say nothing about coverage)."""
    return [term for term in keyword_terms(question) if term not in abbreviations]


@dataclass(frozen=True)
class TermCounts:
    """A question's content words and how many passages (of those the reader may see) hold each."""

    terms: list[str]
    passages: int
    frequencies: dict[str, int]

    def rarity(self) -> dict[str, float]:
        """Each word's weight: the log of how many passages there are per passage holding it."""
        return {term: math.log((self.passages + 1) / (self.frequencies[term] + 0.5)) for term in self.terms}

    @functools.cached_property
    def _known(self) -> tuple[dict[str, float], dict[re.Pattern[str], float], float]:
        """The stems of the words some passage holds and the patterns of its phrases ("child q"), with their
        weights, and the weights' total."""
        weight = self.rarity()
        stems: dict[str, float] = {}
        phrases: dict[re.Pattern[str], float] = {}
        for term in dict.fromkeys(self.terms):
            if self.frequencies[term] == 0:
                continue
            if " " in term:
                phrases[re.compile(rf"\b{re.escape(term)}\b")] = weight[term]
            else:
                stems[stem(term)] = stems.get(stem(term), 0.0) + weight[term]
        return stems, phrases, sum(stems.values()) + sum(phrases.values())

    def share_held(self, text: str) -> float:
        """The rarity-weighted share of the question's words and pseudonyms (those some passage holds) that
        `text` holds, words compared as stems."""
        stems, phrases, total = self._known
        if not total:
            return 0.0
        lowered = text.lower()
        present = {stem(word) for word in set(_WORD.findall(lowered))}
        held = sum(weight for term, weight in stems.items() if term in present)
        return (held + sum(weight for pattern, weight in phrases.items() if pattern.search(lowered))) / total


def count_terms(*, question: str, index: OpenIndex, abbreviations: frozenset[str], params: AnswerParams,
                hidden: frozenset[str] = frozenset()) -> TermCounts:
    """The counts `measure` weighs the question's words by (no vector needed: run beside the encoding).
    Word rarity is counted over the reviews not `hidden` from the reader, so that it never tells whether a
    word occurs in a review they may not see."""
    terms = content_terms(question, abbreviations) + pseudonyms(question)
    if not terms:
        return TermCounts([], 0, {})
    return TermCounts(terms, max(index.passage_count(hidden), 1),
                      index.passage_frequencies(terms, cap=params.frequency_cap, hidden=hidden))


def best_share(counts: TermCounts, texts: Iterable[str]) -> float:
    """The largest share of the question's words that one of `texts` holds."""
    return max((counts.share_held(text) for text in texts), default=0.0)
