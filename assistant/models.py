"""The vocabulary every layer shares: Document, Chunk, Citation, Answer."""

from __future__ import annotations

import bisect
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class DocumentMeta:
    """What a person would put on a reference: editable in the sidecar file."""

    title: str
    area: str | None = None
    partnership: str | None = None
    year: int | None = None
    published: str | None = None
    review_type: str | None = None
    # None: public. Otherwise the groups that may read it (empty: admins only); see access.py.
    access: tuple[str, ...] | None = None


@dataclass
class Document:
    """One review as loaded: its text (markdown-flavoured) and where each page starts in it."""

    doc_id: str
    file_name: str
    meta: DocumentMeta
    text: str
    content_hash: str
    page_starts: list[int] = field(default_factory=list)
    # 1-based pages whose text was read from scanned images by OCR (quotations from them need checking).
    ocr_pages: list[int] = field(default_factory=list)
    # What was left out while loading (scanned pages without OCR, say): reported by the build, not stored.
    warnings: list[str] = field(default_factory=list)

    def page_at(self, offset: int) -> int | None:
        """The 1-based page holding character `offset`, or None for formats without pages."""
        if not self.page_starts:
            return None
        return max(bisect.bisect_right(self.page_starts, offset), 1)


@dataclass
class Chunk:
    """A quotable passage: the unit that is indexed, retrieved and cited."""

    doc_id: str
    n: int
    section: str | None
    page: int | None
    start: int
    end: int
    text: str
    paragraph: str | None = None  # the review's own paragraph number(s): "5.12", or "5.12-5.14" for several

    @property
    def chunk_id(self) -> str:
        return f"{self.doc_id}#{self.n}"

    def indexed_text(self) -> str:
        """The passage with its section title, which travels with it into theme tagging and keyword search."""
        return f"{self.section}\n{self.text}" if self.section else self.text


@dataclass
class Citation:
    n: int
    doc_id: str
    chunk_id: str
    title: str
    area: str | None
    year: int | None
    section: str | None
    page: int | None
    text: str
    score: float
    url: str
    paragraph: str | None = None
    review_type: str | None = None
    themes: list[str] = field(default_factory=list)
    reference: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Answer:
    question: str
    found: bool
    answer: str
    citations: list[Citation]
    searched: str | None = None
    # "direct" (found: a direct answer), "related" (not found; related passages offered as such) or "none".
    coverage: str = "none"
    # The measures coverage was judged on (see answerability.py), for diagnostics and calibration.
    evidence: dict[str, float] = field(default_factory=dict)
    # The earlier questions of the conversation this one was read with (a follow-up); empty: read on its own.
    follows: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
