"""Is the question covered? A small logistic model over four explainable measures of the evidence.

One cosine threshold drifts as a collection grows (a bigger collection always holds some sentence that is
fairly close), and words such as "child", "social care" or "threshold" are everywhere in this field. So
the judgement combines:

- `best`: the cosine of the closest sentence among the top passages (how well the best evidence fits);
- `margin`: how far that sentence stands out from the question's nearest sentences across the whole
  collection (a question the reviews answer has one passage far closer than the rest; a near-domain
  question is "fairly close" to many);
- `coverage`: the share of the question's specific content (its words weighted by rarity) that one top
  passage holds;
- `unknown`: the share of the question's specific words that no passage in the collection holds at all
  ("probate", "pension", "admission appeal"); shorthand of under four letters does not count.

The weights are fitted on the tuning questions (benchmarks/collection.py --fit) and live in AnswerParams.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from .params import AnswerParams
from .reader import OpenIndex
from .retrieval import Hit, Retrieval, keyword_terms
from .text import stem

COVERAGE_DIRECT = "direct"
COVERAGE_RELATED = "related"
COVERAGE_NONE = "none"


@dataclass(frozen=True)
class Evidence:
    best: float
    margin: float
    coverage: float
    unknown: float

    def as_dict(self) -> dict[str, float]:
        return {key: round(value, 4) for key, value in asdict(self).items()}

    def features(self) -> tuple[float, float, float, float]:
        return self.best, self.margin, self.coverage, self.unknown


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


def count_terms(*, question: str, index: OpenIndex, abbreviations: frozenset[str], params: AnswerParams,
                hidden: frozenset[str] = frozenset()) -> TermCounts:
    """The counts `measure` weighs the question's words by (no vector needed: run beside the encoding).
    Word rarity is counted over the reviews not `hidden` from the reader, so that it never tells whether a
    word occurs in a review they may not see."""
    terms = content_terms(question, abbreviations)
    if not terms:
        return TermCounts([], 0, {})
    return TermCounts(terms, max(index.passage_count(hidden), 1),
                      index.passage_frequencies(terms, cap=params.frequency_cap, hidden=hidden))


def measure(*, retrieval: Retrieval, counts: TermCounts, params: AnswerParams) -> Evidence:
    """The four measures for a question (with its abbreviations spelled out, counted by `count_terms`) and
    what retrieval found."""
    top = retrieval.hits[:params.answer_passages]
    best = max((hit.evidence for hit in top), default=0.0)
    nearest = retrieval.nearest_sentences
    background = nearest[min(params.background_rank, len(nearest) - 1)] if nearest else 0.0
    terms, frequencies = counts.terms, counts.frequencies
    if not terms:
        return Evidence(best, best - background, 0.0, 0.0)
    weight = {term: math.log((counts.passages + 1) / (frequencies[term] + 0.5)) for term in terms}
    known = [term for term in terms if frequencies[term] > 0]
    # Only whole words count as unknown: short tokens and codes ('yr', 'PEX', '2yo') are shorthand, not topics.
    worded = [term for term in terms if len(term) >= 4 and term.isalpha()]
    absent = sum(weight[t] for t in worded if frequencies[t] == 0) / max(sum(weight[t] for t in worded), 1e-9)
    return Evidence(best, best - background, passage_coverage(known, weight, top), absent)


def passage_coverage(terms: Sequence[str], weight: dict[str, float], hits: Sequence[Hit]) -> float:
    """The largest rarity-weighted share of `terms` that one passage (with its section title) holds."""
    if not terms:
        return 0.0
    stems = {term: stem(term) for term in terms}
    total = sum(weight[term] for term in terms)
    best = 0.0
    for hit in hits:
        chunk = hit.stored.chunk
        # split into words exactly as the question's terms are (keyword_terms), so both sides stem alike
        present = {stem(word) for word in keyword_terms(f"{chunk.section or ''} {chunk.text}")}
        best = max(best, sum(weight[t] for t in terms if stems[t] in present) / total)
    return best


def probability(evidence: Evidence, params: AnswerParams) -> float:
    """The fitted chance that the top passages answer the question directly."""
    z = params.bias + sum(w * x for w, x in zip(params.weights, evidence.features(), strict=True))
    return 1.0 / (1.0 + math.exp(-max(min(z, 60.0), -60.0)))


def judge(evidence: Evidence, params: AnswerParams) -> str:
    chance = probability(evidence, params)
    if chance >= params.direct_probability:
        return COVERAGE_DIRECT
    if chance >= params.related_probability and evidence.best >= params.related_min_best:
        return COVERAGE_RELATED
    return COVERAGE_NONE
