"""Hybrid retrieval, the glossary and diversity."""

from __future__ import annotations

import pytest

from assistant.errors import BadRequest
from assistant.glossary import load_glossary
from assistant.retrieval import check_k, diversify, fts_expression, keyword_terms, search
from assistant.service import Assistant


def test_keyword_terms_drop_stopwords_and_punctuation() -> None:
    assert keyword_terms("What should I do if a family won't engage?") == ["family", "won", "engage"]
    expression = fts_expression('"quoted" AND NOT col:umn ^ * ( )')
    assert expression == '"quoted" OR "col" OR "umn"'


def test_search_finds_the_passage_by_its_words(built: Assistant) -> None:
    hits = search(index=built.index(), embedder=built.embedder, query="Graded Care Profile neglect tool", k=3).hits
    assert "Graded Care Profile" in hits[0].stored.chunk.text
    assert hits[0].stored.meta.area == "Luton"
    assert all(-1.0 <= hit.score <= 1.0 for hit in hits)


def test_search_handles_fts_syntax_in_questions(built: Assistant) -> None:
    hits = search(index=built.index(), embedder=built.embedder, query='"unbalanced AND (NEAR* -col:x', k=2).hits
    assert len(hits) == 2


def test_several_reviews_are_not_crowded_out(built: Assistant) -> None:
    hits = search(index=built.index(), embedder=built.embedder, query="professional curiosity", k=5).hits
    documents = {hit.stored.chunk.doc_id for hit in hits}
    assert len(documents) >= 3


def test_diversify_discounts_repeat_documents(built: Assistant) -> None:
    hits = search(index=built.index(), embedder=built.embedder, query="housing eviction", k=20).hits
    plain = diversify(hits, 5, decay=1.0)
    spread = diversify(hits, 5, decay=0.1)
    assert len({h.stored.chunk.doc_id for h in spread}) >= len({h.stored.chunk.doc_id for h in plain})
    assert len({h.stored.chunk.doc_id for h in spread}) >= 3


@pytest.mark.parametrize("k", [0, -1, 51, True, 2.5])
def test_k_is_bounded(k: object) -> None:
    with pytest.raises(BadRequest, match="k must be"):
        check_k(k)  # type: ignore[arg-type]


def test_glossary_expands_abbreviations_and_synonyms(built: Assistant) -> None:
    glossary = load_glossary(built.settings.glossary_path)
    expansion = glossary.expand("WNB for the HV appointment")
    assert "was not brought" in expansion.meanings and "health visitor" in expansion.meanings
    assert "did not attend" in expansion.related
    assert "was not brought" in expansion.dense_text and "did not attend" not in expansion.dense_text
    assert "did not attend" in expansion.keyword_text
    # lower-case "eh" is an interjection, not early help; "EH" is
    assert "early help" not in glossary.expand("eh, what now?").added
    assert "early help" in glossary.expand("referred to EH").added
    assert "lack of engagement" in glossary.expand("the family won't engage").related
    assert glossary.expand("nothing to expand here").keyword_text == "nothing to expand here"
