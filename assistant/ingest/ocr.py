"""Scanned PDF pages read with Tesseract: which pages are scans, rendering them, running the program, and
turning its output into the paragraphs the chunker expects.

Tesseract runs as a separate program (Debian's `tesseract-ocr` and `tesseract-ocr-eng`), fed the rendered
page on stdin; no Python binding is needed. Without it, scanned pages are reported, never guessed at.
"""

from __future__ import annotations

import io
import math
import os
import re
import shutil
import subprocess
from collections import Counter
from typing import Any

from ..params import OcrParams
from ..text import LIST_MARKER, PAGE_FURNITURE, join_lines
from .pdf_layout import CONTENTS_ENTRY, CONTENTS_TITLE, REPEATED_SHARE

INSTALL_HINT = "install tesseract-ocr"
# A line among the first or last EDGE_LINES of REPEATED_SHARE of the OCR'd pages is a running header/footer.
EDGE_LINES = 2
# Dotted leaders as Tesseract also reads them (dots with stray spaces, underscores) before a page number.
OCR_LEADERS = re.compile(r"(?:(?:\. ?){3,}|_{3,})\s*\d{1,4}$")
# A page with this many contents entries is a contents page (its "Contents" heading goes too).
CONTENTS_MIN_ENTRIES = 3
_LETTER = re.compile(r"[^\W\d_]")
# After the first word of a line, a "word" of punctuation alone (" ; ", " _ ", " | ") is a speck read as a
# mark; dashes, slashes, ampersands and per cent signs standing alone are real.
_SPECK = re.compile(r"(?<=\S) +(?:[^\w\s&/%–—-]|_)+(?=\s|$)")


class OcrFailed(Exception):
    """One page could not be read by OCR; the message says why (in words for the administrator)."""


def find_tesseract(params: OcrParams) -> str | None:
    """The full path of the Tesseract program, or None when it is not installed."""
    return shutil.which(params.executable)


def letter_count(text: str) -> int:
    return len(_LETTER.findall(text))


def image_cover(page: Any) -> float:
    """The share of the page's area its images cover (overlaps counted twice, capped at 1)."""
    import pypdfium2.raw as pdfium_c

    width, height = page.get_size()
    if width <= 0 or height <= 0:
        return 0.0
    covered = 0.0
    for image in page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,), max_depth=2):
        left, bottom, right, top = image.get_bounds()
        covered += max(min(right, width) - max(left, 0.0), 0.0) * max(min(top, height) - max(bottom, 0.0), 0.0)
    return min(covered / (width * height), 1.0)


def is_scanned(page: Any, text_layer: str, params: OcrParams) -> bool:
    """A page is a scan when its text layer has (almost) no letters and images cover most of it."""
    return letter_count(text_layer) < params.min_letters and image_cover(page) >= params.min_image_cover


def page_ranges(pages: list[int]) -> str:
    """'page 4', 'pages 1-12', 'pages 2, 5-7': 1-based page numbers as a person reads them."""
    runs: list[list[int]] = []
    for number in sorted(pages):
        if runs and number == runs[-1][-1] + 1:
            runs[-1].append(number)
        else:
            runs.append([number])
    text = ", ".join(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}" for run in runs)
    return f"page {text}" if len(pages) == 1 else f"pages {text}"


def ocr_page(page: Any, executable: str, params: OcrParams) -> str:
    """Render one PDF page and read it with Tesseract; the plain text it printed (raises OcrFailed)."""
    width, height = page.get_size()  # in points, 72 to the inch
    scale = min(params.dpi / 72, (params.max_megapixels * 1e6 / max(width * height, 1.0)) ** 0.5)
    image = page.render(scale=scale, grayscale=True).to_pil()
    buffer = io.BytesIO()
    image.save(buffer, format="PPM")  # uncompressed: quicker to write and for Tesseract to read than PNG
    command = [executable, "stdin", "stdout", "--psm", str(params.page_segmentation), "-l", params.language]
    # One thread per page: the machines are shared, and Tesseract's threads gain little on a single page.
    environment = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    try:
        done = subprocess.run(command, input=buffer.getvalue(), capture_output=True, env=environment,
                              timeout=params.page_timeout_seconds, check=False)
    except subprocess.TimeoutExpired:
        raise OcrFailed(f"OCR took longer than {params.page_timeout_seconds:g} s") from None
    except OSError as exc:
        raise OcrFailed(f"Tesseract could not be started ({exc.strerror or exc})") from None
    if done.returncode != 0:
        errors = [line for line in done.stderr.decode("utf-8", "replace").splitlines() if line.strip()]
        detail = errors[-1].strip() if errors else f"exit status {done.returncode}"
        raise OcrFailed(f"Tesseract failed ({detail})")
    return done.stdout.decode("utf-8", "replace")


def _line_key(line: str) -> str:
    """A line as compared across pages: lower case, digits alike ("Page 3 of 9" repeats), single spaces."""
    return " ".join(re.sub(r"\d+", "#", line.lower()).split())


def _text_lines(raw: str) -> list[str]:
    return [line for line in (" ".join(line.split()) for line in raw.replace("\f", "\n").splitlines()) if line]


def _edges(lines: list[str]) -> list[str]:
    return lines[:EDGE_LINES] + lines[-EDGE_LINES:]


def ocr_furniture(pages: list[str]) -> frozenset[str]:
    """Running headers and footers of OCR'd pages: lines (digits counted as alike) among the first or last
    EDGE_LINES of at least REPEATED_SHARE of the pages, and of two or more."""
    if len(pages) < 2:
        return frozenset()
    counts = Counter(key for raw in pages for key in {_line_key(line) for line in _edges(_text_lines(raw))})
    threshold = max(2, math.ceil(REPEATED_SHARE * len(pages)))
    return frozenset(key for key, count in counts.items() if count >= threshold and _LETTER.search(key))


def is_contents_entry(line: str) -> bool:
    """A contents-page line: a title, dotted leaders and a page number ('3. Findings ........ 12')."""
    return CONTENTS_ENTRY.search(line) is not None or OCR_LEADERS.search(line) is not None


def ocr_paragraphs(raw: str, furniture: frozenset[str] = frozenset()) -> str:
    """Tesseract's text as paragraphs: its blank lines end paragraphs, lines broken inside one are joined
    (a word hyphenated across the break made whole), a bullet starts an item, and lines with no letters
    (page numbers, specks read as punctuation), contents entries, the running headers and footers in
    `furniture` (see ocr_furniture) and marks standing alone inside a line are dropped; so is the heading
    of a contents page. No font sizes: every line is body text."""
    out: list[str] = []
    contents_page = sum(is_contents_entry(line) for line in _text_lines(raw)) >= CONTENTS_MIN_ENTRIES
    for block in re.split(r"\n\s*\n", raw.replace("\f", "\n\n")):
        current = ""
        for line in block.splitlines():
            spaced = " ".join(line.split())
            stripped = _SPECK.sub("", spaced)
            if not _LETTER.search(stripped) or PAGE_FURNITURE.match(stripped) or is_contents_entry(spaced) \
                    or _line_key(spaced) in furniture or (contents_page and CONTENTS_TITLE.match(stripped)):
                continue
            if current and LIST_MARKER.match(stripped):
                out.append(current)
                current = ""
            current = join_lines(current, stripped) if current else stripped
        if current:
            out.append(current)
    return "\n\n".join(out)
