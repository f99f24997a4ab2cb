"""Realistic report versions of review texts for the layout tests and benchmarks: a PDF with a title page, a
contents page (dotted leaders, page numbers), a running header and footer, numbered paragraphs with hanging
numbers, footnotes, a table of agency involvement and one two-column page; and a Word version with a header,
footer, numbered paragraphs and the same table.

Every line is placed by this module (not flowed by fpdf), so it knows where each sentence was printed: the
`Rendered` it returns is the ground truth the tests check the loader against. Deterministic: the same text
gives the same file.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from fpdf import FPDF

from assistant.ingest.chunking import parse_units
from assistant.text import paragraph_number, sentence_spans, strip_paragraph_number

from .scanned import font_path

PAGE_W, PAGE_H = 595.28, 841.89  # A4 in points
LEFT, RIGHT, TOP, BOTTOM = 72.0, PAGE_W - 72.0, 78.0, PAGE_H - 70.0
HANG = 32.0  # paragraph numbers and bullets hang this far left of their text
GUTTER = 28.0
BODY, LEAD = 11.0, 15.0
HEAD, HEAD_LEAD = 14.0, 18.0
NOTE, NOTE_LEAD = 8.0, 10.5
CELL, CELL_LEAD, PAD = 9.0, 11.5, 9.0
TABLE_HEADER = ["Agency", "Involvement", "Last contact", "Outcome"]
TABLE_ROWS = [
    ["Health visiting", "New birth visit and two development reviews, all at the family home", "12 March",
     "Weight and feeding recorded; the sleeping arrangements were not seen"],
    ["Children's social care", "Contact team screened two police notifications", "3 June",
     "Closed with advice to the family; no strategy discussion held"],
    ["Primary school", "Attendance and welfare monitored by the designated safeguarding lead", "19 September",
     "Concerns logged; early help offered and declined by the parents"],
    ["GP practice", "Missed immunisations followed up by letter", "2 November",
     "No face-to-face review of the children"],
    ["Police", "Attended two reported incidents at the family address", "27 November",
     "Risk graded standard; information shared the next day"],
]
TABLE_WIDTHS = [0.22, 0.32, 0.16, 0.30]
FOOTNOTES = [
    "The dates in this report come from the chronology agencies gave the reviewer and were checked against "
    "their case records.",
    "Statutory guidance on reviews is set out in Working Together to Safeguard Children.",
]


@dataclass
class Sentence:
    text: str
    page: int  # where its first word was printed
    paragraph: str | None  # the number printed beside its paragraph


@dataclass
class Rendered:
    """What was printed where: the ground truth for one generated file."""

    path: Path
    title: str
    header: str
    pages: int = 0
    footers: list[str] = field(default_factory=list)
    contents: list[str] = field(default_factory=list)  # the contents lines as printed (title, page)
    sentences: list[Sentence] = field(default_factory=list)  # every body sentence, in order
    table: list[list[str]] = field(default_factory=lambda: [TABLE_HEADER, *TABLE_ROWS])
    footnotes: list[tuple[int, str, int]] = field(default_factory=list)  # number, text, page
    marked: list[str] = field(default_factory=list)  # the words a footnote marker follows
    two_column_page: int | None = None
    left_column: list[str] = field(default_factory=list)  # sentences begun in each column of that page
    right_column: list[str] = field(default_factory=list)

    def table_rows(self) -> list[str]:
        """Each table row as the loader should read it: 'Agency: Police | Involvement: ... | ...'."""
        header = self.table[0]
        return [" | ".join(f"{name}: {cell}" for name, cell in zip(header, row, strict=True)) for row in self.table[1:]]


@dataclass
class Block:
    kind: str  # "heading" | "para" | "item"
    text: str
    number: str | None = None


def review_title(path: Path) -> str:
    """The sidecar's title, else the text's first line."""
    sidecar = path.with_name(path.stem + ".meta.toml")
    if sidecar.exists():
        title = tomllib.loads(sidecar.read_text(encoding="utf-8")).get("title")
        if isinstance(title, str):
            return title
    return next(line.strip("#* ") for line in path.read_text(encoding="utf-8").splitlines() if line.strip())


def review_blocks(text: str) -> list[Block]:
    """The text's headings, paragraphs and list items as the chunker reads them, numbered 1.1, 1.2 ... per
    section when the review does not number its own paragraphs."""
    units = [unit for unit in parse_units(text) if unit.text.strip()]
    blocks = [Block(unit.kind, " ".join(unit.text.split())) for unit in units]
    if any(block.kind == "para" and paragraph_number(block.text) for block in blocks):
        for block in blocks:
            if block.kind == "para" and (number := paragraph_number(block.text)):
                block.number, block.text = number, strip_paragraph_number(block.text)
        return blocks
    section, count = 1, 0
    for index, block in enumerate(blocks):
        if block.kind == "heading" and index and any(b.kind == "para" for b in blocks[:index]):
            section, count = section + 1, 0
        elif block.kind == "para":
            count += 1
            block.number = f"{section}.{count}"
    return blocks


@dataclass
class _Op:
    x: float
    y: float  # baseline, from the top of the page
    text: str
    bold: bool = False
    size: float = BODY


class _Layout:
    """Places lines on pages, keeping footnote room at the bottom of each page."""

    def __init__(self, pdf: FPDF) -> None:
        self.pdf = pdf
        self.pages: list[list[_Op]] = []
        self.rules: list[list[tuple[float, float, float, float, bool]]] = []  # cell boxes (x, y, w, h, fill)
        self.notes: list[list[tuple[int, str]]] = []
        self.y = TOP
        self.new_page()

    def width(self, text: str, size: float, bold: bool = False) -> float:
        self.pdf.set_font("Body", "B" if bold else "", size)
        return float(self.pdf.get_string_width(text))

    def new_page(self) -> None:
        self.pages.append([])
        self.rules.append([])
        self.notes.append([])
        self.y = TOP

    @property
    def page(self) -> int:
        return len(self.pages)

    def limit(self, extra_notes: tuple[str, ...] = ()) -> float:
        """The lowest baseline body text may use on this page, above its footnotes."""
        notes = [text for _, text in self.notes[-1]] + list(extra_notes)
        lines = sum(len(self.wrap(text, RIGHT - LEFT - 10, NOTE)) for text in notes)
        return BOTTOM - (lines * NOTE_LEAD + 14 if notes else 0)

    def wrap(self, text: str, width: float, size: float, bold: bool = False) -> list[tuple[int, int]]:
        """(start, end) of each printed line of `text`, broken between words."""
        lines: list[tuple[int, int]] = []
        start = end = 0
        for match in re.finditer(r"\S+", text):
            if end > start and self.width(_unmark(text[start:match.end()]), size, bold) > width:
                lines.append((start, end))
                start = match.start()
            end = match.end()
        if end > start:
            lines.append((start, end))
        return lines


_MARK = re.compile(r"\{(\d)\}")


def _unmark(text: str) -> str:
    return _MARK.sub("", text)


def _draw_line(layout: _Layout, x: float, text: str, size: float, bold: bool) -> None:
    """One printed line; a footnote marker '{n}' is set small and raised after the word it follows."""
    ops = layout.pages[-1]
    for piece in re.split(r"(\{\d\})", text):
        if not piece:
            continue
        if match := _MARK.fullmatch(piece):
            ops.append(_Op(x + 0.5, layout.y - size * 0.38, match.group(1), False, size * 0.62))
            x += layout.width(match.group(1), size * 0.62) + 0.5
        else:
            ops.append(_Op(x, layout.y, piece, bold, size))
            x += layout.width(piece, size, bold)


def render_pdf(text: str, path: Path, *, title: str, max_pages: int | None = None, extras: bool = True) -> Rendered:
    """Write `text` as a realistic report PDF; returns where everything was printed. Without `extras`, no
    footnotes and no table (text the review does not have): only its own words, laid out."""
    pdf = FPDF(unit="pt", format="A4")
    pdf.add_font("Body", "", str(font_path("body")))
    pdf.add_font("Body", "B", str(font_path("bold")))
    pdf.set_auto_page_break(False)
    layout = _Layout(pdf)
    rendered = Rendered(path=path, title=title, header=f"{title} - OFFICIAL")
    blocks = review_blocks(text)
    bodies = [i for i, block in enumerate(blocks) if block.kind == "para"]
    marked = {bodies[len(bodies) // 6]: 1, bodies[len(bodies) // 2 - 1]: 2} if len(bodies) >= 8 and extras else {}
    table_after = bodies[len(bodies) // 3] if len(bodies) >= 5 and extras else None
    columns_from = _columns_start(blocks, bodies[len(bodies) // 2:]) if len(bodies) >= 8 else None

    # Page 1: the title page. Page 2 (and on): contents, filled in once the headings' pages are known.
    for line, size, bold in ((title, 22.0, True), ("Local child safeguarding practice review", 14.0, False),
                             ("OFFICIAL", 12.0, True)):
        for start, end in layout.wrap(line, RIGHT - LEFT, size, bold):
            _draw_line(layout, LEFT, line[start:end], size, bold)
            layout.y += size * 1.4
        layout.y += 40
    headings: list[tuple[str, int]] = []
    contents_at = len(layout.pages)
    number: str | None = None  # the paragraph number a sentence falls under (items take the one before)
    layout.new_page()  # the contents page, drawn last
    layout.new_page()
    in_columns = False
    column, column_top = 0, TOP
    for index, block in enumerate(blocks):
        if max_pages and layout.page > max_pages:
            break
        if index == columns_from:
            layout.new_page()
            in_columns, column, column_top = True, 0, layout.y
            rendered.two_column_page = layout.page
        if in_columns:  # a heading moves to the next column whole; the columns end with a whole block
            kind_size, kind_lead = (HEAD, HEAD_LEAD) if block.kind == "heading" else (BODY, LEAD)
            column_lines = layout.wrap(block.text, (RIGHT - LEFT - GUTTER) / 2 - HANG, kind_size)
            needed = (len(column_lines) + (2 if block.kind == "heading" else 0)) * kind_lead
            if layout.y + needed > layout.limit() and column == 0 and block.kind == "heading":
                column, layout.y = 1, column_top
            elif layout.y + needed > layout.limit() and column == 1:
                in_columns = False
                layout.new_page()
        left = LEFT if not in_columns else LEFT + column * ((RIGHT - LEFT + GUTTER) / 2)
        width = (RIGHT - LEFT) if not in_columns else (RIGHT - LEFT - GUTTER) / 2
        size, lead, bold = (HEAD, HEAD_LEAD, True) if block.kind == "heading" else (BODY, LEAD, False)
        indent = 0.0 if block.kind == "heading" else HANG
        body, marker = block.text, block.number
        if block.kind == "heading":
            number = None
        elif block.kind == "para":
            number = block.number or number
        else:
            bullet, body = block.text.split(" ", 1)
            marker = "•" if bullet == "-" else bullet
        if index in marked:  # a footnote marker after the first sentence
            first_end = sentence_spans(body)[0][1]
            body = body[:first_end] + "{" + str(marked[index]) + "}" + body[first_end:]
            rendered.marked.append(body[:first_end].split()[-1])
        lines = layout.wrap(body, width - indent, size, bold)
        if block.kind == "heading":
            layout.y += 8
            needed = len(lines) * lead + 2 * LEAD  # keep a heading with the first lines beneath it
            if layout.y + needed > layout.limit() and not in_columns:
                layout.new_page()
            headings.append((block.text, layout.page))
        starts = {start for start, _ in sentence_spans(_unmark(body))} if block.kind != "heading" else set()
        plain_offsets = _plain_offsets(body)
        for line_number, (start, end) in enumerate(lines):
            note = _MARK.search(body[start:end])
            extra = (FOOTNOTES[int(note.group(1)) - 1],) if note else ()
            if layout.y + lead > layout.limit(extra):
                if in_columns and column == 0:
                    column, layout.y = 1, column_top
                    left = LEFT + (RIGHT - LEFT + GUTTER) / 2
                else:
                    if in_columns:
                        in_columns = False
                        left, width = LEFT, RIGHT - LEFT
                    layout.new_page()
            if note:
                layout.notes[-1].append((int(note.group(1)), extra[0]))
            if line_number == 0 and marker:
                _draw_line(layout, left, marker, size, bold)
            _draw_line(layout, left + indent, body[start:end], size, bold)
            for sentence_start, sentence_end in sentence_spans(_unmark(body)):
                if sentence_start in starts and plain_offsets[start] <= sentence_start < plain_offsets[end]:
                    sentence = _unmark(body)[sentence_start:sentence_end]
                    rendered.sentences.append(Sentence(sentence, layout.page, number))
                    if in_columns:
                        (rendered.left_column if column == 0 else rendered.right_column).append(sentence)
            layout.y += lead
        layout.y += 4 if block.kind == "heading" else 8
        if index == table_after:
            _table(layout)
    rendered.pages = len(layout.pages)
    rendered.contents = _contents(layout, contents_at, headings)
    _draw(pdf, layout, rendered)
    pdf.output(str(path))
    return rendered


def _columns_start(blocks: list[Block], candidates: list[int], words: int = 650) -> int:
    """The first candidate paragraph with about a two-column page of words from it to the end (or the last)."""
    for index in candidates:
        if sum(len(block.text.split()) for block in blocks[index:]) <= words:
            return index
    return candidates[-1]


def _plain_offsets(marked: str) -> list[int]:
    """For each offset in the marked text, the offset in the text without markers (one past the end too)."""
    offsets, plain = [], 0
    index = 0
    while index <= len(marked):
        match = _MARK.match(marked, index)
        if match:
            offsets.extend([plain] * len(match.group(0)))
            index = match.end()
            continue
        offsets.append(plain)
        plain += 1
        index += 1
    return offsets


def _table(layout: _Layout) -> None:
    """The agency table: bordered cells, a bold header row, cells wrapping onto several lines."""
    widths = [share * (RIGHT - LEFT) for share in TABLE_WIDTHS]
    rows = [TABLE_HEADER, *TABLE_ROWS]
    wrapped = [[layout.wrap(cell, w - 2 * PAD, CELL, r == 0) for cell, w in zip(row, widths, strict=True)]
               for r, row in enumerate(rows)]
    total = sum(max(len(lines) for lines in row) * CELL_LEAD + 2 * PAD for row in wrapped)
    layout.y += 6
    if layout.y + total > layout.limit():
        layout.new_page()
    for r, (row, lines_per_cell) in enumerate(zip(rows, wrapped, strict=True)):
        height = max(len(lines) for lines in lines_per_cell) * CELL_LEAD + 2 * PAD
        x = LEFT
        top = layout.y
        for cell, lines, w in zip(row, lines_per_cell, widths, strict=True):
            layout.rules[-1].append((x, top, w, height, r == 0))
            layout.y = top + PAD + CELL * 0.9
            for start, end in lines:
                _draw_line(layout, x + PAD, cell[start:end], CELL, r == 0)
                layout.y += CELL_LEAD
            x += w
        layout.y = top + height
    layout.y += 12


def _contents(layout: _Layout, page_index: int, headings: list[tuple[str, int]]) -> list[str]:
    """Draw the contents page: each heading, dotted leaders and its page number right-aligned."""
    ops: list[_Op] = [_Op(LEFT, TOP, "Contents", True, HEAD)]
    printed: list[str] = []
    y = TOP + 30
    for heading, page in headings[:32]:
        number = str(page)
        number_x = RIGHT - layout.width(number, BODY)
        short = heading if len(heading) <= 70 else heading[:67].rsplit(" ", 1)[0] + "…"
        ops.append(_Op(LEFT, y, short, False, BODY))
        dots_from = LEFT + layout.width(short, BODY) + 4
        dots = "." * max(int((number_x - 6 - dots_from) / layout.width(".", BODY)), 3)
        ops.append(_Op(dots_from, y, dots, False, BODY))
        ops.append(_Op(number_x, y, number, False, BODY))
        printed.append(f"{short} {number}")
        y += LEAD + 5
    layout.pages[page_index] = ops
    return printed


def _draw(pdf: FPDF, layout: _Layout, rendered: Rendered) -> None:
    """Every page with its header, footer, footnotes and cell borders; the two-column page line by line
    across both columns, as some producers write it."""
    total = len(layout.pages)
    for number, (ops, rules, notes) in enumerate(zip(layout.pages, layout.rules, layout.notes, strict=True), 1):
        pdf.add_page()
        footer = f"Page {number} of {total}"
        rendered.footers.append(footer)
        page_ops = [_Op(LEFT, 40.0, rendered.header, False, 9.0), *ops]
        if number == rendered.two_column_page:
            page_ops.sort(key=lambda op: (round(op.y), op.x))
        y = BOTTOM + 4 - sum(len(layout.wrap(text, RIGHT - LEFT - 10, NOTE)) for _, text in notes) * NOTE_LEAD
        if notes:
            pdf.line(LEFT, y - 8, LEFT + 140, y - 8)
        for mark, text in notes:
            page_ops.append(_Op(LEFT, y - NOTE * 0.35, str(mark), False, NOTE * 0.75))
            for start, end in layout.wrap(text, RIGHT - LEFT - 10, NOTE):
                page_ops.append(_Op(LEFT + 8, y, text[start:end], False, NOTE))
                y += NOTE_LEAD
            rendered.footnotes.append((mark, text, number))
        page_ops.append(_Op((PAGE_W - layout.width(footer, 9.0)) / 2, PAGE_H - 36.0, footer, False, 9.0))
        for x, top, w, h, fill in rules:
            pdf.set_fill_color(225, 225, 225)
            pdf.rect(x, top, w, h, style="DF" if fill else "D")
        for op in page_ops:
            pdf.set_font("Body", "B" if op.bold else "", op.size)
            pdf.text(op.x, op.y, op.text)
        if number == rendered.two_column_page:
            _columns_truth(rendered, number)


def _columns_truth(rendered: Rendered, page: int) -> None:
    """Keep only the column sentences printed on the two-column page itself."""
    on_page = {s.text for s in rendered.sentences if s.page == page}
    rendered.left_column = [s for s in rendered.left_column if s in on_page]
    rendered.right_column = [s for s in rendered.right_column if s in on_page]


def render_docx(text: str, path: Path, *, title: str) -> Rendered:
    """Write `text` as a Word report: header and footer (with page fields), numbered paragraphs, the table."""
    import docx
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    document = docx.Document()
    rendered = Rendered(path=path, title=title, header=f"{title} - OFFICIAL")
    section = document.sections[0]
    section.header.paragraphs[0].text = rendered.header
    footer = section.footer.paragraphs[0]
    footer.add_run("Page ")
    for name, after in (("PAGE", " of "), ("NUMPAGES", "")):
        run = footer.add_run()
        field_code = OxmlElement("w:fldSimple")
        field_code.set(qn("w:instr"), name)
        run._r.append(field_code)
        if after:
            footer.add_run(after)
    document.add_heading(title, level=0)
    blocks = review_blocks(text)
    bodies = [i for i, block in enumerate(blocks) if block.kind == "para"]
    table_after = bodies[len(bodies) * 2 // 5] if bodies else None
    for index, block in enumerate(blocks):
        if block.kind == "heading":
            document.add_heading(block.text, level=1)
        elif block.kind == "item":
            document.add_paragraph(re.sub(r"^\S+\s+", "", block.text), style="List Bullet")
        else:
            document.add_paragraph(f"{block.number}\t{block.text}" if block.number else block.text)
            for start, end in sentence_spans(block.text):
                rendered.sentences.append(Sentence(block.text[start:end], 0, block.number))
        if index == table_after:
            table = document.add_table(rows=0, cols=len(TABLE_HEADER))
            table.style = "Table Grid"
            for row in rendered.table:
                cells = table.add_row().cells
                for cell, value in zip(cells, row, strict=True):
                    cell.text = value
    document.save(str(path))
    return rendered
