"""Turning a stored passage into a Citation, with a reference a trainer can put on a slide."""

from __future__ import annotations

from collections.abc import Mapping

from .models import Chunk, Citation, DocumentMeta
from .reader import StoredChunk


def reference_for(meta: DocumentMeta, chunk: Chunk, url: str) -> str:
    """One reference in a Harvard-like style: who (year) title. Type. Section, para, page. Available at: url."""
    who = meta.partnership or meta.area or "Unknown partnership"
    parts = [f"{who} ({meta.year or 'n.d.'}) {meta.title.rstrip('.')}."]
    if meta.review_type:
        parts.append(f"{meta.review_type}.")
    para = f"para {chunk.paragraph}" if chunk.paragraph and "-" not in chunk.paragraph else (
        f"paras {chunk.paragraph}" if chunk.paragraph else None)
    where = ", ".join(part for part in (chunk.section, para, f"p. {chunk.page}" if chunk.page else None) if part)
    if where:
        parts.append(f"{where.rstrip('.')}.")
    parts.append(f"Available at: {url}")
    return " ".join(parts)


def citation_for(stored: StoredChunk, n: int, score: float, *, theme_labels: Mapping[str, str],
                 base_url: str = "") -> Citation:
    chunk, meta = stored.chunk, stored.meta
    url = f"/documents/{chunk.doc_id}#chunk-{chunk.n}"
    return Citation(
        n=n, doc_id=chunk.doc_id, chunk_id=chunk.chunk_id, title=meta.title, area=meta.area, year=meta.year,
        section=chunk.section, page=chunk.page, paragraph=chunk.paragraph, text=chunk.text, score=round(score, 3),
        url=url,
        review_type=meta.review_type, themes=[theme_labels.get(t, t) for t in sorted(stored.themes)],
        reference=reference_for(meta, chunk, base_url.rstrip("/") + url),
    )
