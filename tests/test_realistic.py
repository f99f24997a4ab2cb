"""Realistic report versions of each seed review (tests/realistic.py) read back as a reader would check them:
no header, footer or contents line in any passage; pages and paragraph numbers of known sentences; the
table's cells together on one row; two columns in reading order; footnotes kept, markers gone; Word too."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from assistant.ingest import chunk_document, load_document
from assistant.ingest.chunking import parse_units
from assistant.models import Chunk, Document
from assistant.params import DEFAULT_CHUNKING

from .helpers import SEED_CORPUS
from .realistic import Rendered, Sentence, render_docx, render_pdf, review_title

SEEDS = sorted(SEED_CORPUS.glob("*.txt"))


def _squash(text: str) -> str:
    return " ".join(text.split())


def known_sentences(rendered: Rendered, count: int = 20) -> list[Sentence]:
    """`count` sentences spread over the review, each long enough and printed once."""
    texts = [s.text for s in rendered.sentences]
    usable = [s for s in rendered.sentences
              if len(s.text.split()) >= 6 and texts.count(s.text) == 1 and s.paragraph is not None]
    step = max(len(usable) / count, 1)
    return [usable[int(i * step)] for i in range(min(count, len(usable)))]


@pytest.fixture(scope="module", params=SEEDS, ids=lambda path: path.stem)
def seed_pdf(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
             ) -> tuple[Rendered, Document, list[Chunk]]:
    source: Path = request.param
    folder = tmp_path_factory.mktemp(source.stem)
    shutil.copy(source.with_name(source.stem + ".meta.toml"), folder)
    rendered = render_pdf(source.read_text(encoding="utf-8"), folder / f"{source.stem}.pdf",
                          title=review_title(source))
    document = load_document(rendered.path)
    return rendered, document, chunk_document(document, DEFAULT_CHUNKING)


def test_no_header_footer_or_contents_line_in_any_passage(seed_pdf: tuple[Rendered, Document, list[Chunk]]) -> None:
    rendered, document, chunks = seed_pdf
    assert rendered.pages >= 5 and len(rendered.footers) == rendered.pages
    for chunk in chunks:
        text = chunk.indexed_text()
        assert rendered.header not in text
        assert "OFFICIAL" not in text
        assert not re.search(r"Page \d+ of \d+", text)
        assert "....." not in text and chunk.section != "Contents"
        lines = [_squash(line) for line in text.split("\n")]
        assert not set(lines) & {_squash(entry) for entry in rendered.contents}
    assert len(rendered.contents) >= 3
    assert all(chunk.page != 2 for chunk in chunks)  # the contents page is never cited


def test_page_and_paragraph_numbers_of_known_sentences(seed_pdf: tuple[Rendered, Document, list[Chunk]]) -> None:
    rendered, document, chunks = seed_pdf
    sentences = known_sentences(rendered)
    assert len(sentences) == 20
    squashed = _squash(document.text)
    for sentence in sentences:
        at = squashed.find(_squash(sentence.text))
        assert at >= 0, sentence.text
        offset = _offset_in(document.text, at)
        assert document.page_at(offset) == sentence.page, sentence.text
        holder = next(c for c in chunks if _squash(sentence.text) in _squash(c.text))
        assert sentence.paragraph is not None
        assert _paragraph_covers(holder.paragraph, sentence.paragraph), (sentence.text, holder.paragraph)
        assert holder.page is not None and holder.page <= sentence.page


def _offset_in(text: str, squashed_at: int) -> int:
    """The offset in `text` of the character at `squashed_at` in its whitespace-squashed form."""
    count = -1
    previous_space = True
    for offset, char in enumerate(text.strip()):
        if char.isspace():
            if not previous_space:
                count += 1
            previous_space = True
            continue
        count += 1
        previous_space = False
        if count == squashed_at:
            return offset + len(text) - len(text.lstrip())
    raise AssertionError("offset not found")


def _paragraph_covers(span: str | None, number: str) -> bool:
    if span is None:
        return False
    first, _, last = span.partition("-")
    key = [tuple(int(part) for part in value.split(".")) for value in (first, last or first, number)]
    return key[0] <= key[2] <= key[1]


def test_table_cells_together_on_one_row(seed_pdf: tuple[Rendered, Document, list[Chunk]]) -> None:
    rendered, _, chunks = seed_pdf
    rows = rendered.table_rows()
    assert any("Outcome: " in row and "|" in row for row in rows)
    for row in rows:
        assert sum(row in chunk.text.split("\n") or row in chunk.text for chunk in chunks) == 1, row


def test_two_columns_read_column_by_column(seed_pdf: tuple[Rendered, Document, list[Chunk]]) -> None:
    rendered, document, _ = seed_pdf
    assert rendered.two_column_page is not None
    assert len(rendered.left_column) >= 2 and rendered.right_column
    page = rendered.two_column_page
    squashed = _squash(document.text[document.page_starts[page - 1]:document.page_starts[page]])
    places = [squashed.find(" ".join(text.split()[:6])) for text in rendered.left_column + rendered.right_column]
    assert -1 not in places, "a sentence of the two-column page was broken up"
    assert places == sorted(places)  # every left-column sentence before the right column's, in order


def test_footnotes_kept_on_their_page_and_markers_gone(seed_pdf: tuple[Rendered, Document, list[Chunk]]) -> None:
    rendered, document, chunks = seed_pdf
    assert len(rendered.footnotes) == 2
    for number, text, page in rendered.footnotes:
        note = f"Footnote {number}: {text}"
        at = document.text.find(note)
        assert at >= 0 and document.page_at(at) == page
    for word in rendered.marked:  # the word a marker followed is printed without its digit
        assert re.search(re.escape(word) + r"(?=\s|$)", document.text)
        assert not re.search(re.escape(word.rstrip(".")) + r"\.?[12]\b", document.text)
    assert sum("Footnote " in chunk.text for chunk in chunks) >= 1


def test_same_headings_as_the_text_version(seed_pdf: tuple[Rendered, Document, list[Chunk]]) -> None:
    rendered, document, _ = seed_pdf
    source = next(path for path in SEEDS if path.stem == rendered.path.stem)
    wanted = [unit.text for unit in parse_units(source.read_text(encoding="utf-8")) if unit.kind == "heading"]
    found = {unit.text for unit in parse_units(document.text) if unit.kind == "heading"}
    assert [heading for heading in wanted if heading not in found] == []


@pytest.mark.parametrize("source", SEEDS, ids=lambda path: path.stem)
def test_word_version_numbers_and_table(source: Path, tmp_path: Path) -> None:
    rendered = render_docx(source.read_text(encoding="utf-8"), tmp_path / f"{source.stem}.docx",
                           title=review_title(source))
    document = load_document(rendered.path)
    chunks = chunk_document(document, DEFAULT_CHUNKING)
    assert rendered.header not in document.text and "Page " not in document.text
    for row in rendered.table_rows():
        assert row in document.text.split("\n\n")
    for sentence in known_sentences(rendered):
        holder = next(c for c in chunks if _squash(sentence.text) in _squash(c.text))
        assert sentence.paragraph is not None and _paragraph_covers(holder.paragraph, sentence.paragraph)
