"""Chunking along the review's own structure.

Headings ("Finding One: ...", "Theme 6: ...", "Learning Point 4: ...", "Recommendations:", markdown
`##`, bold lines, short title lines) become the section of the chunks beneath them. Paragraphs and
list items stay whole where they fit; lines broken inside a paragraph are joined; neighbouring short
paragraphs of one section are packed together up to a quotable size.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..models import Chunk, Document
from ..params import ChunkingParams
from ..text import (
    LIST_MARKER,
    ends_clause,
    ends_sentence,
    join_lines,
    paragraph_number,
    paragraph_span,
    sentence_spans,
    word_count,
)

_NUMBER_WORD = r"(?:\d+(?:\.\d+)*|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|[ivx]+|[a-z])"
_LABELLED_HEADING = re.compile(
    rf"^(finding|theme|learning point|learning|lesson|key learning point|recommendation|issue|area|"
    rf"section|part|chapter|appendix|priority|question|key finding)\s+{_NUMBER_WORD}\s*[:.\-–]",
    re.IGNORECASE,
)
# Headings that label a part of the section above them rather than starting a new topic.
_SUBORDINATE = {"recommendation", "recommendations", "actions", "action taken", "actions taken",
                "what we have learned", "what you should do", "what should you do", "response",
                "next steps", "good practice", "analysis"}
_STANDALONE = _SUBORDINATE | {"background", "summary", "introduction", "conclusion", "conclusions",
                              "further information", "context", "methodology", "key progress to date"}
_INLINE_TAG = re.compile(r"</?(?:sup|sub|span|u|i|b|em|strong|br)\b[^>]{0,40}>", re.IGNORECASE)
_BOLD_LINE = re.compile(r"^(\*\*|__)(?P<body>.+?)(\*\*|__)\s*:?\s*$")
_MD_HEADING = re.compile(r"^#{1,6}\s+(?P<body>.+)$")


@dataclass
class Unit:
    """A heading, a paragraph or a list item, with its span in the document text."""

    kind: str  # "heading" | "para" | "item"
    text: str
    start: int
    end: int
    alone: bool = False  # a single line with blank lines around it
    paragraph: str | None = None  # the review's own paragraph number this unit is, or falls under


def clean_inline(text: str) -> str:
    text = _INLINE_TAG.sub("", text)
    text = text.replace("**", "")
    text = re.sub(r"(?<!\w)__(?=\S)(.+?)(?<=\S)__(?!\w)", r"\1", text)
    text = re.sub(r"(?<![\w*])\*(?!\s)([^*\n]+?)(?<!\s)\*(?![\w*])", r"\1", text)
    text = re.sub(r"<(https?://[^>\s]+)>", r"\1", text)
    return re.sub(r"[ \t]+", " ", text).strip()


def heading_text(text: str) -> str:
    return clean_inline(text).strip().rstrip(":").strip()


def explicit_heading(line: str) -> str | None:
    """The heading a line states outright (markdown, bold line, labelled heading), else None."""
    stripped = line.strip()
    if match := _MD_HEADING.match(stripped):
        return heading_text(match.group("body"))
    if (match := _BOLD_LINE.match(stripped)) and word_count(match.group("body")) <= 60:
        return heading_text(match.group("body"))
    cleaned = clean_inline(stripped)
    if _LABELLED_HEADING.match(cleaned) and word_count(cleaned) <= 25 and not _has_body_after_label(cleaned):
        return heading_text(cleaned)
    if cleaned.rstrip(":").strip().lower() in _STANDALONE:
        return heading_text(cleaned)
    return None


def _has_body_after_label(text: str) -> bool:
    """'Theme 3: Voice of the child' is a heading; 'Finding 2: Staff did X. They then...' is not."""
    return len(re.findall(r"[.!?]\s+[A-Z]", text)) >= 1


_DATE_LINE = re.compile(r"^(?:(?:published|updated|dated?)\s*:?\s*)?(?:\d{1,2}(?:st|nd|rd|th)?\s+)?"
                        r"(?:january|february|march|april|may|june|july|august|september|october|november|"
                        r"december)?\s*(?:19|20)\d\d\.?$", re.IGNORECASE)


def looks_like_bare_heading(unit: Unit) -> bool:
    """A short line on its own that reads like a title rather than a sentence (a date is not a title)."""
    if unit.kind != "para" or not unit.alone or _DATE_LINE.match(unit.text.strip()):
        return False
    text = unit.text
    words = word_count(text)
    if not text[:1].isupper() or "http" in text or words == 0:
        return False
    if text.endswith("?"):
        return words <= 15
    if text.endswith(":"):
        return words <= 10
    return words <= 12 and not re.search(r"[.,;]$", text)


def parse_units(text: str) -> list[Unit]:
    """Split document text into headings, paragraphs and list items, joining broken lines."""
    units: list[Unit] = []
    block_lines: list[tuple[str, int, int]] = []

    def flush_block() -> None:
        current: Unit | None = None
        for line, start, end in block_lines:
            heading = explicit_heading(line)
            if heading:
                if current:
                    units.append(current)
                    current = None
                units.append(Unit("heading", heading, start, end, alone=len(block_lines) == 1))
            elif marker := LIST_MARKER.match(line):
                if current:
                    units.append(current)
                body = clean_inline(line[marker.end():])
                current = Unit("item", f"{_list_marker(marker.group(0))} {body}", start, end)
            elif current is None:
                current = Unit("para", clean_inline(line), start, end, alone=len(block_lines) == 1)
            else:
                current.text = join_lines(current.text, clean_inline(line))
                current.end = end
        if current:
            units.append(current)
        block_lines.clear()

    for match in re.finditer(r"[^\n]*\n?", text):
        line = match.group(0).rstrip("\n")
        if line.strip():
            block_lines.append((line, match.start(), match.start() + len(line.rstrip())))
        elif block_lines:
            flush_block()
    if block_lines:
        flush_block()
    units = [unit for unit in units if unit.text]
    return _promote_bare_headings(_join_broken_paragraphs(units))


def _list_marker(raw: str) -> str:
    """Keep numbering ('1.', 'a)') as written; every bullet symbol becomes '-'."""
    marker = raw.strip()
    return marker if marker[:1].isalnum() or marker.startswith("(") else "-"


def _join_broken_paragraphs(units: list[Unit]) -> list[Unit]:
    """A paragraph cut by a stray blank line ('... the housing provider,' / 'and Youth ...') is rejoined."""
    joined: list[Unit] = []
    for unit in units:
        previous = joined[-1] if joined else None
        if (
            previous is not None
            and unit.kind == "para"
            and previous.kind in ("para", "item")
            and not ends_clause(previous.text)
            and unit.text[:1].islower()
        ):
            previous.text = join_lines(previous.text, unit.text)
            previous.end = unit.end
            previous.alone = False
        else:
            joined.append(unit)
    return joined


def _promote_bare_headings(units: list[Unit]) -> list[Unit]:
    for index, unit in enumerate(units):
        following = units[index + 1] if index + 1 < len(units) else None
        if following is None or not looks_like_bare_heading(unit):
            continue
        body_follows = following.kind in ("heading", "item") or (
            word_count(following.text) >= 8 and ends_clause(following.text)
        )
        if body_follows:
            unit.kind = "heading"
            unit.text = heading_text(unit.text)
    return units


def _sections(units: list[Unit]) -> list[tuple[Unit, str | None]]:
    """Pair every body unit with its section title; subordinate headings nest under the last main one.
    Each unit also gets its paragraph number: its own, or that of the numbered paragraph it follows."""
    paired: list[tuple[Unit, str | None]] = []
    main: str | None = None
    section: str | None = None
    number: str | None = None
    for unit in units:
        if unit.kind == "heading":
            if unit.text.lower() in _SUBORDINATE and main:
                section = f"{main} — {unit.text}"
            else:
                main = section = unit.text
            number = None
            continue
        number = paragraph_number(unit.text) or number
        unit.paragraph = number
        paired.append((unit, section))
    return paired


def _split_long(unit: Unit, source: str, params: ChunkingParams) -> list[Unit]:
    """Split a paragraph longer than max_words into runs of whole sentences, each with its own span."""
    if word_count(unit.text) <= params.max_words:
        return [unit]
    runs: list[list[str]] = [[]]
    for start, end in sentence_spans(unit.text):
        sentence = unit.text[start:end]
        if runs[-1] and word_count(" ".join(runs[-1])) + word_count(sentence) > params.target_words:
            runs.append([])
        runs[-1].append(sentence)
    pieces: list[Unit] = []
    cursor = unit.start
    for index, run in enumerate(runs):
        text = " ".join(run)
        begin = _locate(source, text, cursor, unit.end)
        pieces.append(Unit(unit.kind, text, begin, unit.end, paragraph=unit.paragraph))
        if index:
            pieces[index - 1].end = max(pieces[index - 1].start + 1, begin - 1)
        cursor = begin
    return pieces


def _locate(source: str, text: str, start: int, end: int) -> int:
    """Where `text` begins in the document, allowing for line breaks between its first words."""
    first_words = text.split()[:4]
    pattern = r"\s+".join(re.escape(word) for word in first_words)
    match = re.compile(pattern).search(source, start, end)
    return match.start() if match else start


def ends_lead_in(unit: Unit) -> bool:
    """A paragraph that opens a list ('Practitioners should:')."""
    return unit.kind == "para" and unit.text.rstrip().endswith(":")


def _render(units: list[Unit]) -> str:
    parts: list[str] = []
    for unit in units:
        separator = "\n" if unit.kind == "item" else "\n\n"
        parts.append((separator if parts else "") + unit.text)
    return "".join(parts)


def chunk_document(document: Document, params: ChunkingParams) -> list[Chunk]:
    """Cut a document into quotable chunks that know their section, page and span."""
    groups: list[tuple[str | None, list[Unit]]] = []
    for unit, section in _sections(parse_units(document.text)):
        for piece in _split_long(unit, document.text, params):
            last_section, last_units = groups[-1] if groups else (None, [])
            fits = word_count(_render([*last_units, piece])) <= params.target_words
            if groups and last_section == section and fits:
                last_units.append(piece)
            elif groups and last_section == section and len(last_units) > 1 and ends_lead_in(last_units[-1]):
                groups.append((section, [last_units.pop(), piece]))  # a lead-in goes with the list it opens
            else:
                groups.append((section, [piece]))
    groups = _merge_small(groups, params)
    chunks: list[Chunk] = []
    for n, (section, units) in enumerate(groups):
        start, end = units[0].start, units[-1].end
        chunks.append(Chunk(doc_id=document.doc_id, n=n, section=section, page=document.page_at(start),
                            start=start, end=end, text=_render(units),
                            paragraph=paragraph_span([unit.paragraph for unit in units])))
    return chunks



def _merge_small(groups: list[tuple[str | None, list[Unit]]], params: ChunkingParams
                 ) -> list[tuple[str | None, list[Unit]]]:
    """Fold a stub under min_words into a neighbour: the passage before it when both share a section (a
    signature, a date, a last short point); else, when it is no whole sentence or comes before any heading,
    the passage after it, which it heads (a page title, a heading line, a lead-in); a last stub goes back.
    A passage may grow to max_words + min_words so. A sentence alone under its own heading stays."""
    merged: list[tuple[str | None, list[Unit]]] = []
    waiting: tuple[str | None, list[Unit]] | None = None  # a stub to go in front of the next passage

    def size(units: list[Unit]) -> int:
        return word_count(_render(units))

    for section, units in groups:
        if waiting:
            if size([*waiting[1], *units]) <= params.max_words + params.min_words:
                units = [*waiting[1], *units]
            else:
                merged.append(waiting)
            waiting = None
        if size(units) < params.min_words:
            if merged and merged[-1][0] == section:  # the end of a section goes with it, where it fits
                if size([*merged[-1][1], *units]) <= params.max_words + params.min_words:
                    merged[-1] = (section, [*merged[-1][1], *units])
                else:
                    merged.append((section, units))
            elif section is None or not ends_sentence(units[-1].text):  # a title, a heading line, a lead-in
                waiting = (section, units)
            else:  # a point of its own under its own heading: quotable as it is
                merged.append((section, units))
            continue
        merged.append((section, units))
    if waiting:
        if merged and size([*merged[-1][1], *waiting[1]]) <= params.max_words + params.min_words:
            merged[-1] = (merged[-1][0], [*merged[-1][1], *waiting[1]])
        else:
            merged.append(waiting)
    return merged
