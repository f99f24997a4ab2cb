"""Extractive answers: cited sentences, abstention, follow-ups, validation."""

from __future__ import annotations

import re

import pytest

from assistant.answer import Turn, contextualise, validate_question
from assistant.errors import BadRequest
from assistant.service import Assistant


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


def test_followup_is_read_with_the_conversation() -> None:
    history = [Turn("how did Child N die?", "...")]
    assert contextualise("could his death have been prevented?", history) == (
        "how did Child N die? could his death have been prevented?")
    assert contextualise("what about teenagers?", history).startswith("how did Child N die?")
    standalone = "what should health visitors do about unexplained bruising in babies"
    assert contextualise(standalone, history) == standalone
    assert contextualise("anything", []) == "anything"


def test_searched_is_shown_when_the_glossary_changed_it(built: Assistant) -> None:
    assert "was not brought" in (built.ask("WNB appointments").searched or "")
    assert built.ask("Graded Care Profile tool").searched is None
