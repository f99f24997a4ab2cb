"""Hybrid retrieval, the glossary and citing in context."""

from __future__ import annotations

from dataclasses import replace

import pytest

from assistant.errors import BadRequest
from assistant.glossary import load_glossary
from assistant.params import DEFAULT_RANKING
from assistant.retrieval import bounded_expression, check_k, in_context, search
from assistant.service import Assistant
from assistant.terms import keyword_terms


def test_keyword_terms_drop_stopwords_and_punctuation() -> None:
    assert keyword_terms("What should I do if a family won't engage?") == ["family", "won", "engage"]
    terms = keyword_terms('"quoted" AND NOT col:umn ^ * ( )')
    assert bounded_expression(terms, {}, DEFAULT_RANKING) == '"quoted" OR "col" OR "umn"'


def test_the_keyword_search_leaves_out_common_words_and_keeps_the_rarest() -> None:
    params = replace(DEFAULT_RANKING, keyword_max_postings=100, keyword_max_terms=2, keyword_fallback_terms=2)
    counts = {"child": 5000, "neglect": 120, "hoarding": 3, "garden": 40, "family": 900}
    assert bounded_expression(["child", "neglect", "hoarding", "garden"], counts, params) == '"hoarding" OR "garden"'
    # every word common: the rarest must appear together (an intersection, not every passage of each)
    assert bounded_expression(["child", "family", "neglect"], counts, params) == '"neglect" AND "family"'


def test_search_finds_the_passage_by_its_words(built: Assistant) -> None:
    hits = search(index=built.index(), embedder=built.embedder, query="Graded Care Profile neglect tool", k=3).hits
    assert "Graded Care Profile" in hits[0].stored.chunk.text
    assert hits[0].stored.meta.area == "Luton"
    assert all(-1.0 <= hit.score <= 1.0 for hit in hits)


def test_search_handles_fts_syntax_in_questions(built: Assistant) -> None:
    hits = search(index=built.index(), embedder=built.embedder, query='"unbalanced AND (NEAR* -col:x', k=2).hits
    assert len(hits) == 2


def test_passages_are_ordered_by_their_score_alone(built: Assistant) -> None:
    hits = search(index=built.index(), embedder=built.embedder, query="professional curiosity", k=8).hits
    assert len(hits) == 8
    assert [hit.fused for hit in hits] == sorted((hit.fused for hit in hits), reverse=True)


def test_each_piece_of_the_score_moves_the_ranking(built: Assistant) -> None:
    """Switching the sentence evidence, keyword and coverage parts off changes the order (they are used)."""
    query = "what did the health visitor not ask about the father"
    full = search(index=built.index(), embedder=built.embedder, query=query, k=10).hits
    bare = replace(DEFAULT_RANKING, sentence_weight=0.0, keyword_weight=0.0, focus_weight=0.0, coverage_weight=0.0)
    alone = search(index=built.index(), embedder=built.embedder, query=query, k=10, params=bare).hits
    assert [hit.fused for hit in alone] == pytest.approx([hit.score for hit in alone])  # cosine alone
    assert [hit.stored.id for hit in full] != [hit.stored.id for hit in alone]


def test_cited_in_context_adds_a_shortlisted_neighbour_within_the_word_limit(built: Assistant) -> None:
    index = built.index()
    retrieval = search(index=index, embedder=built.embedder, query="housing eviction and rent arrears", k=5)
    alone = in_context(retrieval, max_words=0)
    assert [hit.stored.id for hit in alone] == [hit.stored.id for hit in retrieval.hits]
    cited = in_context(retrieval, max_words=400)
    own_text = {hit.stored.id: hit.stored.chunk.text for hit in retrieval.hits}
    assert any(hit.stored.chunk.text != own_text[hit.stored.id] for hit in cited), "no passage was widened"
    spans: list[tuple[str, int, int]] = []
    for hit in cited:
        assert len(hit.stored.chunk.text.split()) <= 400
        assert own_text[hit.stored.id] in hit.stored.chunk.text  # the hit itself is always cited whole
        neighbours = [other for key, other in retrieval.shortlist.items() if key[0] == hit.stored.chunk.doc_id
                      and other.stored.chunk.text in hit.stored.chunk.text and other.stored.id != hit.stored.id]
        assert len(neighbours) == (hit.stored.chunk.text != own_text[hit.stored.id])  # one, and shortlisted
        chunk = hit.stored.chunk
        assert not any(doc == chunk.doc_id and start < chunk.end and chunk.start < end for doc, start, end in spans)
        spans.append((chunk.doc_id, chunk.start, chunk.end))  # no passage is cited twice


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


def test_past_the_size_threshold_the_keyword_words_share_a_budget_of_passages() -> None:
    params = replace(DEFAULT_RANKING, keyword_max_postings=2000, keyword_budget_min_passages=50_000,
                     keyword_max_rows=1500)
    counts = {"relocated": 900, "network": 700, "support": 1200, "family": 5000}
    terms = ["family", "relocated", "support", "network"]
    assert bounded_expression(terms, counts, params, passages=1_000) == '"network" OR "relocated" OR "support"'
    assert bounded_expression(terms, counts, params, passages=500_000) == '"network"'  # 700 + 900 > 1,500
    assert bounded_expression(["family"], counts, params, passages=1_000) == '"family"'
    assert bounded_expression(["family"], counts, params, passages=500_000) == ""  # no keyword signal left
