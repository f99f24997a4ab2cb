"""Build, add, update and remove: every change writes a new index version and publishes it atomically.

Documents whose content hash is unchanged are carried over with their stored vectors, so the cost of
a change grows with what changed, not with the size of the index.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np

from .embedding import Embedder
from .errors import DocumentUnreadable, IndexUnavailable
from .ingest import SUPPORTED_SUFFIXES, chunk_document, doc_id_for, load_document
from .ingest.documents import content_hash
from .models import Chunk, Document
from .store import IndexStore, IndexWriter, OpenIndex

T = TypeVar("T")
Progress = Callable[[Iterable[T], int, str], Iterable[T]]


def no_progress(items: Iterable[T], total: int, label: str) -> Iterable[T]:
    return items


@dataclass
class BuildReport:
    """What a build or update did, to print for the administrator."""

    version: str | None = None
    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    documents: int = 0
    chunks: int = 0
    embedded_chunks: int = 0
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        return bool(self.added or self.replaced or self.removed)


def scan_corpus(corpus_dir: Path) -> list[Path]:
    """Review files in the corpus folder (sorted; hidden folders such as .removed are ignored)."""
    if not corpus_dir.is_dir():
        raise IndexUnavailable(f"corpus folder {corpus_dir} does not exist")
    return sorted(
        path for path in corpus_dir.rglob("*")
        if path.is_file() and path.suffix.lower() in SUPPORTED_SUFFIXES
        and not any(part.startswith(".") for part in path.relative_to(corpus_dir).parts)
        and not path.name.endswith(".meta.toml")
    )


def sync_index(
    *,
    files: list[Path],
    store: IndexStore,
    embedder: Embedder,
    reuse_unchanged: bool = True,
    keep_others: bool = False,
    drop: frozenset[str] = frozenset(),
    batch_size: int = 32,
    keep_versions: int = 2,
    progress: Progress = no_progress,
) -> BuildReport:
    """Make the published index hold exactly `files` (plus, with keep_others, what it already held).

    Unchanged documents are carried over when `reuse_unchanged`; everything else is loaded, chunked
    and embedded; ids in `drop` are left out. Runs under the writer lock and publishes one new version at the end.
    """
    started = time.perf_counter()
    report = BuildReport()
    with store.writer_lock():
        previous = _open_previous(store, embedder.name) if (reuse_unchanged or keep_others) else None
        old_docs = previous.manifest.documents if previous else {}
        wanted: dict[str, Path] = {}
        for path in files:
            doc_id = doc_id_for(path)
            if doc_id in wanted:
                report.skipped.append((path.name, f"has the same document id as {wanted[doc_id].name}"))
                continue
            wanted[doc_id] = path

        to_load: list[tuple[str, Path]] = []
        carried: list[str] = []
        for doc_id, path in wanted.items():
            old = old_docs.get(doc_id)
            if reuse_unchanged and old is not None and old.content_hash == _safe_hash(path):
                carried.append(doc_id)
            else:
                to_load.append((doc_id, path))
        if keep_others:
            carried += [doc_id for doc_id in old_docs if doc_id not in wanted and doc_id not in drop]

        loaded: list[tuple[Document, list[Chunk]]] = []
        seen_hashes = {old_docs[doc_id].content_hash: doc_id for doc_id in carried}
        for doc_id, path in progress(to_load, len(to_load), "Reading"):
            try:
                document = load_document(path)
            except DocumentUnreadable as exc:
                report.skipped.append((path.name, exc.message.removeprefix(f"{path.name}: ")))
                if doc_id in old_docs and not keep_others:
                    report.removed.append(doc_id)
                continue
            if document.content_hash in seen_hashes:
                report.skipped.append((path.name, f"same content as {seen_hashes[document.content_hash]}"))
                continue
            seen_hashes[document.content_hash] = doc_id
            chunks = chunk_document(document)
            if not chunks:
                report.skipped.append((path.name, "no passages could be cut from the text"))
                continue
            loaded.append((document, chunks))

        vectors = embed_chunks(loaded, embedder, batch_size=batch_size, progress=progress)
        staging = store.new_staging()
        writer = IndexWriter(staging, model=embedder.name, dimension=embedder.dimension)
        try:
            for doc_id in carried:
                assert previous is not None
                writer.carry_over(previous, doc_id)
            for (document, chunks), doc_vectors in zip(loaded, vectors, strict=True):
                writer.add(document, chunks, doc_vectors)
                (report.replaced if document.doc_id in old_docs else report.added).append(document.doc_id)
            kept = set(carried) | {document.doc_id for document, _ in loaded}
            report.removed += [d for d in old_docs if d not in kept and d not in report.removed]
            report.unchanged = [d for d in carried if d in wanted or keep_others]
            if previous is not None and not report.changed and reuse_unchanged:
                writer.abort()
                report.version = previous.manifest.version
            else:
                manifest = writer.finish()
                store.publish(staging, manifest)
                report.version = manifest.version
                store.prune(keep=keep_versions)
        except BaseException:
            writer.abort()
            raise
        finally:
            if previous is not None:
                previous.close()
    final = store.read_manifest(report.version)
    report.documents = len(final.documents)
    report.chunks = final.chunk_count
    report.embedded_chunks = sum(len(chunks) for _, chunks in loaded)
    report.seconds = time.perf_counter() - started
    return report


def _safe_hash(path: Path) -> str | None:
    try:
        return content_hash(path)
    except OSError:
        return None


def _open_previous(store: IndexStore, model: str) -> OpenIndex | None:
    """The published version to carry documents over from; None when there is none or it is unusable."""
    if store.current_version() is None:
        return None
    try:
        return store.open(model=model)
    except IndexUnavailable:
        return None  # another model, chunking or a damaged file: everything is rebuilt


def embed_chunks(
    loaded: list[tuple[Document, list[Chunk]]],
    embedder: Embedder,
    *,
    batch_size: int,
    progress: Progress = no_progress,
) -> list[np.ndarray]:
    """Embed every chunk's indexed text in large groups; returns one array per document."""
    texts = [chunk.indexed_text() for document, chunks in loaded for chunk in chunks]
    group = batch_size * 32
    parts: list[np.ndarray] = []
    for start in progress(range(0, len(texts), group), _ceil_div(len(texts), group), "Embedding"):
        parts.append(embedder.encode(texts[start:start + group], batch_size=batch_size))
    flat = np.concatenate(parts) if parts else np.zeros((0, embedder.dimension), dtype=np.float32)
    out: list[np.ndarray] = []
    offset = 0
    for _, chunks in loaded:
        out.append(flat[offset:offset + len(chunks)])
        offset += len(chunks)
    return out


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)

