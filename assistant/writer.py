"""Writing a new index version into a staging folder: documents, chunks, sentences, FTS rows, vectors."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from .access import access_to_json
from .manifest import (
    MANIFEST,
    SQLITE,
    DocumentEntry,
    Manifest,
    Published,
    file_sha256,
    new_version_name,
    segment_files,
    verify_files,
)
from .models import Chunk, Document
from .params import ChunkingParams, chunking_fingerprint

SCHEMA = """
CREATE TABLE documents (
    doc_id TEXT PRIMARY KEY, file_name TEXT NOT NULL, title TEXT NOT NULL, area TEXT, partnership TEXT,
    year INTEGER, published TEXT, review_type TEXT, content_hash TEXT NOT NULL, text TEXT NOT NULL,
    page_starts TEXT NOT NULL, ocr_pages TEXT NOT NULL, access TEXT
);
CREATE TABLE chunks (
    id INTEGER PRIMARY KEY, doc_id TEXT NOT NULL REFERENCES documents(doc_id), n INTEGER NOT NULL,
    section TEXT, page INTEGER, start INTEGER NOT NULL, "end" INTEGER NOT NULL, text TEXT NOT NULL, paragraph TEXT,
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
class EmbeddedDocument:
    """A document ready to be written: its chunks, their vectors and themes, and each chunk's sentences
    (spans in the chunk's text) with their vectors, in chunk order."""

    document: Document
    chunks: list[Chunk]
    vectors: np.ndarray
    sentences: list[list[tuple[int, int]]]
    sentence_vectors: np.ndarray
    themes: list[list[str]]


def _link_or_copy(source: Path, target: Path) -> None:
    """Hard-link an unchanged file into a new version (instant); copy it where links are not possible."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


class IndexWriter:
    """Writes one new version into a staging folder: documents, chunks, FTS rows and vectors.

    Started empty for a full build, or from a copy of the published version (`base`) so that a change
    touches only the documents it adds or removes.
    """

    def __init__(self, staging: Path, *, model: str, dimension: int, chunking: ChunkingParams,
                 base: Published | None = None) -> None:
        self.staging = staging
        self.incremental = base is not None
        self.manifest = Manifest(version=new_version_name(), model=model, dimension=dimension,
                                 chunking_version=chunking_fingerprint(chunking), built_at="",
                                 chunking=asdict(chunking))
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
            "INSERT INTO documents (doc_id, file_name, title, area, partnership, year, published, review_type, "
            "content_hash, text, page_starts, ocr_pages, access) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (document.doc_id, document.file_name, meta.title, meta.area, meta.partnership, meta.year,
             meta.published, meta.review_type, document.content_hash, document.text,
             json.dumps(document.page_starts), json.dumps(document.ocr_pages), access_to_json(meta.access)),
        )
        ids = np.arange(self.next_id, self.next_id + len(chunks), dtype=np.int64)
        self.next_id += len(chunks)
        rows = list(zip(ids.tolist(), chunks, strict=True))
        self.db.executemany(
            'INSERT INTO chunks (id, doc_id, n, section, page, start, "end", text, paragraph) '
            "VALUES (?,?,?,?,?,?,?,?,?)",
            [(i, c.doc_id, c.n, c.section, c.page, c.start, c.end, c.text, c.paragraph) for i, c in rows],
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
