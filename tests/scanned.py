"""Scanned variants of review texts for the OCR tests and benchmark: each page drawn as an image with a
TrueType font, turned slightly and speckled like a photocopy, saved as an image-only PDF (no text layer).

Deterministic: the same text, resolution and seed give the same pixels.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/truetype/liberation"))
FONT_FILES = {"body": ("DejaVuSans.ttf", "LiberationSans-Regular.ttf"),
              "bold": ("DejaVuSans-Bold.ttf", "LiberationSans-Bold.ttf")}
A4_INCHES = (8.27, 11.69)


@dataclass(frozen=True)
class ScanStyle:
    """How a page is printed and scanned."""

    dpi: int = 250
    body_points: float = 11.0
    heading_points: float = 14.0
    margin_inches: float = 0.9
    max_rotation_degrees: float = 0.8
    speckles_per_page: int = 1500
    seed: int = 7


def font_path(kind: str) -> Path:
    """An installed TrueType font (Debian's fonts-dejavu-core); a clear error when there is none."""
    for directory in FONT_DIRS:
        for name in FONT_FILES[kind]:
            if (directory / name).is_file():
                return directory / name
    raise FileNotFoundError("no TrueType font found: install fonts-dejavu-core (make ocr)")


def printed_blocks(text: str) -> Iterator[tuple[str, str]]:
    """The text as a printer sets it: ("heading" | "body", words), markdown markers taken off and the
    stray line breaks inside paragraphs joined."""
    for block in re.split(r"\n\s*\n", text):
        lines = [line.strip() for line in block.splitlines() if line.strip()]
        if not lines:
            continue
        heading = len(lines) == 1 and (lines[0].startswith("#") or re.fullmatch(r"\*\*.+\*\*:?", lines[0]))
        joined = " ".join(lines)
        joined = re.sub(r"^#+\s*", "", joined).replace("**", "").replace("__", "")
        joined = re.sub(r"<[^>]{1,20}>", "", joined)
        yield ("heading" if heading else "body"), " ".join(joined.split())


def _wrap(words: list[str], font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    lines: list[str] = []
    current = ""
    for word in words:
        trial = f"{current} {word}" if current else word
        if current and font.getlength(trial) > width:
            lines.append(current)
            current = word
        else:
            current = trial
    if current:
        lines.append(current)
    return lines


def render_pages(text: str, style: ScanStyle = ScanStyle()) -> list[Image.Image]:
    """The text set on A4 pages as greyscale images, turned and speckled."""
    rng = random.Random(style.seed)
    size = (round(A4_INCHES[0] * style.dpi), round(A4_INCHES[1] * style.dpi))
    margin = round(style.margin_inches * style.dpi)
    fonts = {kind: ImageFont.truetype(str(font_path("bold" if kind == "heading" else "body")),
                                      round((style.heading_points if kind == "heading" else style.body_points)
                                            * style.dpi / 72)) for kind in ("heading", "body")}
    pages: list[Image.Image] = []
    page, draw, y = None, None, 0
    for kind, words in printed_blocks(text):
        font = fonts[kind]
        line_height = round(font.size * 1.35)
        for line in _wrap(words.split(), font, size[0] - 2 * margin):
            if page is None or draw is None or y + line_height > size[1] - margin:
                if page is not None:
                    pages.append(page)
                page = Image.new("L", size, 255)
                draw = ImageDraw.Draw(page)
                y = margin
            draw.text((margin, y), line, font=font, fill=rng.randint(0, 40))
            y += line_height
        y += round(line_height * 0.8)  # the gap between paragraphs
    if page is not None:
        pages.append(page)
    return [_scan(page, rng, style) for page in pages]


def _scan(page: Image.Image, rng: random.Random, style: ScanStyle) -> Image.Image:
    """Turn the page a little and sprinkle it with specks of toner, as a photocopier would."""
    angle = rng.uniform(0.4, style.max_rotation_degrees) * rng.choice((-1, 1))
    turned = page.rotate(angle, resample=Image.Resampling.BILINEAR, fillcolor=255)
    draw = ImageDraw.Draw(turned)
    width, height = turned.size
    for _ in range(style.speckles_per_page):
        x, y, r = rng.randrange(width), rng.randrange(height), rng.choice((1, 1, 1, 2))
        draw.ellipse((x, y, x + r, y + r), fill=rng.randint(40, 160))
    return turned


def scanned_pdf(text: str, path: Path, style: ScanStyle = ScanStyle()) -> Path:
    """Write the text as an image-only PDF, one scanned image per page."""
    pages = render_pages(text, style)
    pages[0].save(path, format="PDF", save_all=True, append_images=pages[1:], resolution=float(style.dpi))
    return path


def normalised_words(text: str) -> list[str]:
    """Lower-case words with punctuation taken off ('Child F's' -> 'child', 'f', 's'; 'multi-agency' ->
    'multi', 'agency'), so that only the words themselves are compared."""
    return re.findall(r"[a-z0-9]+", text.lower().replace("’", "'"))


def word_recall(source: str, read: str) -> float:
    """The share of the source's word occurrences found in the text read back (as multisets)."""
    wanted = Counter(normalised_words(source))
    found = Counter(normalised_words(read))
    total = sum(wanted.values())
    return sum(min(count, found[word]) for word, count in wanted.items()) / total if total else 1.0
