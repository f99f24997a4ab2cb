"""Loaders per format. Each returns markdown-flavoured text and the offset where each page starts.

The format is judged by the file's content, not its name: a `.pdf` that is really something else is
reported as such. Headings are marked with `## ` and list items with `- ` so that one chunker serves
every format.
"""

from __future__ import annotations

import bisect
import io
import re
import time
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import DocumentUnreadable
from ..params import DEFAULT_LAYOUT, DEFAULT_OCR, OcrParams, PdfLayoutParams
from ..progress import Progress, no_progress
from .ocr import (
    INSTALL_HINT,
    OcrFailed,
    find_tesseract,
    is_scanned,
    ocr_furniture,
    ocr_page,
    ocr_paragraphs,
    page_ranges,
)
from .pdf_layout import (
    PageText,
    PdfPage,
    body_font_size,
    continues,
    page_layout,
    page_paragraphs,
    repeated_edges,
    with_footnotes,
)
from .pdf_text import page_rows, row_text

MAX_UNZIPPED_BYTES = 200 * 1024 * 1024
MAX_ZIP_RATIO = 200


@dataclass
class LoadedText:
    text: str
    page_starts: list[int] = field(default_factory=list)
    ocr_pages: list[int] = field(default_factory=list)  # 1-based pages whose text was read by OCR
    warnings: list[str] = field(default_factory=list)  # pages left out of the text, and why


def sniff_format(data: bytes) -> str:
    """Name the format from the first bytes: pdf, docx, html or text."""
    head = data[:2048].lstrip()
    if data.startswith(b"%PDF-"):
        return "pdf"
    if data.startswith(b"PK\x03\x04"):
        return "docx" if b"word/" in data[:65536] or _zip_has_word(data) else "zip"
    lowered = head[:512].lower()
    if lowered.startswith((b"<!doctype html", b"<html")) or b"<body" in lowered or b"<head" in lowered:
        return "html"
    if b"\x00" in data[:8192] or data.startswith((b"MZ", b"\x7fELF", b"\x89PNG", b"\xff\xd8\xff", b"GIF8")):
        return "binary"
    return "text"


def _zip_has_word(data: bytes) -> bool:
    """Whether a ZIP holds a Word document; a damaged one is left to the Word loader to report."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return any(name.startswith("word/") for name in archive.namelist())
    except zipfile.BadZipFile:
        return True


EXPECTED_FORMATS = {".pdf": "pdf", ".docx": "docx", ".html": "html", ".htm": "html", ".txt": "text", ".md": "text"}


def load_file(path: Path, *, layout: PdfLayoutParams = DEFAULT_LAYOUT, ocr: OcrParams = DEFAULT_OCR,
              progress: Progress = no_progress) -> LoadedText:
    """Load any supported file; raise DocumentUnreadable with the reason when it cannot be read."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DocumentUnreadable(f"{path.name}: cannot be read ({exc.strerror})") from None
    if not data.strip():
        raise DocumentUnreadable(f"{path.name}: the file is empty")
    expected = EXPECTED_FORMATS.get(path.suffix.lower())
    if expected is None:
        raise DocumentUnreadable(f"{path.name}: unsupported file type {path.suffix!r}")
    actual = sniff_format(data)
    # HTML saved as .txt/.md is read as text; anything else must be what its name says.
    if actual != expected and not (expected == "text" and actual == "html"):
        raise DocumentUnreadable(f"{path.name}: named {path.suffix} but the content is {_describe(actual)}")
    if expected == "pdf":
        loaded = load_pdf(data, path.name, layout=layout, ocr=ocr, progress=progress)
    else:
        loaded = {"docx": load_docx, "html": load_html, "text": load_text}[expected](data, path.name)
    loaded = without_control_characters(loaded)
    if len(re.findall(r"[A-Za-z]{2,}", loaded.text)) < 5:
        raise DocumentUnreadable(f"{path.name}: no readable text found")
    return loaded


# Control characters other than tab, newline and carriage return (from TXT files, HTML character references,
# odd PDFs): no output may meet them (XML refuses them: a Word export would fail), so they go at loading.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def without_control_characters(loaded: LoadedText) -> LoadedText:
    """The text without control characters, page starts moved back by as many as went before each."""
    removed = [match.start() for match in CONTROL_CHARACTERS.finditer(loaded.text)]
    if not removed:
        return loaded
    starts = [start - bisect.bisect_left(removed, start) for start in loaded.page_starts]
    return replace(loaded, text=CONTROL_CHARACTERS.sub("", loaded.text), page_starts=starts)


def _describe(kind: str) -> str:
    return {"pdf": "a PDF", "docx": "a Word document", "zip": "a ZIP archive", "html": "HTML",
            "binary": "binary data, not a document", "text": "plain text"}[kind]


def decode_text(data: bytes) -> str:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def load_text(data: bytes, name: str) -> LoadedText:
    return LoadedText(decode_text(data).replace("\r\n", "\n").replace("\r", "\n"))


# --- PDF -------------------------------------------------------------------------------------

def load_pdf(data: bytes, name: str, *, layout: PdfLayoutParams = DEFAULT_LAYOUT, ocr: OcrParams = DEFAULT_OCR,
             progress: Progress = no_progress) -> LoadedText:
    """Read a PDF page by page: the text layer where there is one (headers, footers and contents pages left
    out, see pdf_layout.py), Tesseract for scanned pages."""
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        raise DocumentUnreadable(f"{name}: not a readable PDF ({exc})") from None
    if len(pdf) > ocr.max_pdf_pages:
        count = len(pdf)
        pdf.close()
        raise DocumentUnreadable(f"{name}: {count} pages, more than the {ocr.max_pdf_pages} a review may have "
                                 "(ASSISTANT_MAX_PDF_PAGES)")
    pages: list[PdfPage] = []
    scanned: list[int] = []  # 0-based
    read: dict[int, str] = {}  # 0-based page -> its paragraphs, read by OCR
    warnings: list[str] = []
    try:
        for index in range(len(pdf)):
            page = pdf[index]
            textpage = page.get_textpage()
            pages.append(PdfPage(page_rows(textpage, page.get_height()), page.get_height()))
            textpage.close()
            if is_scanned(page, "".join(row_text(row) for row in pages[-1].rows), ocr):
                scanned.append(index)
            page.close()
        if scanned:
            read, warnings = _read_scanned(pdf, scanned, name, ocr, progress)
    except pdfium.PdfiumError as exc:
        raise DocumentUnreadable(f"{name}: PDF page could not be read ({exc})") from None
    finally:
        pdf.close()
    is_scan = set(scanned)
    text_pages = [page for i, page in enumerate(pages) if i not in is_scan]
    text_lines = [line for page in text_pages for row in page.rows for line in row]
    has_text = any(re.search(r"[A-Za-z]{2,}", line.text) for line in text_lines)
    if not has_text and not any(re.search(r"[A-Za-z]{2,}", text) for text in read.values()):
        if scanned:
            found_nothing = f"{page_ranges([i + 1 for i in scanned])} scanned, but OCR found no readable text"
            raise DocumentUnreadable(f"{name}: " + ("; ".join(warnings) or found_nothing))
        raise DocumentUnreadable(f"{name}: the PDF has no text layer and no scanned pages to read")
    body = body_font_size(text_lines)
    repeated = repeated_edges(text_pages)
    texts: list[PageText] = []
    for index, page in enumerate(pages):
        if index in is_scan:  # read by OCR, or left out (no OCR) with a warning
            texts.append(PageText([read[index]] if read.get(index) else [], open_end=False))
            continue
        structure = page_layout(page, repeated=repeated, pages=len(pages), body_size=body)
        paragraphs = page_paragraphs(structure.items, body_size=body, layout=layout)
        texts.append(PageText(with_footnotes(paragraphs, structure.footnotes), paragraphs.open_end))
    text_parts: list[str] = []
    page_starts: list[int] = []
    offset = 0
    for index, page_text in enumerate(texts):
        page_starts.append(offset)
        text = "\n\n".join(page_text.paragraphs)
        following = texts[index + 1] if index + 1 < len(texts) else None
        separator = "\n" if following is not None and continues(page_text, following) else "\n\n"
        text_parts.append(text + (separator if following is not None else ""))
        offset += len(text_parts[-1])
    return LoadedText("".join(text_parts), page_starts, ocr_pages=sorted(i + 1 for i in read), warnings=warnings)


def _read_scanned(pdf: Any, scanned: list[int], name: str, ocr: OcrParams,
                  progress: Progress) -> tuple[dict[int, str], list[str]]:
    """Read the scanned pages with Tesseract: their paragraphs (0-based page -> text) and what went wrong."""
    executable = find_tesseract(ocr)
    if executable is None:
        pages = page_ranges([i + 1 for i in scanned])
        verb = "is a scanned image" if len(scanned) == 1 else "are scanned images"
        return {}, [f"{pages} {verb} and OCR is not available ({INSTALL_HINT})"]
    raw: dict[int, str] = {}
    failed: dict[str, list[int]] = {}
    deadline = None if ocr.budget_seconds is None else time.monotonic() + ocr.budget_seconds
    for index in progress(scanned, len(scanned), f"OCR {name}"):
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            raise DocumentUnreadable(
                f"{name}: reading its {len(scanned)} scanned pages by OCR takes longer than the "
                f"{ocr.budget_seconds:g} s an upload may take; add it with `assistant index add` instead")
        page = pdf[index]
        try:
            raw[index] = ocr_page(page, executable, ocr if left is None else replace(
                ocr, page_timeout_seconds=min(ocr.page_timeout_seconds, left)))
        except OcrFailed as exc:
            failed.setdefault(str(exc), []).append(index + 1)
        finally:
            page.close()
    warnings = [f"{page_ranges(numbers)} could not be read by OCR: {reason}" for reason, numbers in failed.items()]
    furniture = ocr_furniture(list(raw.values()))
    return {index: ocr_paragraphs(text, furniture) for index, text in raw.items()}, warnings


# --- DOCX ------------------------------------------------------------------------------------

def check_zip_bomb(data: bytes, name: str) -> None:
    """Refuse archives that would expand to something huge."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            total = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile:
        raise DocumentUnreadable(f"{name}: not a readable Word document (damaged ZIP)") from None
    if total > MAX_UNZIPPED_BYTES or total > MAX_ZIP_RATIO * max(len(data), 1):
        raise DocumentUnreadable(f"{name}: refused, the document expands to {total // 1_000_000} MB")


def load_docx(data: bytes, name: str) -> LoadedText:
    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from docx.table import Table
    from docx.text.paragraph import Paragraph
    from lxml.etree import LxmlError

    check_zip_bomb(data, name)
    try:
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, KeyError, ValueError, zipfile.BadZipFile, LxmlError) as exc:
        raise DocumentUnreadable(f"{name}: not a readable Word document ({exc})") from None
    blocks: list[str] = []
    body = document.element.body
    for element in body.iterchildren():
        tag = element.tag.rsplit("}", 1)[-1]
        if tag == "p":
            paragraph = Paragraph(element, document)
            text = paragraph.text.strip()
            if not text:
                continue
            style = (paragraph.style.name if paragraph.style is not None else "") or ""
            if style.startswith(("Heading", "Title")):
                blocks.append(f"## {text}")
            elif style.startswith("List") or _is_numbered(paragraph):
                blocks.append(f"- {text}")
            else:
                blocks.append(text)
        elif tag == "tbl":
            blocks += table_rows([[" ".join(cell.text.split()) for cell in row.cells] for row in Table(element,
                                                                                                 document).rows])
    return LoadedText("\n\n".join(blocks))


def table_rows(rows: list[list[str]]) -> list[str]:
    """A table as readable rows: 'Agency: Police | Outcome: ...' under a header row; cells merged across
    columns (repeated by python-docx) said once; a table of one row as its cells."""
    rows = [list(dict.fromkeys(cell for cell in row if cell)) for row in rows]
    rows = [row for row in rows if row]
    if len(rows) < 2 or len(rows[0]) < 2:
        return [" | ".join(row) for row in rows]
    header, *body = rows
    return [" | ".join(f"{name}: {cell}" for name, cell in zip(header, row, strict=True)) if len(row) == len(header)
            else " | ".join(row) for row in body]


def _is_numbered(paragraph: object) -> bool:
    properties = getattr(getattr(paragraph, "_p", None), "pPr", None)
    return properties is not None and properties.numPr is not None


# --- HTML ------------------------------------------------------------------------------------

_BLOCK_TAGS = ["p", "div", "section", "article", "main", "br", "tr", "table", "ul", "ol", "blockquote", "dd", "dt"]


# Deeper nesting than this is refused: no real page needs it, and parsing it costs time out of proportion.
MAX_HTML_DEPTH = 400
_TAG = re.compile(r"<(/?)([a-zA-Z][\w:-]*)[^<>]*?(/?)>")
# Elements that never nest (void) or are often left unclosed in real pages (their end is implied): not counted.
_NOT_COUNTED = frozenset("""area base br col embed hr img input link meta param source track wbr p li dt dd tr td th
option thead tbody tfoot colgroup rp rt""".split())


def html_depth(html: str) -> int:
    """How deeply the page's elements nest (a linear scan of its tags; unclosed tags count as open)."""
    depth = deepest = 0
    for closing, tag, self_closing in _TAG.findall(html):
        if tag.lower() in _NOT_COUNTED or self_closing:
            continue
        depth = max(depth - 1, 0) if closing else depth + 1
        deepest = max(deepest, depth)
    return deepest


def load_html(data: bytes, name: str) -> LoadedText:
    from bs4 import BeautifulSoup

    html = decode_text(data)
    if html_depth(html) > MAX_HTML_DEPTH:
        raise DocumentUnreadable(f"{name}: the HTML nests more than {MAX_HTML_DEPTH} elements deep; refused")
    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["script", "style", "noscript", "template", "nav", "header", "footer", "svg", "form"]):
        tag.decompose()
    for level in range(1, 7):
        for heading in soup.find_all(f"h{level}"):
            heading.replace_with(f"\n\n## {' '.join(heading.get_text(' ').split())}\n\n")
    for item in soup.find_all("li"):
        item.insert_before("\n\n- ")
        item.insert_after("\n\n")
    for tag in soup.find_all(_BLOCK_TAGS):
        tag.insert_before("\n\n")
        tag.insert_after("\n\n")
    root = soup.body or soup
    lines = [" ".join(line.split()) for line in root.get_text().split("\n")]
    text = "\n".join(lines)
    text = re.sub(r"\n{3,}", "\n\n", text).strip()
    text = re.sub(r"^- *\n+", "- ", text, flags=re.MULTILINE)
    return LoadedText(text)
