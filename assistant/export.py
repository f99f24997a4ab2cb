"""Export collected extracts for training material: Markdown, CSV or Word, each with its full reference."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from .errors import BadRequest
from .models import Citation

FORMATS = ("md", "csv", "docx")
CSV_COLUMNS = ("title", "area", "year", "type", "section", "paragraph", "page", "text", "url", "themes", "reference")
TITLE = "Extracts from safeguarding case reviews"


@dataclass(frozen=True)
class ExportFile:
    content: bytes
    media_type: str
    file_name: str


def export_extracts(extracts: Sequence[Citation], fmt: str, *, base_url: str = "", today: date | None = None
                    ) -> ExportFile:
    """Every extract verbatim, in the order given, with title, area, year, type, section, page and link."""
    if fmt not in FORMATS:
        raise BadRequest(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")
    stamp = (today or date.today()).isoformat()
    name = f"safeguarding-review-extracts-{stamp}.{fmt}"
    if fmt == "md":
        return ExportFile(_markdown(extracts, base_url, stamp).encode("utf-8"), "text/markdown; charset=utf-8", name)
    if fmt == "csv":
        return ExportFile(_csv(extracts, base_url).encode("utf-8-sig"), "text/csv; charset=utf-8", name)
    return ExportFile(_docx(extracts, base_url, stamp),
                      "application/vnd.openxmlformats-officedocument.wordprocessingml.document", name)


def _reference_lines(extract: Citation, base_url: str) -> list[tuple[str, str]]:
    return [(label, str(value)) for label, value in (
        ("Review", extract.title), ("Area", extract.area), ("Year", extract.year), ("Type", extract.review_type),
        ("Section", extract.section), ("Paragraph", extract.paragraph), ("Page", extract.page),
        ("Link", base_url.rstrip("/") + extract.url),
    ) if value not in (None, "")]


# Markdown that review text could use to run something in a viewer that renders it: raw HTML and autolinks
# (<...>), links and images ([...](...)), character references (&...;). Backslash-escaped, each shows as itself.
_MARKDOWN_ACTIVE = re.compile(r"[<>\[\]\\]|&(?=#?\w+;)")


def md_text(text: str) -> str:
    """Review text as Markdown that shows it as written and never runs it."""
    return _MARKDOWN_ACTIVE.sub(lambda match: "\\" + match.group(0), text)


def _markdown(extracts: Sequence[Citation], base_url: str, stamp: str) -> str:
    lines = [f"# {TITLE}", "", f"{len(extracts)} extracts, exported {stamp}. Quote them with their references.", ""]
    for number, extract in enumerate(extracts, start=1):
        heading = f"{number}. {extract.title}" + (f" — {extract.section}" if extract.section else "")
        lines += [f"## {md_text(heading)}", ""]
        lines += [f"> {md_text(line)}" if line else ">" for line in extract.text.split("\n")]
        lines += [""] + [f"- **{label}:** {md_text(value) if label != 'Link' else value}"
                         for label, value in _reference_lines(extract, base_url)]
        if extract.themes:
            lines.append(f"- **Themes:** {md_text(', '.join(extract.themes))}")
        lines += [f"- **Reference:** {md_text(extract.reference)}", ""]
    return "\n".join(lines)


def _csv(extracts: Sequence[Citation], base_url: str) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for extract in extracts:
        writer.writerow([safe_cell(value) for value in (
            extract.title, extract.area or "", extract.year or "", extract.review_type or "", extract.section or "",
            extract.paragraph or "", extract.page or "", extract.text, base_url.rstrip("/") + extract.url,
            "; ".join(extract.themes), extract.reference)])
    return buffer.getvalue()


def safe_cell(value: object) -> object:
    """A cell a spreadsheet will not run: text starting with = + - @ (or a tab or carriage return) is
    prefixed with an apostrophe, which spreadsheets show as text."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _docx(extracts: Sequence[Citation], base_url: str, stamp: str) -> bytes:
    import docx
    from docx.shared import Pt

    document = docx.Document()
    document.add_heading(TITLE, level=1)
    document.add_paragraph(f"{len(extracts)} extracts, exported {stamp}. Each is quoted verbatim from the "
                           "published review named beneath it.")
    for number, extract in enumerate(extracts, start=1):
        document.add_heading(f"{number}. {extract.title}", level=2)
        quote = document.add_paragraph(style="Quote")
        for index, line in enumerate(extract.text.split("\n")):
            if index:
                quote.add_run().add_break()  # list items keep their own lines
            quote.add_run(line)
        reference = document.add_paragraph()
        for label, value in _reference_lines(extract, base_url):
            label_run = reference.add_run(f"{label}: ")
            label_run.bold = True
            label_run.font.size = Pt(9)
            value_run = reference.add_run(value)
            value_run.font.size = Pt(9)
            value_run.add_break()
        if extract.themes:
            reference.add_run("Themes: ").bold = True
            reference.add_run(", ".join(extract.themes)).font.size = Pt(9)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()
