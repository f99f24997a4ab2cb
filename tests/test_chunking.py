"""Chunking along each seed review's own structure."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.ingest import chunk_document, load_document
from assistant.ingest.chunking import parse_units
from assistant.models import Chunk, DocumentMeta
from assistant.params import DEFAULT_CHUNKING, ChunkingParams

from .helpers import SEED_CORPUS


def chunks_of(name: str) -> list[Chunk]:
    return chunk_document(load_document(SEED_CORPUS / f"{name}.txt"), DEFAULT_CHUNKING)


def containing(chunks: list[Chunk], phrase: str) -> Chunk:
    return next(chunk for chunk in chunks if phrase in chunk.text)


def test_telford_themes_become_sections() -> None:
    chunks = chunks_of("2021-telford-wrekin-thematic-briefing-3")
    advice = containing(chunks, "practitioners should contact Family Connect")
    assert advice.section == "Theme 6: Lack of family engagement with Early Help & Support, and closure of cases"
    assert containing(chunks, "Think the unthinkable").section == "Theme 14: Professional curiosity"
    # the bullet list stays whole, one item per line
    assert "- Gather, share and record information\n- Don't take a snapshot" in containing(chunks, "Gather").text


def test_warwickshire_bold_findings_and_broken_paragraphs() -> None:
    chunks = chunks_of("2015-warwickshire-john-scr-response")
    housing = containing(chunks, "direct contact with the housing provider")
    assert housing.section is not None and housing.section.startswith("Finding One: In Warwickshire the lack")
    # a paragraph cut by a stray blank line is joined back together
    assert "housing provider, and Youth Justice practitioners will speak to parents" in housing.text
    assert "**" not in housing.text and "<sup>" not in "".join(c.text for c in chunks)
    assert containing(chunks, "CDOP manager").section.startswith("Finding four:")


def test_walker_thompson_learning_points_and_nested_recommendations() -> None:
    chunks = chunks_of("2021-cyscp-walker-thompson-7-point-briefing")
    assert containing(chunks, "children's sleeping arrangements").section == "Learning Point 3: Professional curiosity"
    recommendation = containing(chunks, "Neglect strategy will be reviewed")
    assert recommendation.section == (
        "Learning Point 1: Recognition and response to possible indicators of Neglect — Recommendations")
    assert containing(chunks, "knowledge of cultural diversity").section == "Learning point 7: Cultural issues"


def test_lancashire_agency_headings_and_numbered_items() -> None:
    chunks = chunks_of("2015-lancashire-liverpool-child-n-scr-response")
    assert containing(chunks, "Storm").section == "Merseyside Police"
    assert containing(chunks, "unexplained marks or bruises").section == "Private Day Nursery 1"
    numbered = containing(chunks, "To oversee the implementation")
    assert numbered.text.startswith("1. To oversee")


def test_luton_plain_line_headings() -> None:
    chunks = chunks_of("2016-luton-child-f-scr-response")
    assert containing(chunks, "Graded Care Profile").section == "Reducing child neglect in Luton"
    assert containing(chunks, "Community Safety Partnership").section == "Domestic Abuse"
    graded = containing(chunks, "Graded Care Profile, to help professionals identify neglect")
    assert graded.section == "Reducing child neglect in Luton"


@pytest.mark.parametrize("path", sorted(SEED_CORPUS.glob("*.txt")), ids=lambda p: p.stem)
def test_every_seed_chunk_is_quotable_and_placed(path: Path) -> None:
    document = load_document(path)
    chunks = chunk_document(document, DEFAULT_CHUNKING)
    assert len(chunks) >= 8
    sizes = [len(c.text.split()) for c in chunks]
    assert max(sizes) <= DEFAULT_CHUNKING.max_words
    assert sum(size < 150 for size in sizes) == len(sizes)
    assert [c.n for c in chunks] == list(range(len(chunks)))
    previous_end = -1
    for chunk in chunks:
        assert chunk.doc_id == document.doc_id
        assert 0 <= chunk.start < chunk.end <= len(document.text)
        assert chunk.start > previous_end - 1
        previous_end = chunk.end
        first_words = " ".join(chunk.text.lstrip("-0123456789. ").split()[:3])
        assert first_words.split()[0] in document.text[chunk.start:chunk.end]


def test_section_travels_into_indexed_text() -> None:
    chunk = Chunk(doc_id="d", n=0, section="Theme 6: Early help", page=None, start=0, end=10,
                  text="Parents may agree to support initially.")
    assert chunk.indexed_text() == "Theme 6: Early help\nParents may agree to support initially."


def test_sentence_like_short_lines_are_not_headings() -> None:
    units = parse_units("Fran Pearson\n\nIndependent Chair Luton Safeguarding Children Board\n\n15th October 2016\n")
    assert [u.kind for u in units] == ["para", "para", "para"]


def test_long_paragraph_is_split_on_sentences() -> None:
    sentence = "The practitioner visited the home and spoke with the mother about the baby's sleep. "
    document_text = "## Finding 1: Safer sleep\n\n" + sentence * 30
    from assistant.models import Document, DocumentMeta

    document = Document(doc_id="x", file_name="x.md", meta=DocumentMeta(title="x"), text=document_text,
                        content_hash="h")
    chunks = chunk_document(document, DEFAULT_CHUNKING)
    assert len(chunks) >= 3
    assert all(c.text.endswith("sleep.") for c in chunks)
    assert all(len(c.text.split()) <= DEFAULT_CHUNKING.max_words for c in chunks)


def test_paragraph_numbers_are_carried_on_every_chunk(tmp_path: Path) -> None:
    review = tmp_path / "numbered-review.txt"
    review.write_text(
        "Child X: overview report\n\n## 4. Agency involvement\n\n"
        "4.1 The school recorded the knife as a behaviour matter and informed the police the same day.\n\n"
        "4.2 No referral was made to children's social care. The designated safeguarding lead was not told.\n\n"
        "- the exclusion went ahead the next morning without a meeting\n\n"
        "## 5. Learning\n\n"
        "An introduction to the learning that carries no number of its own, written as plain text here.\n\n"
        "5.1 Schools should consult their designated safeguarding lead before any permanent exclusion.\n",
        encoding="utf-8")
    chunks = chunk_document(load_document(review), ChunkingParams(target_words=20, min_words=5))
    assert containing(chunks, "behaviour matter").paragraph == "4.1"
    assert containing(chunks, "No referral was made").paragraph == "4.2"
    assert containing(chunks, "without a meeting").paragraph == "4.2"  # an item under 4.2 belongs to 4.2
    assert containing(chunks, "carries no number").paragraph is None  # a heading resets the numbering
    assert containing(chunks, "Schools should consult").paragraph == "5.1"
    packed = chunk_document(load_document(review), ChunkingParams(target_words=100))
    assert containing(packed, "behaviour matter").paragraph == "4.1-4.2"


def test_paragraph_numbers_reach_citations_and_references(tmp_path: Path) -> None:
    from assistant.citations import citation_for
    from assistant.reader import StoredChunk

    chunk = Chunk(doc_id="r", n=3, section="5. Learning", page=14, start=0, end=10, text="x", paragraph="5.12")
    citation = citation_for(StoredChunk(1, chunk, DocumentMeta(title="Child X", year=2021)), 1, 0.5,
                            theme_labels={}, base_url="http://host/")
    assert citation.paragraph == "5.12"
    assert "5. Learning, para 5.12, p. 14." in citation.reference
