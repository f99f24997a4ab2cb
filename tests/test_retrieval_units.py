"""Direct unit tests of retrieval and answer helpers, on small objects built by hand (no model, no index)."""

from __future__ import annotations

from typing import Any

import pytest

from assistant.models import Chunk, DocumentMeta
from assistant.reader import StoredChunk
from assistant.retrieval import (
    Hit,
    _joined,
    review_names,
)
from assistant.terms import TermCounts, best_share, keyword_terms, pseudonyms
from assistant.text import sentence_spans


def make_hit(n: int, text: str, *, doc_id: str = "review", section: str | None = "Findings", score: float = 0.5,
             fused: float = 0.1, sentence: tuple[int, int] | None = None, sentence_score: float | None = None,
             themes: list[str] | None = None) -> Hit:
    """A hit on passage `n` of `doc_id` (passages sit 1,000 characters apart), with every sentence scored."""
    chunk = Chunk(doc_id=doc_id, n=n, section=section, page=n + 1, start=n * 1000, end=n * 1000 + len(text),
                  text=text)
    stored = StoredChunk(id=n, chunk=chunk, meta=DocumentMeta(title=f"Review {doc_id}"), themes=list(themes or []))
    scored = [(0.1 * i, span) for i, span in enumerate(sentence_spans(text))]
    return Hit(stored, score, fused, sentence=sentence, sentence_score=sentence_score, sentences=scored)


def texts(hits: list[Hit]) -> list[str]:
    return [hit.stored.chunk.text for hit in hits]


def sentence_texts(hit: Hit) -> list[str]:
    return [hit.stored.chunk.text[start:end] for _, (start, end) in hit.sentences]


# --- review_names and reviews_named_in -------------------------------------------------------------

DOCUMENTS: list[dict[str, Any]] = [
    {"doc_id": "child-n", "area": "Lancashire and Liverpool",
     "title": "Response to the serious case review about Child N"},
    {"doc_id": "john", "area": "Warwickshire", "title": "Response to the 'John' serious case review"},
    {"doc_id": "child-f", "area": "Luton",
     "title": "Response to the serious case review following the death of Child F"},
    {"doc_id": "walker", "area": "CYSCP (children and young people's safeguarding partnership)",
     "title": "7-point briefing: Walker-Thompson family"},
    {"doc_id": "thematic", "area": "Telford and Wrekin",
     "title": "Learning from Local Reviews 2021: Thematic Briefing Note 3"},
    {"doc_id": "generic", "area": "Safeguarding, Board & Children", "title": "Serious Case Review"},
]
NAMES = review_names(DOCUMENTS)


def test_review_names_are_places_and_the_names_in_titles() -> None:
    assert NAMES.by_document == {
        "child-n": {"Lancashire", "Liverpool", "Child N"},
        "john": {"Warwickshire", "John"},
        "child-f": {"Luton", "Child F"},
        "walker": {"CYSCP", "Walker-Thompson"},
        "thematic": {"Telford", "Wrekin"},
        "generic": set(),  # generic words of an area never become names
    }


def test_missing_area_and_title_give_no_names() -> None:
    assert review_names([{"doc_id": "bare", "area": None, "title": None}]).by_document == {"bare": frozenset()}


def test_parentheses_hyphenated_generic_words_and_curly_quotes() -> None:
    names = review_names([
        {"doc_id": "beds", "area": "Bedford Borough (Bedfordshire)", "title": "Multi-Agency review about ‘Jane’"},
    ])
    assert names.by_document == {"beds": {"Bedford Borough", "Bedfordshire", "Jane"}}
    assert names.named_in("what did the Bedfordshire review say") == {"beds"}
    assert names.named_in("Multi-Agency working") == frozenset()


@pytest.mark.parametrize(("question", "expected"), [
    ("What did Luton learn about neglect?", {"child-f"}),
    ("What happened to Child N?", {"child-n"}),
    ("Was Child N's school told?", {"child-n"}),
    ("Compare Liverpool with Warwickshire", {"child-n", "john"}),
    ("Why was John not seen?", {"john"}),
    ("the Walker-Thompson family", {"walker"}),
    ("Telford: housing", {"thematic"}),
    # case-sensitive and whole-word only
    ("Lutonian services", set()),
    ("luton", set()),
    ("what happened to child n?", set()),
    ("Child Nina", set()),
    ("Johnson", set()),
    ("Mr Walker and Ms Thompson", set()),
    ("Walker-Thompsons", set()),
    ("Smith-Walker-Thompson", set()),
    ("Safeguarding Board practice with Children", set()),
])
def test_reviews_named_in_the_question(question: str, expected: set[str]) -> None:
    assert NAMES.named_in(question) == expected


# --- _joined (a passage cited with its neighbour) ---------------------------------------------------


def test_joined_sorts_parts_unions_themes_and_shifts_the_sentence() -> None:
    hit = make_hit(2, "Gamma sentence.", sentence=(0, 15), themes=["neglect"])
    parts = [hit, make_hit(1, "Beta.", themes=["housing", "neglect"]), make_hit(0, "Alpha.", themes=["alcohol"])]
    joined = _joined(hit, parts)
    assert joined.stored.chunk.text == "Alpha.\n\nBeta.\n\nGamma sentence."
    assert joined.stored.themes == ["alcohol", "housing", "neglect"]
    assert (joined.stored.chunk.n, joined.stored.chunk.page, joined.stored.chunk.start) == (0, 1, 0)
    assert joined.sentence is not None
    assert joined.stored.chunk.text[joined.sentence[0]:joined.sentence[1]] == "Gamma sentence."


def test_joined_shifts_every_scored_sentence_of_every_part() -> None:
    parts = [make_hit(7, "Seven one. Seven two."), make_hit(5, "Five one. Five two."), make_hit(6, "Six one.")]
    joined = _joined(parts[0], parts)
    assert sentence_texts(joined) == ["Five one.", "Five two.", "Six one.", "Seven one.", "Seven two."]
    assert [score for score, _ in joined.sentences] == pytest.approx([0.0, 0.1, 0.0, 0.0, 0.1])


def test_joined_leaves_a_missing_sentence_missing() -> None:
    hit = make_hit(2, "Two.")
    assert _joined(hit, [hit, make_hit(1, "One.")]).sentence is None


# --- TermCounts.share_held (the rarity-weighted share of a question's words a passage holds) -----------


def coverage(question: str, hits: list[Hit], frequencies: dict[str, int] | None = None) -> float:
    """best_share over the question's content words, each in 10 of 1,000 passages unless `frequencies` says."""
    terms = keyword_terms(question)
    counts = TermCounts(terms, 1000, {term: 10 for term in terms} | (frequencies or {}))
    return best_share(counts, (f"{hit.stored.chunk.section or ''} {hit.stored.chunk.text}" for hit in hits))


QUESTION = "How was neglect identified by the health visitor?"  # content words: neglect, identified, health, visitor


def test_coverage_is_the_best_share_held_by_any_one_passage() -> None:
    partial = make_hit(1, "The health visitor saw the home.")
    full = make_hit(2, "Neglect was identified late by the health visitors.")
    assert coverage(QUESTION, [partial]) == pytest.approx(0.5)
    assert coverage(QUESTION, [partial, full]) == pytest.approx(1.0)
    assert coverage(QUESTION, [full, partial]) == pytest.approx(1.0)
    assert coverage(QUESTION, [make_hit(3, "Nothing relevant here.")]) == 0.0
    assert coverage(QUESTION, []) == 0.0


def test_coverage_does_not_add_up_words_spread_across_passages() -> None:
    hits = [make_hit(1, "Neglect was identified."), make_hit(2, "The health visitor called.")]
    assert coverage(QUESTION, hits) == pytest.approx(0.5)


def test_a_rare_word_weighs_more_than_a_common_one() -> None:
    rare = make_hit(1, "Neglect was missed.")
    common = make_hit(2, "The health team met.")
    frequencies = {"neglect": 1, "health": 500}
    assert coverage(QUESTION, [rare], frequencies) > 0.25 > coverage(QUESTION, [common], frequencies)


def test_words_no_passage_holds_do_not_count() -> None:
    hit = make_hit(1, "The health visitor saw neglect.")
    assert coverage(QUESTION, [hit], {"identified": 0}) == pytest.approx(1.0)


def test_coverage_matches_stemmed_words() -> None:
    hit = make_hit(1, "Engagement with the parents was poor.")
    assert coverage("engaging parent", [hit]) == pytest.approx(1.0)


@pytest.mark.parametrize("question", ["", "What is it?"])
def test_coverage_is_zero_without_content_words(question: str) -> None:
    assert coverage(question, [make_hit(1, "What is it?")]) == 0.0


@pytest.mark.parametrize(("section", "expected"), [("Housing", 1.0), (None, 0.5)])
def test_words_in_the_section_title_count(section: str | None, expected: float) -> None:
    hit = make_hit(1, "Neglect was missed.", section=section)
    assert coverage("neglect and housing", [hit]) == pytest.approx(expected)


@pytest.mark.parametrize(("question", "expected"), [
    ("Child Q - who carried out the review?", ["child q"]),
    ("what happened to baby T and Family K?", ["baby t", "family k"]),
    ("a child I saw at school, Child A", []),  # "I" and "A" are words, not letters naming someone
    ("what about the child?", []),
])
def test_pseudonyms_are_found(question: str, expected: list[str]) -> None:
    assert pseudonyms(question) == expected


def test_a_pseudonym_counts_as_a_phrase() -> None:
    counts = TermCounts(["review", "child q"], 1000, {"review": 10, "child q": 2})
    assert counts.share_held("Child Q's review was published.") == pytest.approx(1.0)
    assert counts.share_held("The child quickly left; the review ended.") < 0.5  # 'child q' is not there
