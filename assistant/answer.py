"""Extractive answers: the sentences of the best passages that answer the question, each cited [n]."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .answerability import COVERAGE_DIRECT, COVERAGE_NONE, COVERAGE_RELATED, Evidence
from .errors import BadRequest
from .models import Answer, Citation
from .params import DEFAULT_ANSWER, AnswerParams
from .retrieval import Hit
from .text import (
    ends_sentence,
    sentence_spans,
    stem,
    strip_list_marker,
    strip_paragraph_number,
    visible_text,
    word_count,
    words,
)

MIN_QUOTE_WORDS = 5
LEANS_ON_BEFORE = re.compile(r"^(?:This|These|That|Those|It|They|Such|However|But|As a result|Therefore|"
                             r"He|She|His|Her|Their|Despite this|In addition)\b")

RELATED = ("The reviews in this collection do not answer this directly. These passages are related and may "
           "help you think it through, but they are not an answer to your question:")
NOT_COVERED = ("The published reviews in this collection do not appear to cover this question, so there is "
               "no passage to quote. Please follow your local procedures and talk to your manager or "
               "safeguarding lead.")


@dataclass(frozen=True)
class Turn:
    """One earlier exchange in a conversation."""

    question: str
    answer: str = ""


def validate_question(question: object, *, max_chars: int) -> str:
    """The question with invisible characters removed and spaces collapsed; refused when nothing is left."""
    if not isinstance(question, str):
        raise BadRequest("the question must be text")
    cleaned = visible_text(question)
    if not any(char.isalnum() for char in cleaned):
        raise BadRequest("the question is empty; type a question about safeguarding practice")
    if len(cleaned) > max_chars:
        raise BadRequest(f"the question is too long ({len(cleaned)} characters); the limit is {max_chars}")
    return cleaned


def compose_answer(*, question: str, searched: str, hits: Sequence[Hit], coverage: str, evidence: Evidence,
                   cite: Callable[[Hit, int], Citation], params: AnswerParams = DEFAULT_ANSWER,
                   follows: Sequence[str] = ()) -> Answer:
    """Quote whole sentences of the best passages, offer related passages as such, or say nothing fits."""
    shown = searched if searched != question else None
    measures = evidence.as_dict()
    context = {"follows": list(follows)}
    if coverage == COVERAGE_NONE or not hits:
        return Answer(question=question, found=False, answer=NOT_COVERED, citations=[], searched=shown,
                      coverage=COVERAGE_NONE, evidence=measures, **context)
    if coverage == COVERAGE_RELATED:
        related = list(hits[:params.answer_passages])
        citations = [cite(hit, n) for n, hit in enumerate(related, start=1)]
        lines = [f"- {c.section or c.title} ({c.title}) [{c.n}]" if c.section else f"- {c.title} [{c.n}]"
                 for c in citations]
        return Answer(question=question, found=False, answer=RELATED + "\n" + "\n".join(lines),
                      citations=citations, searched=shown, coverage=COVERAGE_RELATED, evidence=measures, **context)
    cited = [hit for hit in hits if hit.evidence >= params.cite_min_score] or list(hits[:1])
    citations = [cite(hit, n) for n, hit in enumerate(cited, start=1)]
    quotes = choose_quotes(cited, citations, params)
    text = " ".join(f"{quote} [{n}]" for quote, n in quotes)
    return Answer(question=question, found=True, answer=text, citations=citations, searched=shown,
                  coverage=COVERAGE_DIRECT, evidence=measures, **context)


def choose_quotes(hits: Sequence[Hit], citations: Sequence[Citation], params: AnswerParams) -> list[tuple[str, int]]:
    """Whole sentences, each verbatim from its citation: first the closest one of each top passage, then
    further ones from the best passages while the answer is under min_words; never past max_words, never
    the same point twice, never a sentence much weaker than the first. Returns (quote, citation n)."""
    worked_out: dict[int, list[tuple[float, str]]] = {}  # a passage's quotes, worked out when it is reached

    def options(position: int) -> list[tuple[float, str]]:
        if position not in worked_out:
            worked_out[position] = passage_quotes(hits[position], citations[position].text)
        return worked_out[position]

    chosen: list[tuple[int, float, str]] = []  # (passage position, sentence score, quote)
    seen: list[set[str]] = []

    def words_so_far() -> int:
        return sum(word_count(quote) for _, _, quote in chosen)

    def take_one(position: int) -> None:
        for score, quote in options(position):
            if chosen and score < chosen[0][1] - params.quote_score_drop:
                return
            stems = {stem(word) for word in words(quote)}
            if any(len(stems & other) / max(min(len(stems), len(other)), 1) >= params.duplicate_overlap
                   for other in seen):
                continue
            if chosen and words_so_far() + word_count(quote) > params.max_words:
                continue
            chosen.append((position, score, quote))
            seen.append(stems)
            return

    for position in range(len(hits)):  # one point from each top passage
        if position >= params.answer_passages and words_so_far() >= params.min_words:
            break
        take_one(position)
    for position in range(min(len(hits), params.answer_passages)):  # more from the best, if still short
        if words_so_far() >= params.min_words:
            break
        take_one(position)
    chosen.sort(key=lambda item: item[0])  # each passage's quotes together (stable), best passage first
    return [(quote, citations[position].n) for position, _, quote in chosen]


def passage_quotes(hit: Hit, text: str) -> list[tuple[float, str]]:
    """The passage's quotable sentences, closest to the question first; a sentence that leans on the one
    before it ("This was not followed up.") is quoted with it."""
    spans = sentence_spans(text)
    scored = sorted(hit.sentences, key=lambda item: -item[0]) or [(0.0, span) for span in spans]
    out: list[tuple[float, str]] = []
    for score, (start, end) in scored:
        sentence = text[start:end]
        if not is_quotable(sentence, hit):
            continue
        index = next((i for i, span in enumerate(spans) if span == (start, end)), None)
        if index and LEANS_ON_BEFORE.match(sentence):
            before_start, before_end = spans[index - 1]
            if text[before_end:start].strip() == "" and "\n" not in text[before_end:start] \
                    and is_quotable(text[before_start:before_end], hit):
                sentence = text[before_start:end]
        out.append((score, strip_paragraph_number(sentence)))
    return out


def is_quotable(sentence: str, hit: Hit) -> bool:
    """A whole sentence or list item of at least five words: never a title, heading or fragment."""
    cleaned = strip_paragraph_number(sentence)
    if word_count(cleaned) < MIN_QUOTE_WORDS or not cleaned[:1].isalnum():
        return False
    if cleaned.rstrip(":") in {hit.stored.chunk.section or "", hit.stored.meta.title}:
        return False
    if cleaned.endswith(":"):
        return False
    is_item = strip_list_marker(sentence) != sentence.strip()
    return is_item or ends_sentence(cleaned)
