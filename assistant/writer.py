"""Writing a new index version into a staging folder: documents, chunks, sentences, FTS rows, vectors."""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from .access import access_to_json
from .errors import IndexUnavailable
from .manifest import (
    MANIFEST,
    SQLITE,
    DocumentEntry,
    Manifest,
    Published,
    file_sha256,
    new_version_name,
    segment_files,
)
from .models import Chunk, Document
from .params import DEFAULT_VECTORS, ChunkingParams, VectorParams, chunking_fingerprint
from .vectors import CHUNK_KIND, SENTENCE_KIND, SegmentWriter, VectorSet, ann_file, build_ann, update_ann, write_ann

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
CREATE TABLE dead_vectors (kind TEXT NOT NULL, id INTEGER NOT NULL, PRIMARY KEY (kind, id)) WITHOUT ROWID;
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


def copy_verified(source_dir: Path, manifest: Manifest, name: str, target_dir: Path) -> None:
    """Copy one file of a published version, checking its checksum in the same pass (one read, not two)."""
    digest = hashlib.sha256()
    with (source_dir / name).open("rb") as source, (target_dir / name).open("wb") as target:
        for block in iter(lambda: source.read(1 << 22), b""):
            digest.update(block)
            target.write(block)
    if digest.hexdigest() != manifest.checksums.get(name):
        raise IndexUnavailable(f"index file {source_dir / name} is corrupt (checksum mismatch); rebuild the index")


class IndexWriter:
    """Writes one new version into a staging folder: documents, chunks, FTS rows and vectors.

    Started empty for a full build, or from a copy of the published version (`base`) so that a change
    touches only the documents it adds or removes.
    """

    def __init__(self, staging: Path, *, model: str, dimension: int, chunking: ChunkingParams,
                 base: Published | None = None, vectors: VectorParams = DEFAULT_VECTORS) -> None:
        self.staging = staging
        self.base = base
        self.incremental = base is not None
        self.vector_params = vectors
        self.manifest = Manifest(version=new_version_name(), model=model, dimension=dimension,
                                 chunking_version=chunking_fingerprint(chunking), built_at="",
                                 chunking=asdict(chunking))
        self.segment = self.manifest.version
        # a change keeps to its base's files: sentence chunk ids in every segment, or in none
        self.manifest.sentence_chunks = base is None or base.manifest.sentence_chunks
        self.passages = SegmentWriter(staging, self.segment, CHUNK_KIND, dimension)
        self.sentences = SegmentWriter(staging, self.segment, SENTENCE_KIND, dimension,
                                       owners=self.manifest.sentence_chunks)
        self.removed: list[int] = []  # passage ids of the base taken out by this change
        # the writer may be opened in another thread than the one writing (see build._write_version);
        # it is only ever used by one thread at a time
        if base is None:
            self.db = sqlite3.connect(staging / SQLITE, check_same_thread=False)
            self.db.executescript("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;" + SCHEMA)
        else:
            copy_verified(base.directory, base.manifest, SQLITE, staging)  # never build on a damaged copy
            self.db = sqlite3.connect(staging / SQLITE, check_same_thread=False)
            self.db.executescript("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;")
            for segment in base.manifest.segments:
                for name in segment_files(segment, sentence_chunks=base.manifest.sentence_chunks):
                    _link_or_copy(base.directory / name, staging / name)
                    self.manifest.checksums[name] = base.manifest.checksums[name]
                    self.manifest.sizes[name] = base.manifest.sizes[name]
            self.manifest.segments = list(base.manifest.segments)
            self.manifest.documents = dict(base.manifest.documents)
        # Ids are never handed out twice: a removed passage's vector stays in its segment (listed as dead), so
        # a new passage taking its id would be taken for dead too.
        self.next_id = self._next_id("chunks", CHUNK_KIND)
        self.next_sentence_id = self._next_id("sentences", SENTENCE_KIND)

    def _next_id(self, table: str, kind: str) -> int:
        live = self.db.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}").fetchone()[0]
        dead = self.db.execute("SELECT COALESCE(MAX(id), 0) FROM dead_vectors WHERE kind = ?", (kind,)).fetchone()[0]
        return int(max(live, dead)) + 1

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
        self.passages.add(ids, vectors)
        self.sentences.add(sentence_ids, embedded.sentence_vectors,
                           np.asarray([row[0] for row in sentence_rows], dtype=np.int64))
        self.manifest.documents[document.doc_id] = DocumentEntry(document.file_name, document.content_hash,
                                                                 len(chunks))

    def remove(self, doc_id: str) -> None:
        """Take a document, its chunks, sentences and keyword rows out of this version.

        Its vectors stay in the earlier segments' files, their ids listed as dead so readers skip them.
        """
        chunk_ids = "SELECT id FROM chunks WHERE doc_id = ?"
        self.removed += [row[0] for row in self.db.execute(chunk_ids, (doc_id,))]
        self.db.execute(f"INSERT OR IGNORE INTO dead_vectors SELECT '{CHUNK_KIND}', id FROM chunks WHERE doc_id = ?",
                        (doc_id,))
        self.db.execute(f"INSERT OR IGNORE INTO dead_vectors SELECT '{SENTENCE_KIND}', id FROM sentences "
                        f"WHERE chunk_id IN ({chunk_ids})", (doc_id,))
        self.db.execute(f"DELETE FROM chunks_fts WHERE rowid IN ({chunk_ids})", (doc_id,))
        self.db.execute(f"DELETE FROM chunk_themes WHERE chunk_id IN ({chunk_ids})", (doc_id,))
        self.db.execute(f"DELETE FROM sentences WHERE chunk_id IN ({chunk_ids})", (doc_id,))
        self.db.execute("DELETE FROM chunks WHERE doc_id = ?", (doc_id,))
        self.db.execute("DELETE FROM documents WHERE doc_id = ?", (doc_id,))
        self.manifest.documents.pop(doc_id, None)

    def retag(self, tag: Callable[[list[str], np.ndarray, list[str | None]], list[list[str]]],
              vectors: VectorSet) -> None:
        """Tag every chunk again (the themes changed), a document at a time, from its stored text and its
        vector in `vectors`."""
        self.db.execute("DELETE FROM chunk_themes")
        rows = self.db.execute("SELECT c.id, c.section, c.text, c.doc_id FROM chunks c ORDER BY c.doc_id, c.id"
                               ).fetchall()
        for _, group in itertools.groupby(rows, key=lambda row: row[3]):
            part = list(group)
            ids = [int(row[0]) for row in part]
            texts = [Chunk("", 0, row[1], None, 0, 0, row[2]).indexed_text() for row in part]
            found = vectors.vectors_of(ids)
            tags = tag(texts, np.stack([found[i] for i in ids]), [row[1] for row in part])
            self.db.executemany("INSERT INTO chunk_themes (chunk_id, theme) VALUES (?, ?)",
                                [(i, theme) for i, themes in zip(ids, tags, strict=True) for theme in themes])

    def finish(self) -> Manifest:
        """Flush everything to disk and write the manifest with checksums; returns it."""
        self.db.commit()
        if not self.incremental:  # merging the whole keyword index costs time in proportion to its size
            self.db.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('optimize')")
            self.db.commit()
        live = int(self.db.execute("SELECT count(*) FROM chunks").fetchone()[0])
        dead = {kind: np.asarray([row[0] for row in self.db.execute("SELECT id FROM dead_vectors WHERE kind = ?",
                                                                     (kind,))], dtype=np.int64)
                for kind in (CHUNK_KIND, SENTENCE_KIND)}
        self.db.close()
        written = [SQLITE]
        self.passages.close()
        self.sentences.close()
        new_segment = self.passages.count > 0 or not self.manifest.segments
        if new_segment:
            self.manifest.segments.append(self.segment)
            written += list(segment_files(self.segment, sentence_chunks=self.manifest.sentence_chunks))
        else:
            for name in segment_files(self.segment, sentence_chunks=self.manifest.sentence_chunks):
                (self.staging / name).unlink()
        if live >= self.vector_params.ann_min_passages:
            self.manifest.ann = ann_file(self.manifest.version)
            self._write_ann(dead[CHUNK_KIND], new_segment)
            written.append(self.manifest.ann)
        else:
            self.manifest.ann = ""
        self.manifest.built_at = datetime.now(UTC).isoformat(timespec="seconds")
        self.manifest.checksums.update({name: file_sha256(self.staging / name) for name in written})
        self.manifest.sizes.update({name: (self.staging / name).stat().st_size for name in written})
        (self.staging / MANIFEST).write_text(self.manifest.to_json(), encoding="utf-8")
        for name in (*written, MANIFEST):
            with (self.staging / name).open("rb") as handle:
                os.fsync(handle.fileno())
        return self.manifest

    def _write_ann(self, dead: np.ndarray, new_segment: bool) -> None:
        """The approximate passage index: the base's, updated by this change, or built afresh."""
        target = self.staging / self.manifest.ann
        base = self.base
        if base is not None and base.manifest.ann:
            added = VectorSet(self.staging, [self.segment] if new_segment else [], CHUNK_KIND,
                              self.manifest.dimension, dead)
            index = update_ann(base.directory / base.manifest.ann, np.asarray(self.removed, dtype=np.int64),
                               added.live_batches())
        else:
            every = VectorSet(self.staging, self.manifest.segments, CHUNK_KIND, self.manifest.dimension, dead)
            index = build_ann(every, self.vector_params)
        write_ann(index, target)

    def abort(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self.db.close()
        shutil.rmtree(self.staging, ignore_errors=True)
