"""Extractive answers: cited sentences, abstention, follow-ups, validation."""

from __future__ import annotations

import re

import pytest

from assistant.answer import choose_quotes, compose_answer, passage_quotes, validate_question
from assistant.answerability import Evidence, judge, probability
from assistant.citations import citation_for
from assistant.errors import BadRequest
from assistant.models import Chunk, Citation, DocumentMeta
from assistant.params import AnswerParams
from assistant.reader import StoredChunk
from assistant.retrieval import Hit
from assistant.service import Assistant
from assistant.text import sentence_spans


def test_answer_quotes_sentences_of_cited_passages(built: Assistant) -> None:
    answer = built.ask("what does the Graded Care Profile help professionals identify?")
    assert answer.found
    markers = [int(n) for n in re.findall(r"\[(\d+)\]", answer.answer)]
    assert markers and markers[0] == 1
    by_n = {c.n: c for c in answer.citations}
    for sentence, n in re.findall(r"(.+?) \[(\d+)\]\s*", answer.answer):
        citation = by_n[int(n)]
        assert sentence.strip() in citation.text.replace("\n", " ")
    first = answer.citations[0]
    assert first.url == f"/documents/{first.doc_id}#chunk-{first.chunk_id.split('#')[1]}"
    assert first.title and first.year and first.area
    assert [c.n for c in answer.citations] == list(range(1, len(answer.citations) + 1))


def test_unrelated_question_is_not_answered(built: Assistant) -> None:
    answer = built.ask("banana bread recipe with walnuts")
    assert not answer.found
    assert answer.citations == []
    assert "do not appear to cover" in answer.answer


@pytest.mark.parametrize("question", ["", "   ", "\n\t", "x" * 2001, None, 42])
def test_bad_questions_are_refused(built: Assistant, question: object) -> None:
    with pytest.raises(BadRequest):
        built.ask(question)


def test_question_is_normalised() -> None:
    assert validate_question("  what   about\nneglect? ", max_chars=100) == "what about neglect?"


def test_searched_is_shown_when_the_glossary_changed_it(built: Assistant) -> None:
    assert "was not brought" in (built.ask("WNB appointments").searched or "")
    assert built.ask("Graded Care Profile tool").searched is None


@pytest.mark.parametrize("question", ["\u200b", "*", "?!", "'", "\u200b\u200b  \u2060"])
def test_symbols_and_invisible_characters_are_refused(built: Assistant, question: str) -> None:
    with pytest.raises(BadRequest):
        built.ask(question)


@pytest.mark.parametrize("question", ["x", "a", "the", "x *", "what is it?", "and then?"])
def test_nonsense_and_stopword_questions_are_not_answered(built: Assistant, question: str) -> None:
    answer = built.ask(question)
    assert not answer.found and answer.coverage == "none" and answer.citations == []


def test_lone_surrogate_is_removed_not_a_crash() -> None:
    assert validate_question("neglect\udfff?", max_chars=100) == "neglect?"


def hit_for(text: str, *, section: str | None = "Findings", title: str = "A review",
            sentences: list[tuple[float, tuple[int, int]]] | None = None) -> Hit:
    chunk = Chunk(doc_id="review", n=0, section=section, page=None, start=0, end=len(text), text=text)
    stored = StoredChunk(id=1, chunk=chunk, meta=DocumentMeta(title=title))
    scored = sentences if sentences is not None else [(0.5, span) for span in sentence_spans(text)]
    return Hit(stored, 0.5, 1.0, sentences=scored, sentence_score=max((s for s, _ in scored), default=None))


def test_headings_titles_and_fragments_are_never_quoted() -> None:
    text = ("Findings\nA review\nShort bit.\nPractitioners should record every missed appointment as was not "
            "brought and follow it up.")
    spans = sentence_spans(text)
    # the heading, the title and the fragment score highest, yet only the whole sentence is quoted
    scored = [(0.9 - 0.1 * i, span) for i, span in enumerate(spans)]
    quotes = passage_quotes(hit_for(text, sentences=scored), text)
    assert [quote for _, quote in quotes] == [
        "Practitioners should record every missed appointment as was not brought and follow it up."]


def test_a_sentence_that_leans_on_the_one_before_is_quoted_with_it() -> None:
    text = "The health visitor noted a bruise on the baby's ear. This was not followed up by anyone at all."
    spans = sentence_spans(text)
    quotes = passage_quotes(hit_for(text, sentences=[(0.9, spans[1]), (0.2, spans[0])]), text)
    assert quotes[0][1] == text


def test_the_same_point_is_not_quoted_twice() -> None:
    first = hit_for("Agencies should share information about the father with the health visitor promptly.")
    second = hit_for("Agencies should share information about the father with the health visitor promptly too.")
    citations = [Citation(n=n, doc_id="review", chunk_id=f"review#{n}", title="A review", area=None, year=None,
                          section=None, page=None, text=hit.stored.chunk.text, score=0.5, url="")
                 for n, hit in enumerate((first, second), start=1)]
    quotes = choose_quotes([first, second], citations, AnswerParams())
    assert [n for _, n in quotes] == [1]


def test_coverage_model_prefers_close_specific_evidence() -> None:
    params = AnswerParams()
    strong = Evidence(best=0.7, margin=0.25, coverage=0.8, unknown=0.0, score=1.2)
    weak = Evidence(best=0.45, margin=0.05, coverage=0.3, unknown=0.5, score=0.6)
    assert judge(strong, params) == "direct"
    assert judge(weak, params) == "none"
    assert probability(strong, params) > probability(weak, params)
    # unknown words (found nowhere in the collection) only ever lower the chance
    assert probability(Evidence(0.6, 0.15, 0.5, 0.6), params) < probability(Evidence(0.6, 0.15, 0.5, 0.0), params)


def test_related_answers_never_present_passages_as_the_answer(built: Assistant) -> None:
    answer = built.ask("Graded Care Profile neglect tool")
    assert answer.coverage in {"direct", "related", "none"}
    assert answer.found == (answer.coverage == "direct")
    related = compose_answer(question="q", searched="q", hits=built.hits_for("Graded Care Profile neglect tool"),
                             coverage="related", evidence=Evidence(0.4, 0.1, 0.3, 0.0),
                             cite=lambda hit, n: citation_for(hit.stored, n, hit.score, theme_labels={}, base_url=""))
    assert not related.found and related.coverage == "related" and related.citations
    assert related.answer.startswith("The reviews in this collection do not answer this directly")
    for citation in related.citations:  # only where to look is listed, never the passages' sentences
        assert citation.text.split(".")[0] not in related.answer
