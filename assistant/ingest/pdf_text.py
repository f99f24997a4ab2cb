"""A PDF page's text with its geometry: pdfium's characters grouped into segments (text on one baseline with no
wide gap inside) and rows (the segments sharing a baseline, left to right). Footnote markers (small raised
digits after a word) are taken off here; a hanging paragraph number or bullet joins the text beside it.
"""

from __future__ import annotations

import ctypes
import re
from dataclasses import dataclass, replace
from typing import Any

# A gap wider than this many times the type size splits a line into segments (table cells, columns).
SEGMENT_GAP = 1.2
# A gap wider than this share of the type size is a space between words.
WORD_GAP = 0.18
# Characters whose baselines differ by less than this share of the type size are on one line.
SAME_LINE = 0.35
# A digit at most this share of its neighbour's size, raised by at least RAISED of it, is a superscript.
SUPERSCRIPT_SIZE = 0.8
RAISED = 0.15
_MARKER = re.compile(r"^(?:[A-Z]?\d{1,3}(?:\.\d{1,3})+\.?|[A-Z]?\d{1,3}[.)]|\(?[a-z]{1,2}[.)]|\(\d{1,2}\)|[-*•●▪◦–])$")


@dataclass(frozen=True)
class PdfLine:
    """A printed line (or a segment of one) with the size and weight of its type and where it sits."""

    text: str
    size: float = 0.0
    bold: bool = False
    left: float = 0.0
    right: float = 0.0
    y: float = 0.0  # the baseline, in points from the top of the page
    gap: float = 0.0  # distance from the baseline of the line before it in its column (0: none)


Row = list[PdfLine]


@dataclass
class _Char:
    text: str
    left: float
    right: float
    y: float
    size: float
    index: int
    space_before: bool


def page_chars(textpage: Any, height: float) -> list[_Char]:
    """The page's printed characters in content order (pdfium's own generated spaces and breaks left out)."""
    import pypdfium2.raw as pdfium_c

    raw = textpage.raw
    box = pdfium_c.FS_RECTF()  # the loose box: the character's advance, not its ink
    origin_x, origin_y = ctypes.c_double(), ctypes.c_double()
    chars: list[_Char] = []
    space = False
    pending_high = 0
    for index in range(pdfium_c.FPDFText_CountChars(raw)):
        code = pdfium_c.FPDFText_GetUnicode(raw, index)
        if 0xD800 <= code < 0xDC00:
            pending_high = code
            continue
        if 0xDC00 <= code < 0xE000:
            if not pending_high:
                continue
            code, pending_high = 0x10000 + ((pending_high - 0xD800) << 10) + (code - 0xDC00), 0
        if code in (0, 0xFFFE, 0xFFFF) or pdfium_c.FPDFText_IsGenerated(raw, index) == 1:
            space = space or code in (0x20, 0x0D, 0x0A)
            continue
        text = chr(code)
        if text.isspace() or code == 0xA0:
            space = True
            continue
        pdfium_c.FPDFText_GetCharOrigin(raw, index, ctypes.byref(origin_x), ctypes.byref(origin_y))
        pdfium_c.FPDFText_GetLooseCharBox(raw, index, ctypes.byref(box))
        size = float(pdfium_c.FPDFText_GetFontSize(raw, index)) or max(box.top - box.bottom, 1.0)
        chars.append(_Char(text, box.left, max(box.right, box.left), height - origin_y.value, size, index, space))
        space = False
    return chars


def _is_superscript(char: _Char, neighbour: _Char | None) -> bool:
    return (neighbour is not None and char.text.isdigit() and char.size <= SUPERSCRIPT_SIZE * neighbour.size
            and neighbour.y - char.y >= RAISED * neighbour.size)


def _segments(chars: list[_Char]) -> list[list[_Char]]:
    """Runs of characters on one baseline without a wide gap; footnote markers dropped, a raised number at
    the start of a run (a footnote's own number) kept on its text's baseline."""
    runs: list[list[_Char]] = []
    current: list[_Char] = []
    reach = 0.0  # the right edge of the last character placed or dropped in the current run
    for position, char in enumerate(chars):
        previous = current[-1] if current else None
        after_word = previous is not None and 0 <= previous.y - char.y <= 0.7 * previous.size and (
            -0.5 * char.size <= char.left - reach < previous.size)
        if after_word and _is_superscript(char, previous):
            reach = char.right  # a marker after a word: left out, and no space for it
            continue
        following = next((c for c in chars[position + 1:position + 3] if not c.text.isdigit()), None)
        if not after_word and following is not None and _is_superscript(char, following):
            char = replace(char, y=following.y, size=following.size)  # a note's own number, raised
        same_line = previous is not None and abs(char.y - previous.y) <= SAME_LINE * max(char.size, previous.size)
        gap = char.left - reach
        if current and same_line and -0.5 * char.size <= gap <= SEGMENT_GAP * max(char.size, previous.size if
                                                                                  previous else 0):
            if gap > WORD_GAP * char.size:
                char.space_before = True
            current.append(char)
        else:
            if current:
                runs.append(current)
            char.space_before = False
            current = [char]
        reach = char.right
    if current:
        runs.append(current)
    return runs


def _font_is_bold(textpage: Any, index: int) -> bool:
    import pypdfium2.raw as pdfium_c

    font_name = ctypes.create_string_buffer(128)
    flags = ctypes.c_int()
    length = pdfium_c.FPDFText_GetFontInfo(textpage.raw, index, font_name, len(font_name), ctypes.byref(flags))
    weight = pdfium_c.FPDFText_GetFontWeight(textpage.raw, index)
    return (b"bold" in font_name.raw[:max(length - 1, 0)].lower() or bool(flags.value & (1 << 18))
            or weight >= 600)


def _line(run: list[_Char], textpage: Any) -> PdfLine:
    text = "".join((" " if char.space_before and i else "") + char.text for i, char in enumerate(run))
    sizes: dict[float, int] = {}
    for char in run:
        sizes[round(char.size, 1)] = sizes.get(round(char.size, 1), 0) + 1
    size = max(sizes, key=lambda s: sizes[s])
    baseline = next(char.y for char in run if round(char.size, 1) == size)
    return PdfLine(text, size, _font_is_bold(textpage, run[0].index), run[0].left, max(c.right for c in run), baseline)


def page_rows(textpage: Any, height: float) -> list[Row]:
    """The page's rows top to bottom, each its segments left to right."""
    lines = sorted((_line(run, textpage) for run in _segments(page_chars(textpage, height))),
                   key=lambda line: (line.y, line.left))
    rows: list[Row] = []
    for line in lines:
        if rows and abs(line.y - rows[-1][0].y) <= SAME_LINE * max(line.size, rows[-1][0].size):
            rows[-1].append(line)
        else:
            rows.append([line])
    return [_merge_row(sorted(row, key=lambda line: line.left)) for row in rows]


def _merge_row(row: Row) -> Row:
    """Segments closer than a wide gap become one (text written in pieces); a hanging paragraph number or
    bullet joins the text beside it."""
    merged: Row = []
    for line in row:
        last = merged[-1] if merged else None
        if last is not None and (line.left - last.right <= SEGMENT_GAP * max(line.size, last.size)
                                 or (_MARKER.match(last.text) and line.left - last.right < 4 * line.size)):
            merged[-1] = PdfLine(f"{last.text} {line.text}", line.size if _MARKER.match(last.text) else last.size,
                                 last.bold and line.bold, last.left, line.right, last.y)
        else:
            merged.append(line)
    return merged


def row_text(row: Row) -> str:
    return " ".join(line.text for line in row)
