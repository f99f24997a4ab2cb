"""Extractive answers: the sentences of the best passages that answer the question, each cited [n]."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .errors import BadRequest
from .models import Answer, Citation
from .params import DEFAULT_ANSWER, AnswerParams
from .retrieval import Hit, keyword_terms
from .text import sentence_spans, stem, strip_list_marker, words

NOT_COVERED = ("The published reviews in this collection do not appear to cover this question, so there is "
               "no passage to quote. Please follow your local procedures and talk to your manager or "
               "safeguarding lead.")
_PRONOUNS = frozenset("he she they it this that those these him her his hers their them there its".split())
_CONTINUATIONS = ("what about", "how about", "and ", "what if", "also", "same for", "why ", "who ")


@dataclass(frozen=True)
class Turn:
    """One earlier exchange in a conversation."""

    question: str
    answer: str = ""


def validate_question(question: object, *, max_chars: int) -> str:
    if not isinstance(question, str):
        raise BadRequest("the question must be text")
    cleaned = " ".join(question.split())
    if not cleaned:
        raise BadRequest("the question is empty; type a question about safeguarding practice")
    if len(cleaned) > max_chars:
        raise BadRequest(f"the question is too long ({len(cleaned)} characters); the limit is {max_chars}")
    return cleaned


def contextualise(question: str, history: Sequence[Turn]) -> str:
    """Fold an elliptical follow-up into the conversation; leave a self-contained question alone."""
    if not history:
        return question
    lowered = question.lower()
    content = keyword_terms(question)
    elliptical = (
        len(content) <= 2
        or any(word.lower() in _PRONOUNS for word in words(question))
        or lowered.startswith(_CONTINUATIONS)
    )
    if not elliptical:
        return question
    previous = history[-1].question
    return f"{previous} {question}"


def keyword_coverage(question: str, hits: Sequence[Hit]) -> float:
    """The largest share of the question's content words that one of the passages contains."""
    terms = {stem(term) for term in keyword_terms(question)}
    if len(terms) < 2:
        return 0.0
    best = 0.0
    for hit in hits:
        chunk = hit.stored.chunk
        present = {stem(word) for word in words(f"{chunk.section or ''} {chunk.text}")}
        best = max(best, len(terms & present) / len(terms))
    return best


def is_covered(question: str, hits: Sequence[Hit], min_score: float, params: AnswerParams) -> bool:
    """Found when a top passage (or one of its sentences) is close in meaning to the question, or holds
    nearly every word of it."""
    if not hits:
        return False
    top = hits[:params.answer_passages]
    evidence = max(hit.evidence for hit in top)
    return evidence >= min_score or keyword_coverage(question, top) >= params.min_coverage


def compose_answer(*, question: str, searched: str, hits: Sequence[Hit], min_score: float,
                   cite: Callable[[Hit, int], Citation], params: AnswerParams = DEFAULT_ANSWER) -> Answer:
    """Quote the best sentence of each of the top passages, or say plainly that nothing fits."""
    found = is_covered(question, hits, min_score, params)
    shown = searched if searched != question else None
    if not found:
        nearest = list(dict.fromkeys(
            f"{hit.stored.chunk.section or hit.stored.meta.title} ({hit.stored.meta.title})" for hit in hits[:3]
        ))
        text = NOT_COVERED
        if nearest:
            text += " The nearest material in the reviews is about: " + "; ".join(nearest) + "."
        return Answer(question=question, found=False, answer=text, citations=[], searched=shown)
    cited = [hit for hit in hits if hit.evidence >= min_score * params.cite_fraction] or list(hits[:1])
    citations = [cite(hit, n) for n, hit in enumerate(cited, start=1)]
    quoted = [(hit, c) for hit, c in list(zip(cited, citations, strict=True))[:params.answer_passages]
              if hit.evidence >= min_score] or [(cited[0], citations[0])]
    parts = []
    for hit, citation in quoted:
        # the passage's sentence closest in meaning to the question (search finds one for every hit)
        start, end = hit.sentence or sentence_spans(citation.text)[0]
        parts.append(f"{strip_list_marker(citation.text[start:end])} [{citation.n}]")
    return Answer(question=question, found=True, answer=" ".join(parts), citations=citations, searched=shown)
