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
  ("probate", "pension", "admission appeal"); shorthand of under four letters does not count;
- `score`: the best passage's ranking score (its cosine, closest sentence, keyword scores and the share of
  the question's words it holds together: see retrieval.search).

The weights are fitted on a real-world set (benchmarks/realworld.py --fit) and live in AnswerParams.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from .params import AnswerParams
from .retrieval import Retrieval
from .terms import TermCounts, best_share

COVERAGE_DIRECT = "direct"
COVERAGE_RELATED = "related"
COVERAGE_NONE = "none"


@dataclass(frozen=True)
class Evidence:
    best: float
    margin: float
    coverage: float
    unknown: float
    score: float = 0.0  # the best passage's ranking score (retrieval.search)

    def as_dict(self) -> dict[str, float]:
        return {key: round(value, 4) for key, value in asdict(self).items()}

    def features(self) -> tuple[float, float, float, float, float]:
        return self.best, self.margin, self.coverage, self.unknown, self.score


def measure(*, retrieval: Retrieval, counts: TermCounts, params: AnswerParams) -> Evidence:
    """The four measures for a question (with its abbreviations spelled out, counted by `count_terms`) and
    what retrieval found."""
    top = retrieval.hits[:params.answer_passages]
    best = max((hit.evidence for hit in top), default=0.0)
    nearest = retrieval.nearest_sentences
    background = nearest[min(params.background_rank, len(nearest) - 1)] if nearest else 0.0
    terms, frequencies = counts.terms, counts.frequencies
    score = max((hit.fused for hit in retrieval.hits), default=0.0)
    if not terms:
        return Evidence(best, best - background, 0.0, 0.0, score)
    weight = counts.rarity()
    # Only whole words count as unknown: short tokens and codes ('yr', 'PEX', '2yo') are shorthand, not topics.
    worded = [term for term in terms if len(term) >= 4 and term.isalpha()]
    absent = sum(weight[t] for t in worded if frequencies[t] == 0) / max(sum(weight[t] for t in worded), 1e-9)
    coverage = best_share(counts, (f"{hit.stored.chunk.section or ''} {hit.stored.chunk.text}" for hit in top))
    return Evidence(best, best - background, coverage, absent, score)


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
