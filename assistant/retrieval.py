"""Hybrid search: dense (FAISS cosine) and keyword (FTS5 BM25) candidates, fused, then diversified."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .embedding import Embedder
from .errors import BadRequest
from .store import ChunkFilter, OpenIndex, StoredChunk

RRF_K = 5
CANDIDATES = 50
SAME_DOCUMENT_DECAY = 0.85

STOPWORDS = frozenset("""
a about above after again against all am an and any are as at be because been before being below between
both but by can could did do does doing don down during each few for from further had has have having he her
here hers herself him himself his how i if in into is it its itself just me more most my myself no nor not
now of off on once only or other our ours ourselves out over own same she should so some such than that the
their theirs them themselves then there these they this those through to too under until up very was we
were what when where which while who whom why will with would you your yours yourself yourselves
anything something someone anyone thing things get got make made need needs want tell told know say
ought must might may shall us let lets i'm i've it's what's
""".split())


@dataclass(frozen=True)
class SearchFilters:
    """Narrow a search to a theme, an area, a review type or a span of years."""

    theme: str | None = None
    area: str | None = None
    review_type: str | None = None
    year_from: int | None = None
    year_to: int | None = None

    def chunk_filter(self) -> ChunkFilter | None:
        clauses: list[str] = []
        parameters: list[Any] = []
        for clause, value in (
            ("c.id IN (SELECT chunk_id FROM chunk_themes WHERE theme = ?)", self.theme),
            ("lower(d.area) = lower(?)", self.area),
            ("lower(d.review_type) = lower(?)", self.review_type),
            ("d.year >= ?", self.year_from),
            ("d.year <= ?", self.year_to),
        ):
            if value is not None:
                clauses.append(clause)
                parameters.append(value)
        if not clauses:
            return None
        sql = "SELECT c.id FROM chunks c JOIN documents d USING (doc_id) WHERE " + " AND ".join(clauses)
        return ChunkFilter(sql, tuple(parameters))


@dataclass
class Hit:
    """One retrieved passage with its scores: `score` is cosine similarity to the question."""

    stored: StoredChunk
    score: float
    fused: float


def keyword_terms(text: str) -> list[str]:
    """The content words of a query, lower-cased and de-duplicated, in order."""
    terms = [word.lower() for word in re.findall(r"[A-Za-z0-9]+", text)]
    return list(dict.fromkeys(term for term in terms if term not in STOPWORDS and len(term) > 1))


def fts_expression(text: str) -> str:
    """An FTS5 MATCH expression: any of the query's content words (quoted, so never FTS syntax)."""
    return " OR ".join(f'"{term}"' for term in keyword_terms(text))


def check_k(k: int, max_k: int = 50) -> int:
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= max_k:
        raise BadRequest(f"k must be a whole number from 1 to {max_k}")
    return k


def search(
    *,
    index: OpenIndex,
    embedder: Embedder,
    query: str,
    keyword_query: str | None = None,
    k: int = 5,
    filters: SearchFilters | None = None,
) -> list[Hit]:
    """The k best passages, best first, spread across reviews where several answer.

    `query` is embedded for the dense search; `keyword_query` (default: the same) feeds BM25.
    """
    vector = embedder.encode([query])[0]
    limit = max(CANDIDATES, k * 4)
    allowed = filters.chunk_filter() if filters else None
    dense = index.dense(vector, limit, allowed)
    keyword = index.keyword(fts_expression(keyword_query or query), limit, allowed)
    fused: dict[int, float] = {}
    for ranking in (dense, keyword):
        for rank, (chunk_id, _) in enumerate(ranking):
            fused[chunk_id] = fused.get(chunk_id, 0.0) + 1.0 / (RRF_K + rank + 1)
    cosine = dict(dense)
    missing = [chunk_id for chunk_id in fused if chunk_id not in cosine]
    cosine.update(index.similarities(vector, missing))
    ordered = sorted(fused, key=lambda chunk_id: fused[chunk_id], reverse=True)[: limit]
    stored = index.chunks(ordered)
    hits = [Hit(stored[i], cosine[i], fused[i]) for i in ordered if i in stored]
    return diversify(hits, k, SAME_DOCUMENT_DECAY)


def diversify(hits: list[Hit], k: int, decay: float) -> list[Hit]:
    """Pick k greedily, discounting each further passage from a review already picked."""
    remaining = list(hits)
    picked: list[Hit] = []
    per_document: dict[str, int] = {}
    while remaining and len(picked) < k:
        best = max(remaining, key=lambda hit: hit.fused * decay ** per_document.get(hit.stored.chunk.doc_id, 0))
        remaining.remove(best)
        picked.append(best)
        per_document[best.stored.chunk.doc_id] = per_document.get(best.stored.chunk.doc_id, 0) + 1
    return picked
