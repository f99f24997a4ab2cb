"""Reading a published index version: dense, sentence and keyword search, chunks and documents."""

from __future__ import annotations

import contextlib
import json
import queue
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .access import access_from_json
from .errors import IndexUnavailable
from .manifest import CHECKSUM_ON_OPEN_BYTES, SQLITE, Manifest, verify_files
from .models import Chunk, Document, DocumentMeta
from .params import DEFAULT_VECTORS, VectorParams
from .vectors import CHUNK_KIND, SENTENCE_KIND, VectorSet, ann_search, read_ann


@dataclass(frozen=True)
class ChunkFilter:
    """A SELECT of the chunk ids a search may return (or, with `exclude`, of those it may not: a few hidden
    reviews are cheaper to leave out than the rest of a national collection to list), with its parameters."""

    sql: str
    parameters: tuple[Any, ...] = ()
    exclude: bool = False


CHUNK_QUERY = ("SELECT c.*, d.title, d.area, d.partnership, d.year, d.published, d.review_type, d.access "
               "FROM chunks c JOIN documents d USING (doc_id)")


@dataclass
class StoredChunk:
    """A chunk as read back from the index, with the metadata of its review."""

    id: int
    chunk: Chunk
    meta: DocumentMeta
    themes: list[str] = field(default_factory=list)


FREQUENCY_CACHE_SIZE = 200_000  # words whose passage counts an open index remembers


class ConnectionPool:
    """Read-only SQLite connections to one immutable file, opened up front and lent one per query, so
    threads read in parallel (one shared connection would serialise them). Opened now, the file stays
    readable through them even after a newer version is published and this one is cleaned up."""

    def __init__(self, path: Path, size: int) -> None:
        uri = f"file:{path}?mode=ro&immutable=1"
        self._idle: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()
        self._all: list[sqlite3.Connection] = []
        try:
            for _ in range(size):
                connection = sqlite3.connect(uri, uri=True, check_same_thread=False)
                connection.row_factory = sqlite3.Row
                connection.execute("SELECT count(*) FROM sqlite_master").fetchone()  # opens the file now
                self._all.append(connection)
                self._idle.put(connection)
        except sqlite3.DatabaseError as exc:
            self.close()
            raise IndexUnavailable(f"index file {path} cannot be read ({exc}); rebuild the index") from None

    @contextlib.contextmanager
    def _lent(self) -> Iterator[sqlite3.Connection]:
        connection = self._idle.get()
        try:
            yield connection
        finally:
            self._idle.put(connection)

    def rows(self, sql: str, parameters: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lent() as connection:
            return connection.execute(sql, parameters).fetchall()

    def tuples(self, sql: str, parameters: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows as plain tuples (no sqlite3.Row per row: for long lists of ids)."""
        with self._lent() as connection:
            cursor = connection.cursor()
            cursor.row_factory = None
            return cursor.execute(sql, parameters).fetchall()

    def close(self) -> None:
        for connection in self._all:
            connection.close()


class OpenIndex:
    """A published version opened for reading: thread-safe, never changes under its readers.

    Opening reads the manifest, checks the files, maps the vectors into memory and opens the SQLite
    connections: nothing in proportion to the collection but the ids of its vectors.
    """

    def __init__(self, directory: Path, manifest: Manifest, *, vectors: VectorParams = DEFAULT_VECTORS,
                 connections: int = 8) -> None:
        self.directory = directory
        self.manifest = manifest
        self.vector_params = vectors
        verify_files(directory, manifest, manifest.files, checksum_above=CHECKSUM_ON_OPEN_BYTES)
        self._pool = ConnectionPool(directory / SQLITE, connections)
        try:
            dead = {kind: np.asarray([row[0] for row in self._rows("SELECT id FROM dead_vectors WHERE kind = ?",
                                                                     (kind,))], dtype=np.int64)
                    for kind in (CHUNK_KIND, SENTENCE_KIND)}
            # doc id -> the groups that may read it (empty: admins only), for the restricted reviews alone
            self.restricted: dict[str, frozenset[str]] = {
                row["doc_id"]: access_from_json(row["access"]) or frozenset()
                for row in self._rows("SELECT doc_id, access FROM documents WHERE access IS NOT NULL")}
        except sqlite3.DatabaseError as exc:
            self._pool.close()
            raise IndexUnavailable(f"index file {directory / SQLITE} cannot be read ({exc}); rebuild the index") \
                from None
        self.passages = VectorSet(directory, manifest.segments, CHUNK_KIND, manifest.dimension, dead[CHUNK_KIND])
        self.sentences = VectorSet(directory, manifest.segments, SENTENCE_KIND, manifest.dimension,
                                   dead[SENTENCE_KIND], owners=manifest.sentence_chunks)
        self.ann = read_ann(directory / manifest.ann) if manifest.ann else None
        self._frequencies: dict[tuple[str, int], int] = {}  # (word, cap) -> passages holding it
        self.chunk_count = manifest.chunk_count  # counted once: a published version never changes

    def _rows(self, sql: str, parameters: Sequence[Any] = ()) -> list[sqlite3.Row]:
        return self._pool.rows(sql, parameters)

    # --- search primitives --------------------------------------------------------------------

    def _ids(self, sql: str, parameters: Sequence[Any]) -> np.ndarray:
        return np.asarray([row[0] for row in self._rows(sql, parameters)], dtype=np.int64)

    def dense(self, query_vector: np.ndarray, limit: int, allowed: ChunkFilter | None = None
              ) -> list[tuple[int, float]]:
        """Chunk ids by cosine similarity (vectors are unit length, so inner product)."""
        query = np.ascontiguousarray(query_vector, dtype=np.float32).reshape(-1)
        chosen: dict[str, np.ndarray] = {}
        if allowed is not None:
            ids = self._ids(allowed.sql, allowed.parameters)
            if not ids.size and not allowed.exclude:
                return []
            chosen = {"excluded" if allowed.exclude else "allowed": ids}
        if self.ann is not None:
            return ann_search(self.ann, self.passages, query, limit, self.vector_params, **chosen)
        return self.passages.search(query, limit, **chosen)

    def best_sentences(self, query_vector: np.ndarray, limit: int, allowed: ChunkFilter | None = None, *,
                       candidates: Sequence[int] = ()) -> tuple[list[tuple[int, float]], list[float]]:
        """Chunks ranked by their sentence closest to the query, as (chunk id, that sentence's cosine), and
        the cosines of the `limit` nearest sentences themselves (how close the collection at large comes).

        Up to VectorParams.exact_sentence_limit sentences every sentence is searched; above, the sentences
        of the `candidates` (the chunks the other searches found) only.
        """
        query = np.ascontiguousarray(query_vector, dtype=np.float32).reshape(-1)
        chunk_of: dict[int, int] = {}
        if self.sentences.count > self.vector_params.exact_sentence_limit and self.sentences.has_owners:
            ids, owners, scores = self.sentences.of_chunks(query, candidates)
            top = np.argsort(-scores, kind="stable")[:limit]
            found = list(zip(ids[top].tolist(), scores[top].tolist(), strict=True))
            chunk_of = dict(zip(ids[top].tolist(), owners[top].tolist(), strict=True))
        elif self.sentences.count > self.vector_params.exact_sentence_limit:
            chunk_of = self._sentences_of(candidates)
            scored = self.sentences.scores(query, list(chunk_of))
            found = sorted(scored.items(), key=lambda item: -item[1])[:limit]
        elif allowed is None:
            found = self.sentences.search(query, limit)
        else:
            ids = self._ids(f"SELECT id FROM sentences WHERE chunk_id IN ({allowed.sql})", allowed.parameters)
            if allowed.exclude:
                found = self.sentences.search(query, limit, excluded=ids)
            else:
                found = self.sentences.search(query, limit, allowed=ids) if ids.size else []
        if not found:
            return [], []
        if not chunk_of:
            chunk_of = self._chunks_of([i for i, _ in found])
        best: dict[int, float] = {}
        for sentence_id, score in found:
            best.setdefault(chunk_of[sentence_id], score)
        return list(best.items()), [score for _, score in found]

    def _sentences_of(self, chunk_ids: Sequence[int]) -> dict[int, int]:
        """Sentence id -> chunk id, for every sentence of these chunks."""
        if not chunk_ids:
            return {}
        placeholders = ",".join("?" * len(chunk_ids))
        return dict(self._pool.tuples(f"SELECT id, chunk_id FROM sentences WHERE chunk_id IN ({placeholders})",
                                      list(chunk_ids)))

    def _chunks_of(self, sentence_ids: Sequence[int]) -> dict[int, int]:
        """Sentence id -> chunk id, for these sentences."""
        placeholders = ",".join("?" * len(sentence_ids))
        return dict(self._pool.tuples(f"SELECT id, chunk_id FROM sentences WHERE id IN ({placeholders})",
                                      list(sentence_ids)))

    def passage_frequencies(self, terms: Sequence[str], cap: int, hidden: frozenset[str] = frozenset()
                            ) -> dict[str, int]:
        """How many passages (of the reviews not `hidden`) hold each word, as FTS5 stems it (counted up to
        `cap`: beyond, a word is common)."""
        where, parameters = _excluding(hidden, "doc_id", "")
        visible = f" AND rowid IN (SELECT id FROM chunks WHERE {where.strip()})" if hidden else ""
        out: dict[str, int] = {}
        for term in terms:
            key = (term, cap)
            if not hidden and key in self._frequencies:  # the same words come back question after question
                out[term] = self._frequencies[key]
                continue
            rows = self._rows("SELECT count(*) FROM (SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ?"
                              f"{visible} LIMIT ?)", (f'"{term}"', *parameters, cap))
            out[term] = int(rows[0][0])
            if not hidden:
                if len(self._frequencies) >= FREQUENCY_CACHE_SIZE:
                    self._frequencies.clear()
                self._frequencies[key] = out[term]
        return out

    def passage_count(self, hidden: frozenset[str] = frozenset()) -> int:
        """How many passages the reviews not `hidden` hold."""
        if not hidden:
            return self.chunk_count
        where, parameters = _excluding(hidden, "doc_id", "WHERE")
        return int(self._rows(f"SELECT count(*) FROM chunks {where}", parameters)[0][0])

    def sentence_scores(self, query_vector: np.ndarray, chunk_ids: Sequence[int]
                        ) -> dict[int, list[tuple[float, tuple[int, int]]]]:
        """For each chunk, the cosine of each of its sentences to the query, with the sentence's span."""
        if not chunk_ids:
            return {}
        placeholders = ",".join("?" * len(chunk_ids))
        rows = self._rows(f'SELECT id, chunk_id, start, "end" FROM sentences WHERE chunk_id IN ({placeholders}) '
                          "ORDER BY id", list(chunk_ids))
        scores = self.sentences.scores(np.ascontiguousarray(query_vector, dtype=np.float32).reshape(-1),
                                       [row["id"] for row in rows])
        out: dict[int, list[tuple[float, tuple[int, int]]]] = {}
        for row in rows:
            if row["id"] in scores:
                out.setdefault(row["chunk_id"], []).append((scores[row["id"]], (row["start"], row["end"])))
        return out

    def similarities(self, query_vector: np.ndarray, ids: Sequence[int]) -> dict[int, float]:
        """Cosine similarity of the query to particular chunks."""
        if not ids:
            return {}
        return self.passages.scores(np.ascontiguousarray(query_vector, dtype=np.float32).reshape(-1), ids)

    def keyword(self, match_expression: str, limit: int, allowed: ChunkFilter | None = None, *,
                weights: tuple[float, float, float] = (0.5, 2.0, 1.0)) -> list[tuple[int, float]]:
        """Chunk ids by BM25 for an FTS5 MATCH expression (best first; score: higher is better).

        `weights` are the BM25 weights of the review title, section title and passage text columns.
        """
        if not match_expression:
            return []
        where, parameters = ("", []) if allowed is None else (
            f" AND rowid {'NOT IN' if allowed.exclude else 'IN'} ({allowed.sql})", allowed.parameters)
        title, section, body = (float(weight) for weight in weights)
        rows = self._rows(
            f"SELECT rowid, bm25(chunks_fts, {title!r}, {section!r}, {body!r}) AS rank FROM chunks_fts "
            f"WHERE chunks_fts MATCH ?{where} ORDER BY rank LIMIT ?",
            (match_expression, *parameters, limit),
        )
        return [(int(row["rowid"]), -float(row["rank"])) for row in rows]

    # --- reading chunks and documents -----------------------------------------------------------

    def documents_of(self, ids: Sequence[int]) -> dict[int, str]:
        """The doc id of each of these chunks (unknown ids are left out)."""
        if not ids:
            return {}
        return dict(self._pool.tuples(f"SELECT id, doc_id FROM chunks WHERE id IN ({','.join('?' * len(ids))})",
                                      list(ids)))

    def chunks(self, ids: Sequence[int]) -> dict[int, StoredChunk]:
        if not ids:
            return {}
        placeholders = ",".join("?" * len(ids))
        rows = self._rows(f"{CHUNK_QUERY} WHERE c.id IN ({placeholders})", list(ids))
        stored = {row["id"]: _stored_chunk(row) for row in rows}
        for row in self._rows(f"SELECT chunk_id, theme FROM chunk_themes WHERE chunk_id IN ({placeholders})",
                              list(ids)):
            stored[row["chunk_id"]].themes.append(row["theme"])
        return stored

    def chunk_by_key(self, doc_id: str, n: int) -> StoredChunk | None:
        rows = self._rows("SELECT id FROM chunks WHERE doc_id = ? AND n = ?", (doc_id, n))
        return self.chunks([rows[0]["id"]]).get(rows[0]["id"]) if rows else None

    def document_chunks(self, doc_id: str) -> list[StoredChunk]:
        rows = self._rows(f"{CHUNK_QUERY} WHERE c.doc_id = ? ORDER BY c.n", (doc_id,))
        return [_stored_chunk(row) for row in rows]

    def documents(self, hidden: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
        """The reviews, newest first, except the `hidden` ones; `access` is None for a public review."""
        where, parameters = _excluding(hidden, "d.doc_id", "WHERE")
        rows = self._rows(
            "SELECT d.doc_id, d.file_name, d.title, d.area, d.partnership, d.year, d.published, d.review_type, "
            "d.content_hash, d.ocr_pages, d.access, COUNT(c.id) AS chunks "
            f"FROM documents d LEFT JOIN chunks c USING (doc_id) {where} "
            "GROUP BY d.doc_id ORDER BY d.year DESC, d.title",
            parameters,
        )
        return [{**dict(row), "ocr_pages": json.loads(row["ocr_pages"]), "access": _access(row)} for row in rows]

    def theme_counts(self, hidden: frozenset[str] = frozenset()) -> dict[str, tuple[int, int]]:
        """Per theme id: (documents, chunks) tagged with it, among the reviews not `hidden`."""
        where, parameters = _excluding(hidden, "c.doc_id", "WHERE")
        rows = self._rows("SELECT t.theme, COUNT(DISTINCT c.doc_id) AS documents, COUNT(*) AS chunks "
                          f"FROM chunk_themes t JOIN chunks c ON c.id = t.chunk_id {where} GROUP BY t.theme",
                          parameters)
        return {row["theme"]: (row["documents"], row["chunks"]) for row in rows}

    def theme_by_document(self, theme: str, hidden: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
        """The reviews (not `hidden`) that raise a theme, with how many of their passages do, most first."""
        where, parameters = _excluding(hidden, "d.doc_id", "AND")
        rows = self._rows(
            "SELECT d.doc_id, d.title, d.area, d.year, d.review_type, COUNT(*) AS chunks, "
            "(SELECT COUNT(*) FROM chunks a WHERE a.doc_id = d.doc_id) AS total_chunks "
            "FROM chunk_themes t JOIN chunks c ON c.id = t.chunk_id JOIN documents d ON d.doc_id = c.doc_id "
            f"WHERE t.theme = ? {where} GROUP BY d.doc_id ORDER BY chunks DESC, d.year DESC", (theme, *parameters))
        return [dict(row) for row in rows]

    def facets(self, hidden: frozenset[str] = frozenset()) -> dict[str, list[Any]]:
        """The values the documents (not `hidden`) take for each filter: areas, review types, years."""
        where, parameters = _excluding(hidden, "doc_id", "AND")

        def values(column: str) -> list[Any]:
            return [r[0] for r in self._rows(f"SELECT DISTINCT {column} FROM documents WHERE {column} IS NOT NULL "
                                             f"{where} ORDER BY {column}", parameters)]

        return {"areas": values("area"), "types": values("review_type"), "years": values("year")}

    def document(self, doc_id: str) -> Document | None:
        rows = self._rows("SELECT * FROM documents WHERE doc_id = ?", (doc_id,))
        if not rows:
            return None
        row = rows[0]
        return Document(
            doc_id=row["doc_id"], file_name=row["file_name"], meta=_meta(row), text=row["text"],
            content_hash=row["content_hash"], page_starts=json.loads(row["page_starts"]),
            ocr_pages=json.loads(row["ocr_pages"]),
        )

    def close(self) -> None:
        self._pool.close()


def _excluding(hidden: frozenset[str], column: str, keyword: str) -> tuple[str, list[str]]:
    """An SQL condition (starting with `keyword`) leaving out the hidden reviews, and its parameters."""
    if not hidden:
        return "", []
    return f"{keyword} {column} NOT IN ({','.join('?' * len(hidden))})", sorted(hidden)


def _access(row: sqlite3.Row) -> list[str] | None:
    groups = access_from_json(row["access"])
    return None if groups is None else sorted(groups)


def _meta(row: sqlite3.Row) -> DocumentMeta:
    access = _access(row)
    return DocumentMeta(title=row["title"], area=row["area"], partnership=row["partnership"], year=row["year"],
                        published=row["published"], review_type=row["review_type"],
                        access=None if access is None else tuple(access))


def _stored_chunk(row: sqlite3.Row) -> StoredChunk:
    chunk = Chunk(doc_id=row["doc_id"], n=row["n"], section=row["section"], page=row["page"],
                  start=row["start"], end=row["end"], text=row["text"], paragraph=row["paragraph"])
    return StoredChunk(id=row["id"], chunk=chunk, meta=_meta(row))
