"""A PDF page's structure from its rows: running headers and footers, contents pages, tables, footnotes and
columns; then the paragraphs in reading order (headings found by type size and weight).

Headers and footers are the rows repeated at the top or bottom of many pages (digits counted as alike, so
"Page 3 of 9" repeats), page numbers and protective markings; a contents page is one whose rows mostly end
in dotted leaders or page numbers. Both are left out of the text, never cited.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field

from ..params import PdfLayoutParams
from ..text import (
    LIST_MARKER,
    PAGE_FURNITURE,
    PARAGRAPH_NUMBER,
    PROTECTIVE_MARKING,
    ends_clause,
    ends_sentence,
    join_lines,
)
from .pdf_text import PdfLine, Row, row_text

# Rows in this share of the page's height at its top or bottom may be running headers or footers.
EDGE_SHARE = 0.12
# A row repeated at the top or bottom of at least this share of the pages (and two) is a header or footer.
REPEATED_SHARE = 0.5
# A page whose rows are at least this share contents entries (three or more) is a contents page.
CONTENTS_SHARE = 0.5
# Footnotes are set at most this share of the body size.
FOOTNOTE_SIZE = 0.9
# A line this many times its type size below the one before it starts a new paragraph (the gap between them).
PARAGRAPH_GAP = 1.7
CONTENTS_ENTRY = re.compile(r"(?:\.{3,}|…|(?:\. ){3,})\s*(\d{1,4})$")
CONTENTS_TITLE = re.compile(r"^(?:table of )?contents$", re.IGNORECASE)
_FOOTNOTE_START = re.compile(r"^(\d{1,3})\s+(\S.*)$")


@dataclass
class PdfPage:
    rows: list[Row]
    height: float


@dataclass
class PageLayout:
    """A page in reading order: lines and table rows (already 'Header: cell | ...'), and its footnotes."""

    items: list[PdfLine | str] = field(default_factory=list)
    footnotes: list[str] = field(default_factory=list)


def _key(row: Row) -> str:
    return " ".join(re.sub(r"\d+", "#", row_text(row).lower()).split())


def _edge_rows(page: PdfPage) -> list[Row]:
    top = [row for row in page.rows[:2] if row[0].y <= EDGE_SHARE * page.height]
    bottom = [row for row in page.rows[-2:] if row[0].y >= (1 - EDGE_SHARE) * page.height]
    return top + [row for row in bottom if not any(row is other for other in top)]


def repeated_edges(pages: list[PdfPage]) -> set[str]:
    """The (digit-normalised) texts of rows repeated at the top or bottom of many pages: headers, footers."""
    if len(pages) < 2:
        return set()
    counts = Counter(key for page in pages for key in {_key(row) for row in _edge_rows(page)})
    threshold = max(2, math.ceil(REPEATED_SHARE * len(pages)))
    return {key for key, count in counts.items() if count >= threshold and re.search(r"[a-z#]", key)}


def _is_furniture(row: Row, page: PdfPage, repeated: set[str]) -> bool:
    text = row_text(row).strip()
    if PROTECTIVE_MARKING.fullmatch(text):
        return True
    at_edge = any(row is edge for edge in _edge_rows(page))
    return at_edge and (_key(row) in repeated or PROTECTIVE_MARKING.search(text) is not None
                        or PAGE_FURNITURE.match(text) is not None)


def _contents_number(row: Row) -> int | None:
    """The page number a contents entry points to (after dotted leaders, or alone far to the right)."""
    if match := CONTENTS_ENTRY.search(row_text(row)):
        return int(match.group(1))
    last = row[-1]
    if len(row) >= 2 and re.fullmatch(r"\d{1,4}", last.text) and last.left - row[-2].right > 3 * last.size:
        return int(last.text)
    return None


def _drop_contents(rows: list[Row], pages: int) -> list[Row]:
    """Without contents entries: the whole page when it is mostly contents, else only the entries."""
    numbers = [(index, _contents_number(row)) for index, row in enumerate(rows)]
    entries = [(index, number) for index, number in numbers if number is not None and 0 < number <= pages + 2]
    if len(entries) < 3:
        return rows
    ascending = sum(b[1] >= a[1] for a, b in zip(entries, entries[1:], strict=False)) >= 0.8 * (len(entries) - 1)
    if not ascending:
        return rows
    if len(entries) >= CONTENTS_SHARE * len(rows):
        return []
    dropped = {index for index, _ in entries}
    return [row for index, row in enumerate(rows) if index not in dropped and not CONTENTS_TITLE.match(row_text(row))]


def _table_at(rows: list[Row], start: int) -> tuple[int, list[str]] | None:
    """A table starting at `start` (a header row of three or more cells): its end and its rows as text."""
    header = rows[start]
    if len(header) < 3:
        return None
    columns = [cell.left for cell in header]
    tolerance = 0.5 * header[0].size

    def column_of(cell: PdfLine) -> int | None:
        near = [i for i, x in enumerate(columns) if abs(cell.left - x) <= tolerance]
        return near[0] if near else None

    end = start + 1
    while end < len(rows):
        row = rows[end]
        places = [column_of(cell) for cell in row]
        if None in places or row[0].y - rows[end - 1][0].y > 4 * row[0].size:
            break
        if len(row) == 1:  # a wrapped cell's next line must stay inside its column
            place = places[0]
            assert place is not None
            limit = columns[place + 1] if place + 1 < len(columns) else math.inf
            if row[0].right > limit:
                break
        end += 1
    if end - start < 3:
        return None
    pitches = [rows[i][0].y - rows[i - 1][0].y for i in range(start + 1, end)]
    line_pitch = min(pitches)
    logical: list[list[list[str]]] = [[[] for _ in columns]]
    for index in range(start, end):
        if index > start and rows[index][0].y - rows[index - 1][0].y > 1.3 * line_pitch:
            logical.append([[] for _ in columns])
        for cell in rows[index]:
            place = column_of(cell)
            assert place is not None
            logical[-1][place].append(cell.text)
    cells = [[_join(parts) for parts in row] for row in logical]
    names = cells[0]
    texts = [" | ".join(f"{name}: {value}" if name else value for name, value in zip(names, row, strict=True) if value)
             for row in cells[1:]]
    return end, [text for text in texts if text]


def _join(parts: list[str]) -> str:
    text = ""
    for part in parts:
        text = join_lines(text, part) if text else part
    return text


def _footnotes(rows: list[Row], body_size: float) -> tuple[list[Row], list[str]]:
    """Small rows at the foot of the page that start with a note number: the page's footnotes."""
    start = len(rows)
    while start > 0 and body_size and max(line.size for line in rows[start - 1]) <= FOOTNOTE_SIZE * body_size:
        start -= 1
    while start < len(rows) and not _FOOTNOTE_START.match(row_text(rows[start])):
        start += 1
    if start == len(rows) or start == 0:
        return rows, []
    notes: list[str] = []
    for row in rows[start:]:
        text = row_text(row)
        if match := _FOOTNOTE_START.match(text):
            notes.append(f"Footnote {match.group(1)}: {match.group(2)}")
        else:
            notes[-1] = join_lines(notes[-1], text)
    return rows[:start], notes


def _column_runs(rows: list[Row | str]) -> list[tuple[int, int, float]]:
    """Runs of rows printed in two columns: (start, end, the gutter's middle)."""
    lines = [line for row in rows if not isinstance(row, str) for line in row]
    if not lines:
        return []
    middle = (min(line.left for line in lines) + max(line.right for line in lines)) / 2

    def split(row: Row | str) -> bool:
        return not isinstance(row, str) and all(line.right <= middle + 2 or line.left >= middle - 2 for line in row)

    runs: list[tuple[int, int, float]] = []
    index = 0
    while index < len(rows):
        if not split(rows[index]):
            index += 1
            continue
        end = index
        while end < len(rows) and split(rows[end]):
            end += 1
        block = [row for row in rows[index:end] if not isinstance(row, str)]
        right = sum(any(line.left >= middle - 2 for line in row) for row in block)
        left = sum(any(line.right <= middle + 2 for line in row) for row in block)
        if right >= 3 and left >= 3:
            runs.append((index, end, middle))
        index = end
    return runs


def _as_line(parts: list[PdfLine], previous: PdfLine | None) -> PdfLine:
    first = parts[0]
    gap = first.y - previous.y if previous is not None and first.y > previous.y else 0.0
    return PdfLine(" ".join(part.text for part in parts), first.size, first.bold, first.left, parts[-1].right,
                   first.y, gap)


def page_layout(page: PdfPage, *, repeated: set[str], pages: int, body_size: float) -> PageLayout:
    """The page's text in reading order, without furniture or contents, with tables as rows and footnotes apart."""
    rows = [row for row in page.rows if not _is_furniture(row, page, repeated)]
    rows = _drop_contents(rows, pages)
    rows, footnotes = _footnotes(rows, body_size)
    flow: list[Row | str] = []
    index = 0
    while index < len(rows):
        table = _table_at(rows, index)
        if table is None:
            flow.append(rows[index])
            index += 1
        else:
            index = table[0]
            flow.extend(table[1])
    layout = PageLayout(footnotes=footnotes)
    runs = {start: (end, middle) for start, end, middle in _column_runs(flow)}
    previous: PdfLine | None = None
    index = 0
    while index < len(flow):
        row = flow[index]
        if isinstance(row, str):
            layout.items.append(row)
            previous = None
            index += 1
            continue
        if index not in runs:
            previous = _as_line(row, previous)
            layout.items.append(previous)
            index += 1
            continue
        end, middle = runs[index]
        block = [row for row in flow[index:end] if not isinstance(row, str)]
        for left_column in (True, False):
            previous = None
            for block_row in block:
                parts = [line for line in block_row if (line.left < middle - 2) == left_column]
                if parts:
                    previous = _as_line(parts, previous)
                    layout.items.append(previous)
        previous = None
        index = end
    return layout


def body_font_size(lines: list[PdfLine]) -> float:
    """The size most of the text is set in (by characters)."""
    sizes: dict[float, int] = {}
    for line in lines:
        if line.size:
            sizes[round(line.size, 1)] = sizes.get(round(line.size, 1), 0) + len(line.text)
    return max(sizes, key=lambda size: sizes[size]) if sizes else 0.0


def _is_heading_line(line: PdfLine, body_size: float, layout: PdfLayoutParams, *, continuing: bool = False) -> bool:
    """Set larger or bolder than the body; a line without words ('2015') only as a heading's second line."""
    text = line.text.strip()
    wordy = continuing or re.search(r"[A-Za-z]{2,}", text)
    if not body_size or not line.size or len(text) > 150 or not wordy:
        return False
    return line.size >= body_size * layout.heading_size_ratio or (
        line.bold and line.size >= body_size * layout.bold_heading_size_ratio and len(text) < layout.heading_max_chars)


@dataclass
class PageText:
    paragraphs: list[str]
    open_end: bool  # the last paragraph runs on past the page's end


def page_paragraphs(items: list[PdfLine | str], *, body_size: float, layout: PdfLayoutParams) -> PageText:
    """Rebuild paragraphs from a page's lines in reading order: a short line, a wide gap above a line, a list
    marker or a paragraph number after a sentence's end starts a new one; lines set larger or bolder than the
    body text become `## ` headings; table rows stand alone."""
    lines = [item for item in items if isinstance(item, str) or item.text.strip()]
    lengths = sorted(len(item.text.rstrip()) for item in lines if not isinstance(item, str))
    width = lengths[int(len(lengths) * layout.full_line_quantile)] if lengths else 0
    out: list[str] = []
    current = ""
    heading: list[str] = []

    def close_heading() -> None:
        if heading:
            out.append("## " + " ".join(heading))
            heading.clear()

    # Where paragraphs are set apart by space, a short line ends one only at the foot of a column or page.
    spaced = any(not isinstance(line, str) and line.gap > PARAGRAPH_GAP * line.size for line in lines)
    for position, line in enumerate(lines):
        following = lines[position + 1] if position + 1 < len(lines) else None
        flow_ends = following is None or isinstance(following, str) or not following.gap
        if isinstance(line, str):
            close_heading()
            if current:
                out.append(current)
                current = ""
            out.append(line)
            continue
        stripped = line.text.strip()
        wide_gap = line.gap > PARAGRAPH_GAP * line.size
        if _is_heading_line(line, body_size, layout, continuing=bool(heading) and not wide_gap):
            if current:
                out.append(current)
                current = ""
            if wide_gap:
                close_heading()
            heading.append(stripped)  # a heading wrapped over two lines stays one heading
            continue
        close_heading()
        numbered = PARAGRAPH_NUMBER.match(stripped) is not None and (not current or ends_sentence(current))
        if not current or wide_gap or numbered or LIST_MARKER.match(stripped) is not None:
            if current:
                out.append(current)
            current = stripped
        else:
            current = join_lines(current, stripped)
        short = len(stripped) < layout.short_line_ratio * width and (flow_ends or not spaced)
        if short and (ends_clause(stripped) or not stripped[-1:].isalnum() or len(stripped) < 60):
            # A short line closes its paragraph (or is a heading on its own line).
            if not (stripped[-1:] in ",-" or stripped.split()[-1].lower() in {"and", "or", "the", "of", "to"}):
                out.append(current)
                current = ""
    close_heading()
    if current:
        out.append(current)
    return PageText(out, open_end=bool(current))


def continues(previous: PageText, following: PageText) -> bool:
    """Whether the next page's first paragraph carries on the last paragraph of the page before."""
    if not previous.open_end or not following.paragraphs or not previous.paragraphs:
        return False
    last, first = previous.paragraphs[-1], following.paragraphs[0]
    if first.startswith("## ") or PARAGRAPH_NUMBER.match(first) or LIST_MARKER.match(first):
        return False
    return not ends_sentence(last) or first[:1].islower()


def with_footnotes(text: PageText, footnotes: list[str]) -> list[str]:
    """The page's paragraphs with its footnotes at the end, or just before a paragraph running on."""
    if text.open_end and text.paragraphs:
        return [*text.paragraphs[:-1], *footnotes, text.paragraphs[-1]]
    return [*text.paragraphs, *footnotes]

