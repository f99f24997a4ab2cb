"""Loaders per format. Each returns markdown-flavoured text and the offset where each page starts.

The format is judged by the file's content, not its name: a `.pdf` that is really something else is
reported as such. Headings are marked with `## ` and list items with `- ` so that one chunker serves
every format.
"""

from __future__ import annotations

import ctypes
import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import DocumentUnreadable
from ..params import DEFAULT_LAYOUT, DEFAULT_OCR, OcrParams, PdfLayoutParams
from ..text import LIST_MARKER, ends_clause, join_lines
from .ocr import (
    INSTALL_HINT,
    OcrFailed,
    PageProgress,
    find_tesseract,
    is_scanned,
    no_page_progress,
    ocr_page,
    ocr_paragraphs,
    page_ranges,
)

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
              progress: PageProgress = no_page_progress) -> LoadedText:
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
    if len(re.findall(r"[A-Za-z]{2,}", loaded.text)) < 5:
        raise DocumentUnreadable(f"{path.name}: no readable text found")
    return loaded


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

_PAGE_FURNITURE = re.compile(r"^\s*(page\s+)?\d{1,4}(\s+of\s+\d{1,4})?\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class PdfLine:
    """One printed line of a PDF page with the size and weight of its type."""

    text: str
    size: float = 0.0
    bold: bool = False


def load_pdf(data: bytes, name: str, *, layout: PdfLayoutParams = DEFAULT_LAYOUT, ocr: OcrParams = DEFAULT_OCR,
             progress: PageProgress = no_page_progress) -> LoadedText:
    """Read a PDF page by page: the text layer where there is one, Tesseract for scanned pages."""
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        raise DocumentUnreadable(f"{name}: not a readable PDF ({exc})") from None
    pages: list[list[PdfLine]] = []
    scanned: list[int] = []  # 0-based
    read: dict[int, str] = {}  # 0-based page -> its paragraphs, read by OCR
    warnings: list[str] = []
    try:
        for index in range(len(pdf)):
            page = pdf[index]
            textpage = page.get_textpage()
            pages.append(pdf_page_lines(textpage))
            textpage.close()
            if is_scanned(page, "".join(line.text for line in pages[-1]), ocr):
                scanned.append(index)
            page.close()
        if scanned:
            read, warnings = _read_scanned(pdf, scanned, name, ocr, progress)
    except pdfium.PdfiumError as exc:
        raise DocumentUnreadable(f"{name}: PDF page could not be read ({exc})") from None
    finally:
        pdf.close()
    is_scan = set(scanned)
    text_pages = [i for i in range(len(pages)) if i not in is_scan]
    has_text = any(re.search(r"[A-Za-z]{2,}", line.text) for i in text_pages for line in pages[i])
    if not has_text and not any(re.search(r"[A-Za-z]{2,}", text) for text in read.values()):
        if scanned:
            found_nothing = f"{page_ranges([i + 1 for i in scanned])} scanned, but OCR found no readable text"
            raise DocumentUnreadable(f"{name}: " + ("; ".join(warnings) or found_nothing))
        raise DocumentUnreadable(f"{name}: the PDF has no text layer and no scanned pages to read")
    body = body_font_size([line for i in text_pages for line in pages[i]])
    text_parts: list[str] = []
    page_starts: list[int] = []
    offset = 0
    for index, lines in enumerate(pages):
        page_starts.append(offset)
        if index in is_scan:  # read by OCR, or left out (no OCR) with a warning
            text = read.get(index, "")
        else:
            text = pdf_page_to_paragraphs(lines, body_size=body, layout=layout)
        text_parts.append(text)
        offset += len(text) + 2
    return LoadedText("\n\n".join(text_parts), page_starts, ocr_pages=sorted(i + 1 for i in read),
                      warnings=warnings)


def _read_scanned(pdf: Any, scanned: list[int], name: str, ocr: OcrParams,
                  progress: PageProgress) -> tuple[dict[int, str], list[str]]:
    """Read the scanned pages with Tesseract: their paragraphs (0-based page -> text) and what went wrong."""
    executable = find_tesseract(ocr)
    if executable is None:
        pages = page_ranges([i + 1 for i in scanned])
        verb = "is a scanned image" if len(scanned) == 1 else "are scanned images"
        return {}, [f"{pages} {verb} and OCR is not available ({INSTALL_HINT})"]
    read: dict[int, str] = {}
    failed: dict[str, list[int]] = {}
    for index in progress(scanned, len(scanned), f"OCR {name}"):
        page = pdf[index]
        try:
            read[index] = ocr_paragraphs(ocr_page(page, executable, ocr))
        except OcrFailed as exc:
            failed.setdefault(str(exc), []).append(index + 1)
        finally:
            page.close()
    warnings = [f"{page_ranges(numbers)} could not be read by OCR: {reason}" for reason, numbers in failed.items()]
    return read, warnings


def pdf_page_lines(textpage: Any) -> list[PdfLine]:
    """The page's lines, each with the font size and boldness of its first visible character."""
    import pypdfium2.raw as pdfium_c

    count = pdfium_c.FPDFText_CountChars(textpage.raw)
    text = textpage.get_text_range(0, count) if count > 0 else ""
    if len(text) != count:  # characters outside UCS-2: no per-character sizes, plain lines instead
        return [PdfLine(line) for line in textpage.get_text_bounded().splitlines()]
    font_name = ctypes.create_string_buffer(128)
    flags = ctypes.c_int()
    lines = []
    for match in re.finditer(r"[^\r\n]+", text):
        first = match.start() + len(match.group(0)) - len(match.group(0).lstrip())
        if first >= match.end():
            continue
        size = float(pdfium_c.FPDFText_GetFontSize(textpage.raw, first))
        length = pdfium_c.FPDFText_GetFontInfo(textpage.raw, first, font_name, len(font_name), ctypes.byref(flags))
        bold = b"bold" in font_name.raw[:max(length - 1, 0)].lower() or bool(flags.value & (1 << 18))
        lines.append(PdfLine(match.group(0), size, bold))
    return lines


def body_font_size(lines: list[PdfLine]) -> float:
    """The size most of the text is set in (by characters)."""
    sizes: dict[float, int] = {}
    for line in lines:
        if line.size:
            sizes[round(line.size, 1)] = sizes.get(round(line.size, 1), 0) + len(line.text)
    return max(sizes, key=lambda size: sizes[size]) if sizes else 0.0


def _is_heading_line(line: PdfLine, body_size: float, layout: PdfLayoutParams) -> bool:
    text = line.text.strip()
    if not body_size or not line.size or len(text) > 150 or not re.search(r"[A-Za-z]{2,}", text):
        return False
    return line.size >= body_size * layout.heading_size_ratio or (
        line.bold and line.size >= body_size * layout.bold_heading_size_ratio and len(text) < layout.heading_max_chars)


def pdf_page_to_paragraphs(page: list[PdfLine], *, body_size: float, layout: PdfLayoutParams) -> str:
    """Rebuild paragraphs from a PDF page's layout lines (pdfium gives one per printed line); lines set
    larger or bolder than the body text become `## ` headings."""
    lines = [line for line in page if line.text.strip() and not _PAGE_FURNITURE.match(line.text)]
    if not lines:
        return ""
    width = sorted(len(line.text.rstrip()) for line in lines)[int(len(lines) * layout.full_line_quantile)]
    out: list[str] = []
    current = ""
    heading: list[str] = []
    for line in lines:
        stripped = line.text.strip()
        if _is_heading_line(line, body_size, layout):
            if current:
                out.append(current)
                current = ""
            heading.append(stripped)  # a heading wrapped over two lines stays one heading
            continue
        if heading:
            out.append("## " + " ".join(heading))
            heading = []
        starts_new = not current or LIST_MARKER.match(stripped) is not None
        if starts_new:
            if current:
                out.append(current)
            current = stripped
        else:
            current = join_lines(current, stripped)
        short = len(stripped) < layout.short_line_ratio * width
        if short and (ends_clause(stripped) or not stripped[-1:].isalnum() or len(stripped) < 60):
            # A short line closes its paragraph (or is a heading on its own line).
            if not (stripped[-1:] in ",-" or stripped.split()[-1].lower() in {"and", "or", "the", "of", "to"}):
                out.append(current)
                current = ""
    if heading:
        out.append("## " + " ".join(heading))
    if current:
        out.append(current)
    return "\n\n".join(out)


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
            table = Table(element, document)
            for row in table.rows:
                cells = [cell.text.strip() for cell in row.cells if cell.text.strip()]
                if cells:
                    blocks.append(" | ".join(dict.fromkeys(cells)))
    return LoadedText("\n\n".join(blocks))


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
