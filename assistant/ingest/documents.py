"""Load one file from the corpus into a Document: text, pages, metadata, content hash."""

from __future__ import annotations

import hashlib
from pathlib import Path

from ..models import Document
from ..params import DEFAULT_LAYOUT, DEFAULT_OCR, OcrParams, PdfLayoutParams
from ..progress import Progress, no_progress
from ..text import slug
from .loaders import EXPECTED_FORMATS, load_file
from .metadata import merged_metadata, sidecar_path

SUPPORTED_SUFFIXES = frozenset(EXPECTED_FORMATS)


def doc_id_for(path: Path) -> str:
    """A readable, URL-safe id from the file name: `2021 Telford Briefing.pdf` -> `2021-telford-briefing`."""
    return slug(path.stem)


def content_hash(path: Path) -> str:
    """Hash of the file and its sidecar: editing either one makes the document change."""
    digest = hashlib.sha256(path.read_bytes())
    sidecar = sidecar_path(path)
    if sidecar.exists():
        digest.update(b"\0sidecar\0" + sidecar.read_bytes())
    return digest.hexdigest()


def load_document(path: Path, *, layout: PdfLayoutParams = DEFAULT_LAYOUT, ocr: OcrParams = DEFAULT_OCR,
                  progress: Progress = no_progress) -> Document:
    """Read a review file; raises DocumentUnreadable (with the file name and reason) when it cannot.

    Scanned PDF pages are read by OCR, with `progress` wrapped around them (one step per page)."""
    loaded = load_file(path, layout=layout, ocr=ocr, progress=progress)
    return Document(
        doc_id=doc_id_for(path),
        file_name=path.name,
        meta=merged_metadata(path, loaded.text),
        text=loaded.text,
        content_hash=content_hash(path),
        page_starts=loaded.page_starts,
        ocr_pages=loaded.ocr_pages,
        warnings=loaded.warnings,
    )
