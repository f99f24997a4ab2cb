"""The on-disk index: SQLite (documents, chunks, sentences, FTS5) + FAISS (vectors, ids = chunk ids and
sentence ids) + manifest.

Layout under the index folder:
    CURRENT                the name of the published version (replaced atomically)
    versions/<version>/    manifest.json, index.sqlite, and per segment vectors-<s>.faiss and
                           sentences-<s>.faiss (never changed once published)
    versions/.staging-*    a build in progress; removed by the next writer if its builder died
    .lock                  held (flock) by the one writer at a time; released by the OS if it dies
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from .errors import IndexBusy, IndexUnavailable
from .ingest import CHUNKING_VERSION
from .models import Chunk, Document, DocumentMeta

MANIFEST = "manifest.json"
SQLITE = "index.sqlite"
FORMAT_VERSION = 3

SCHEMA = """
CREATE TABLE documents (
    doc_id TEXT PRIMARY KEY, file_name TEXT NOT NULL, title TEXT NOT NULL, area TEXT, partnership TEXT,
    year INTEGER, published TEXT, review_type TEXT, content_hash TEXT NOT NULL, text TEXT NOT NULL,
    page_starts TEXT NOT NULL
);
CREATE TABLE chunks (
    id INTEGER PRIMARY KEY, doc_id TEXT NOT NULL REFERENCES documents(doc_id), n INTEGER NOT NULL,
    section TEXT, page INTEGER, start INTEGER NOT NULL, "end" INTEGER NOT NULL, text TEXT NOT NULL,
    UNIQUE (doc_id, n)
);
CREATE VIRTUAL TABLE chunks_fts USING fts5(title, section, body, tokenize = 'porter unicode61');
CREATE TABLE chunk_themes (
    chunk_id INTEGER NOT NULL REFERENCES chunks(id), theme TEXT NOT NULL, PRIMARY KEY (theme, chunk_id)
) WITHOUT ROWID;
CREATE INDEX chunk_themes_by_chunk ON chunk_themes (chunk_id);
CREATE TABLE sentences (
    id INTEGER PRIMARY KEY, chunk_id INTEGER NOT NULL REFERENCES chunks(id), start INTEGER NOT NULL,
    "end" INTEGER NOT NULL
);
CREATE INDEX sentences_by_chunk ON sentences (chunk_id);
"""


@dataclass
class DocumentEntry:
    file_name: str
    content_hash: str
    chunks: int


@dataclass
class Manifest:
    version: str
    model: str
    dimension: int
    chunking_version: str
    built_at: str
    documents: dict[str, DocumentEntry] = field(default_factory=dict)
    checksums: dict[str, str] = field(default_factory=dict)
    themes_hash: str = ""
    # Vector files are written in segments: a change adds one segment and hard-links the earlier ones,
    # so its cost does not grow with the index. Vectors of removed chunks stay in old segments until the
    # next full build; readers keep only the ids still present in SQLite.
    segments: list[str] = field(default_factory=list)
    format: int = FORMAT_VERSION

    @property
    def chunk_count(self) -> int:
        return sum(entry.chunks for entry in self.documents.values())

    @property
    def files(self) -> list[str]:
        return [SQLITE, *(name for segment in self.segments for name in segment_files(segment))]

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, raw: str) -> Manifest:
        data = json.loads(raw)
        data["documents"] = {key: DocumentEntry(**value) for key, value in data["documents"].items()}
        return cls(**data)


@dataclass(frozen=True)
class Published:
    """A published version a writer starts from: its folder and manifest (vectors are not loaded)."""

    directory: Path
    manifest: Manifest


@dataclass
class EmbeddedDocument:
    """A document ready to be written: its chunks, their vectors and themes, and each chunk's sentences
    (spans in the chunk's text) with their vectors, in chunk order."""

    document: Document
    chunks: list[Chunk]
    vectors: np.ndarray
    sentences: list[list[tuple[int, int]]]
    sentence_vectors: np.ndarray
    themes: list[list[str]]


@dataclass(frozen=True)
class ChunkFilter:
    """A SELECT of the chunk ids a search may return, with its parameters."""

    sql: str
    parameters: tuple[Any, ...] = ()


CHUNK_QUERY = ("SELECT c.*, d.title, d.area, d.partnership, d.year, d.published, d.review_type "
               "FROM chunks c JOIN documents d USING (doc_id)")


@dataclass
class StoredChunk:
    """A chunk as read back from the index, with the metadata of its review."""

    id: int
    chunk: Chunk
    meta: DocumentMeta
    themes: list[str] = field(default_factory=list)


def segment_files(segment: str) -> tuple[str, str]:
    """The chunk-vector and sentence-vector files of one segment."""
    return f"vectors-{segment}.faiss", f"sentences-{segment}.faiss"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class IndexStore:
    """The index folder: finds, opens and publishes versions."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.versions_dir = self.root / "versions"
        self.pointer = self.root / "CURRENT"

    def current_version(self) -> str | None:
        try:
            name = self.pointer.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        return name or None

    def read_manifest(self, version: str | None = None) -> Manifest:
        version = version or self.current_version()
        if version is None:
            raise IndexUnavailable(f"no index has been built in {self.root}; run `assistant index build`")
        path = self.versions_dir / version / MANIFEST
        try:
            return Manifest.from_json(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise IndexUnavailable(f"index version {version} is missing its manifest; rebuild the index") from None
        except (ValueError, TypeError, KeyError) as exc:
            raise IndexUnavailable(f"index manifest {path} is damaged ({exc}); rebuild the index") from None

    def open(self, *, model: str, verify: bool = True) -> OpenIndex:
        """Open the published index for reading; refuse one built with another model or chunking."""
        published = self.published(model=model)
        return OpenIndex(published.directory, published.manifest, verify=verify)

    def published(self, *, model: str) -> Published:
        """The published version's folder and manifest, checked against the configured model."""
        manifest = self.read_manifest()
        check_compatible(manifest, model)
        return Published(self.versions_dir / manifest.version, manifest)

    @contextlib.contextmanager
    def writer_lock(self) -> Iterator[None]:
        """Hold the single-writer lock; a second writer is refused, a dead writer's lock just vanishes."""
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / ".lock").open("a+") as handle:
            deadline = time.monotonic() + 2.0  # a status check holds the lock shared for an instant
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise IndexBusy(f"another build or update is already running on {self.root}; try "
                                        "again when it has finished") from None
                    time.sleep(0.05)
            handle.seek(0)
            handle.truncate()
            handle.write(f"{os.getpid()} {datetime.now(UTC).isoformat(timespec='seconds')}\n")
            handle.flush()
            try:
                yield
            finally:
                handle.seek(0)
                handle.truncate()
                fcntl.flock(handle, fcntl.LOCK_UN)

    def writer_busy(self) -> bool:
        """Whether some process holds the writer lock right now (for status and health)."""
        path = self.root / ".lock"
        if not path.exists():
            return False
        with path.open("a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(handle, fcntl.LOCK_UN)
            return False

    def new_staging(self) -> Path:
        """A fresh folder to build into; call under the writer lock. Clears staging left by a dead build."""
        self.versions_dir.mkdir(parents=True, exist_ok=True)
        for stale in self.versions_dir.glob(".staging-*"):
            shutil.rmtree(stale, ignore_errors=True)
        path = self.versions_dir / f".staging-{uuid.uuid4().hex[:8]}"
        path.mkdir()
        return path

    def publish(self, staging: Path, manifest: Manifest) -> None:
        """Move a finished build into place and switch CURRENT to it in one atomic rename."""
        final = self.versions_dir / manifest.version
        os.replace(staging, final)
        _fsync_dir(self.versions_dir)
        temporary = self.root / f".CURRENT.{os.getpid()}.tmp"
        temporary.write_text(manifest.version + "\n", encoding="utf-8")
        with temporary.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(temporary, self.pointer)
        _fsync_dir(self.root)

    def prune(self, *, keep: int, grace_seconds: float = 60.0) -> list[str]:
        """Delete old versions, keeping the newest `keep` and any superseded less than `grace_seconds` ago."""
        current = self.current_version()
        versions = sorted((p for p in self.versions_dir.glob("v-*") if p.is_dir()), key=lambda p: p.name)
        removable = [p for p in versions if p.name != current][: max(0, len(versions) - keep)]
        removed = []
        now = time.time()
        for path in removable:
            if now - path.stat().st_mtime < grace_seconds:
                continue
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path.name)
        return removed


def _link_or_copy(source: Path, target: Path) -> None:
    """Hard-link an unchanged file into a new version (instant); copy it where links are not possible."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def _fsync_dir(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def verify_files(directory: Path, manifest: Manifest, names: Sequence[str]) -> None:
    """Refuse missing files and files whose checksum differs from the manifest's."""
    for name in names:
        path = directory / name
        if not path.exists():
            raise IndexUnavailable(f"index file {name} is missing from {directory}; rebuild the index")
        if manifest.checksums.get(name) != file_sha256(path):
            raise IndexUnavailable(f"index file {path} is corrupt (checksum mismatch); rebuild the index")


def _merged(paths: Sequence[Path], live_ids: np.ndarray, dimension: int) -> Any:
    """One in-memory FAISS index of the live vectors of every segment."""
    merged = faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))
    for path in paths:
        try:
            part: Any = faiss.read_index(str(path))
        except RuntimeError:
            raise IndexUnavailable(f"index file {path} cannot be read; rebuild the index") from None
        if part.d != dimension:
            raise IndexUnavailable(f"index file {path} does not match the manifest's dimension; rebuild the index")
        if part.ntotal == 0:
            continue
        ids = faiss.vector_to_array(part.id_map).astype(np.int64)
        vectors = faiss.downcast_index(part.index).reconstruct_n(0, part.ntotal)
        keep = np.isin(ids, live_ids)
        if keep.any():
            merged.add_with_ids(np.ascontiguousarray(vectors[keep]), ids[keep])
    return merged


def check_compatible(manifest: Manifest, model: str) -> None:
    if manifest.format != FORMAT_VERSION:
        raise IndexUnavailable(f"the index was written in format {manifest.format}, this version reads "
                               f"{FORMAT_VERSION}; rebuild it with `assistant index build`")
    if manifest.model != model:
        raise IndexUnavailable(f"the index was built with model {manifest.model!r} but {model!r} is "
                               "configured; rebuild it with `assistant index build`")
    if manifest.chunking_version != CHUNKING_VERSION:
        raise IndexUnavailable(f"the index was built with chunking version {manifest.chunking_version}, "
                               f"this version uses {CHUNKING_VERSION}; rebuild it with `assistant index build`")


def new_version_name() -> str:
    return f"v-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%f')}-{uuid.uuid4().hex[:6]}"


class OpenIndex:
    """A published version opened for reading: thread-safe, never changes under its readers."""

    def __init__(self, directory: Path, manifest: Manifest, *, verify: bool = True) -> None:
        self.directory = directory
        self.manifest = manifest
        if verify:
            verify_files(directory, manifest, manifest.files)
        # One connection, opened now and shared under a lock: the file stays readable through this
        # handle even after a newer version is published and this one is cleaned up.
        uri = f"file:{directory / SQLITE}?mode=ro&immutable=1"
        try:
            self._db = sqlite3.connect(uri, uri=True, check_same_thread=False)
            live_chunks = np.asarray([row[0] for row in self._db.execute("SELECT id FROM chunks")], dtype=np.int64)
            live_sentences = np.asarray([row[0] for row in self._db.execute("SELECT id FROM sentences")],
                                        dtype=np.int64)
        except sqlite3.DatabaseError as exc:
            raise IndexUnavailable(f"index file {directory / SQLITE} cannot be read ({exc}); rebuild the index") \
                from None
        self._db.row_factory = sqlite3.Row
        self._db_lock = threading.Lock()
        self.vectors = _merged([directory / segment_files(s)[0] for s in manifest.segments], live_chunks,
                               manifest.dimension)
        self.sentence_vectors = _merged([directory / segment_files(s)[1] for s in manifest.segments],
                                        live_sentences, manifest.dimension)

    def _rows(self, sql: str, parameters: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._db_lock:
            return self._db.execute(sql, parameters).fetchall()

    # --- search primitives --------------------------------------------------------------------

    def _nearest(self, vectors: Any, query_vector: np.ndarray, limit: int, allowed_sql: str | None,
                 parameters: Sequence[Any] = ()) -> list[tuple[int, float]]:
        """(id, cosine) of the nearest vectors; with `allowed_sql`, only among the ids it selects."""
        if vectors.ntotal == 0:
            return []
        params = None
        if allowed_sql is not None:
            ids = np.asarray([row[0] for row in self._rows(allowed_sql, parameters)], dtype=np.int64)
            if not len(ids):
                return []
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(ids))  # type: ignore[call-arg]
        scores, ids = vectors.search(query_vector.reshape(1, -1).astype(np.float32), limit, params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def dense(self, query_vector: np.ndarray, limit: int, allowed: ChunkFilter | None = None
              ) -> list[tuple[int, float]]:
        """Chunk ids by cosine similarity (vectors are unit length, so inner product)."""
        if allowed is None:
            return self._nearest(self.vectors, query_vector, limit, None)
        return self._nearest(self.vectors, query_vector, limit, allowed.sql, allowed.parameters)

    def best_sentences(self, query_vector: np.ndarray, limit: int, allowed: ChunkFilter | None = None
                       ) -> list[tuple[int, float, tuple[int, int]]]:
        """Chunks ranked by their sentence closest to the query: (chunk id, cosine, sentence span)."""
        if allowed is None:
            found = self._nearest(self.sentence_vectors, query_vector, limit, None)
        else:
            found = self._nearest(self.sentence_vectors, query_vector, limit,
                                  f"SELECT id FROM sentences WHERE chunk_id IN ({allowed.sql})", allowed.parameters)
        if not found:
            return []
        placeholders = ",".join("?" * len(found))
        spans = {row["id"]: (row["chunk_id"], row["start"], row["end"]) for row in self._rows(
            f'SELECT id, chunk_id, start, "end" FROM sentences WHERE id IN ({placeholders})', [i for i, _ in found])}
        best: dict[int, tuple[int, float, tuple[int, int]]] = {}
        for sentence_id, score in found:
            chunk_id, start, end = spans[sentence_id]
            if chunk_id not in best:
                best[chunk_id] = (chunk_id, score, (start, end))
        return list(best.values())

    def sentence_scores(self, query_vector: np.ndarray, chunk_ids: Sequence[int]
                        ) -> dict[int, list[tuple[float, tuple[int, int]]]]:
        """For each chunk, the cosine of each of its sentences to the query, with the sentence's span."""
        if not chunk_ids:
            return {}
        placeholders = ",".join("?" * len(chunk_ids))
        rows = self._rows(f'SELECT id, chunk_id, start, "end" FROM sentences WHERE chunk_id IN ({placeholders}) '
                          "ORDER BY id", list(chunk_ids))
        if not rows:
            return {}
        stored = self.sentence_vectors.reconstruct_batch(np.asarray([row["id"] for row in rows], dtype=np.int64))
        scores = stored @ query_vector.reshape(-1)
        out: dict[int, list[tuple[float, tuple[int, int]]]] = {}
        for row, score in zip(rows, scores, strict=True):
            out.setdefault(row["chunk_id"], []).append((float(score), (row["start"], row["end"])))
        return out

    def similarities(self, query_vector: np.ndarray, ids: Sequence[int]) -> dict[int, float]:
        """Cosine similarity of the query to particular chunks."""
        if not ids:
            return {}
        stored = self.vectors.reconstruct_batch(np.asarray(ids, dtype=np.int64))
        return {i: float(s) for i, s in zip(ids, stored @ query_vector.reshape(-1), strict=True)}

    def keyword(self, match_expression: str, limit: int, allowed: ChunkFilter | None = None) -> list[tuple[int, float]]:
        """Chunk ids by BM25 for an FTS5 MATCH expression (best first; score: higher is better)."""
        if not match_expression:
            return []
        where, parameters = ("", []) if allowed is None else (f" AND rowid IN ({allowed.sql})", allowed.parameters)
        rows = self._rows(
            "SELECT rowid, bm25(chunks_fts, 0.5, 2.0, 1.0) AS rank FROM chunks_fts WHERE chunks_fts MATCH ?"
            f"{where} ORDER BY rank LIMIT ?",
            (match_expression, *parameters, limit),
        )
        return [(int(row["rowid"]), -float(row["rank"])) for row in rows]

    # --- reading chunks and documents -----------------------------------------------------------

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

    def documents(self) -> list[dict[str, Any]]:
        rows = self._rows(
            "SELECT d.doc_id, d.file_name, d.title, d.area, d.partnership, d.year, d.published, d.review_type, "
            "d.content_hash, COUNT(c.id) AS chunks FROM documents d LEFT JOIN chunks c USING (doc_id) "
            "GROUP BY d.doc_id ORDER BY d.year DESC, d.title"
        )
        return [dict(row) for row in rows]

    def theme_counts(self) -> dict[str, tuple[int, int]]:
        """Per theme id: (documents, chunks) tagged with it."""
        rows = self._rows("SELECT t.theme, COUNT(DISTINCT c.doc_id) AS documents, COUNT(*) AS chunks "
                          "FROM chunk_themes t JOIN chunks c ON c.id = t.chunk_id GROUP BY t.theme")
        return {row["theme"]: (row["documents"], row["chunks"]) for row in rows}

    def theme_by_document(self, theme: str) -> list[dict[str, Any]]:
        """The reviews that raise a theme, with how many of their passages do, most first."""
        rows = self._rows(
            "SELECT d.doc_id, d.title, d.area, d.year, d.review_type, COUNT(*) AS chunks, "
            "(SELECT COUNT(*) FROM chunks a WHERE a.doc_id = d.doc_id) AS total_chunks "
            "FROM chunk_themes t JOIN chunks c ON c.id = t.chunk_id JOIN documents d ON d.doc_id = c.doc_id "
            "WHERE t.theme = ? GROUP BY d.doc_id ORDER BY chunks DESC, d.year DESC", (theme,))
        return [dict(row) for row in rows]

    def facets(self) -> dict[str, list[Any]]:
        """The values the documents take for each filter: areas, review types, years."""
        return {
            "areas": [r[0] for r in self._rows("SELECT DISTINCT area FROM documents WHERE area IS NOT NULL "
                                               "ORDER BY area")],
            "types": [r[0] for r in self._rows("SELECT DISTINCT review_type FROM documents WHERE review_type "
                                               "IS NOT NULL ORDER BY review_type")],
            "years": [r[0] for r in self._rows("SELECT DISTINCT year FROM documents WHERE year IS NOT NULL "
                                               "ORDER BY year")],
        }

    def document(self, doc_id: str) -> Document | None:
        rows = self._rows("SELECT * FROM documents WHERE doc_id = ?", (doc_id,))
        if not rows:
            return None
        row = rows[0]
        return Document(
            doc_id=row["doc_id"], file_name=row["file_name"], meta=_meta(row), text=row["text"],
            content_hash=row["content_hash"], page_starts=json.loads(row["page_starts"]),
        )

    def close(self) -> None:
        with self._db_lock:
            self._db.close()


def _meta(row: sqlite3.Row) -> DocumentMeta:
    return DocumentMeta(title=row["title"], area=row["area"], partnership=row["partnership"], year=row["year"],
                        published=row["published"], review_type=row["review_type"])


def _stored_chunk(row: sqlite3.Row) -> StoredChunk:
    chunk = Chunk(doc_id=row["doc_id"], n=row["n"], section=row["section"], page=row["page"],
                  start=row["start"], end=row["end"], text=row["text"])
    return StoredChunk(id=row["id"], chunk=chunk, meta=_meta(row))


class IndexWriter:
    """Writes one new version into a staging folder: documents, chunks, FTS rows and vectors.

    Started empty for a full build, or from a copy of the published version (`base`) so that a change
    touches only the documents it adds or removes.
    """

    def __init__(self, staging: Path, *, model: str, dimension: int, base: Published | None = None) -> None:
        self.staging = staging
        self.incremental = base is not None
        self.manifest = Manifest(version=new_version_name(), model=model, dimension=dimension,
                                 chunking_version=CHUNKING_VERSION, built_at="")
        self.segment = self.manifest.version
        self.vectors: Any = faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))
        self.sentence_vectors: Any = faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))
        if base is None:
            self.db = sqlite3.connect(staging / SQLITE)
            self.db.executescript("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;" + SCHEMA)
        else:
            verify_files(base.directory, base.manifest, [SQLITE])  # never build on a damaged copy
            shutil.copyfile(base.directory / SQLITE, staging / SQLITE)
            self.db = sqlite3.connect(staging / SQLITE)
            self.db.executescript("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;")
            for segment in base.manifest.segments:
                for name in segment_files(segment):
                    _link_or_copy(base.directory / name, staging / name)
                    self.manifest.checksums[name] = base.manifest.checksums[name]
            self.manifest.segments = list(base.manifest.segments)
            self.manifest.documents = dict(base.manifest.documents)
        self.next_id = int(self.db.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM chunks").fetchone()[0])
        self.next_sentence_id = int(self.db.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM sentences").fetchone()[0])

    def add(self, embedded: EmbeddedDocument) -> None:
        document, chunks, vectors, themes = embedded.document, embedded.chunks, embedded.vectors, embedded.themes
        if not len(chunks) == len(vectors) == len(themes) == len(embedded.sentences):
            raise ValueError("one vector, one list of themes and one list of sentences per chunk")
        meta = document.meta
        self.db.execute(
            "INSERT INTO documents VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (document.doc_id, document.file_name, meta.title, meta.area, meta.partnership, meta.year,
             meta.published, meta.review_type, document.content_hash, document.text,
             json.dumps(document.page_starts)),
        )
        ids = np.arange(self.next_id, self.next_id + len(chunks), dtype=np.int64)
        self.next_id += len(chunks)
        rows = list(zip(ids.tolist(), chunks, strict=True))
        self.db.executemany(
            'INSERT INTO chunks (id, doc_id, n, section, page, start, "end", text) VALUES (?,?,?,?,?,?,?,?)',
            [(i, c.doc_id, c.n, c.section, c.page, c.start, c.end, c.text) for i, c in rows],
        )
        self.db.executemany(
            "INSERT INTO chunks_fts (rowid, title, section, body) VALUES (?,?,?,?)",
            [(i, meta.title, c.section or "", c.text) for i, c in rows],
        )
        self.db.executemany("INSERT INTO chunk_themes (chunk_id, theme) VALUES (?, ?)",
                            [(i, theme) for i, tags in zip(ids.tolist(), themes, strict=True) for theme in tags])
        sentence_rows = [(i, start, end) for i, spans in zip(ids.tolist(), embedded.sentences, strict=True)
                         for start, end in spans]
        sentence_ids = np.arange(self.next_sentence_id, self.next_sentence_id + len(sentence_rows), dtype=np.int64)
        self.next_sentence_id += len(sentence_rows)
        self.db.executemany('INSERT INTO sentences (id, chunk_id, start, "end") VALUES (?,?,?,?)',
                            [(int(s), *row) for s, row in zip(sentence_ids, sentence_rows, strict=True)])
        if len(chunks):
            self.vectors.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids)
        if len(sentence_rows):
            self.sentence_vectors.add_with_ids(np.ascontiguousarray(embedded.sentence_vectors, dtype=np.float32),
                                               sentence_ids)
        self.manifest.documents[document.doc_id] = DocumentEntry(document.file_name, document.content_hash,
                                                                 len(chunks))

    def remove(self, doc_id: str) -> None:
        """Take a document, its chunks, sentences and keyword rows out of this version.

        Its vectors stay in the earlier segments' files; readers serve only ids still present in SQLite.
        """
        chunk_ids = "SELECT id FROM chunks WHERE doc_id = ?"
        self.db.execute(f"DELETE FROM chunks_fts WHERE rowid IN ({chunk_ids})", (doc_id,))
        self.db.execute(f"DELETE FROM chunk_themes WHERE chunk_id IN ({chunk_ids})", (doc_id,))
        self.db.execute(f"DELETE FROM sentences WHERE chunk_id IN ({chunk_ids})", (doc_id,))
        self.db.execute("DELETE FROM chunks WHERE doc_id = ?", (doc_id,))
        self.db.execute("DELETE FROM documents WHERE doc_id = ?", (doc_id,))
        self.manifest.documents.pop(doc_id, None)

    def retag(self, tag: Callable[[list[str], np.ndarray], list[list[str]]], vectors: Any,
              batch: int = 4096) -> None:
        """Tag every chunk again (the themes changed), from its stored text and its vector in `vectors`."""
        self.db.execute("DELETE FROM chunk_themes")
        rows = self.db.execute("SELECT c.id, c.section, c.text FROM chunks c ORDER BY c.id").fetchall()
        for start in range(0, len(rows), batch):
            part = rows[start:start + batch]
            ids = np.asarray([row[0] for row in part], dtype=np.int64)
            texts = [Chunk("", 0, row[1], None, 0, 0, row[2]).indexed_text() for row in part]
            tags = tag(texts, vectors.reconstruct_batch(ids))
            self.db.executemany("INSERT INTO chunk_themes (chunk_id, theme) VALUES (?, ?)",
                                [(int(i), theme) for i, found in zip(ids, tags, strict=True) for theme in found])

    def finish(self) -> Manifest:
        """Flush everything to disk and write the manifest with checksums; returns it."""
        self.db.commit()
        if not self.incremental:  # merging the whole keyword index costs time in proportion to its size
            self.db.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('optimize')")
            self.db.commit()
        self.db.close()
        written = [SQLITE]
        if self.vectors.ntotal or not self.manifest.segments:
            chunk_file, sentence_file = segment_files(self.segment)
            faiss.write_index(self.vectors, str(self.staging / chunk_file))
            faiss.write_index(self.sentence_vectors, str(self.staging / sentence_file))
            self.manifest.segments.append(self.segment)
            written += [chunk_file, sentence_file]
        self.manifest.built_at = datetime.now(UTC).isoformat(timespec="seconds")
        self.manifest.checksums.update({name: file_sha256(self.staging / name) for name in written})
        (self.staging / MANIFEST).write_text(self.manifest.to_json(), encoding="utf-8")
        for name in (*written, MANIFEST):
            with (self.staging / name).open("rb") as handle:
                os.fsync(handle.fileno())
        return self.manifest

    def abort(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self.db.close()
        shutil.rmtree(self.staging, ignore_errors=True)
