"""Build, add, update and remove: every change writes a new index version and publishes it atomically.

Documents whose content hash is unchanged are left as they are: a change copies the SQLite file, links
the earlier vector segments and writes one new segment, so its cost grows with what changed, not with
the size of the index.
"""

from __future__ import annotations

import itertools
import shutil
import time
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .config import DEFAULT_THEMES, Settings
from .embedding import Embedder
from .embedding_cache import EmbeddingCache
from .errors import DocumentUnreadable, IndexUnavailable
from .ingest import SUPPORTED_SUFFIXES, chunk_document, doc_id_for, load_document
from .ingest.documents import content_hash
from .manifest import Published
from .models import Chunk, Document
from .params import (
    DEFAULT_CHUNKING,
    DEFAULT_OCR,
    DEFAULT_VECTORS,
    ChunkingParams,
    OcrParams,
    VectorParams,
    chunking_fingerprint,
)
from .progress import Progress, T, no_progress
from .reader import OpenIndex
from .store import IndexStore
from .text import sentence_spans, strip_paragraph_number
from .themes import ThemeTagger, load_themes, themes_hash
from .writer import EmbeddedDocument, IndexWriter


@dataclass
class BuildReport:
    """What a build or update did, to print for the administrator."""

    version: str | None = None
    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    # Files indexed without some of their pages (scanned pages with no OCR available), and why.
    warnings: list[tuple[str, str]] = field(default_factory=list)
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


@dataclass(frozen=True)
class BuildOptions:
    """How a build runs: batch size, versions kept, the themes file, the chunking parameters and OCR."""

    batch_size: int = 32
    keep_versions: int = 2
    themes_files: tuple[Path, ...] = (DEFAULT_THEMES,)
    chunking: ChunkingParams = DEFAULT_CHUNKING
    ocr: OcrParams = DEFAULT_OCR
    vectors: VectorParams = DEFAULT_VECTORS
    # Documents read, embedded and written together: memory holds one batch, not the collection.
    stream_documents: int = 64

    @classmethod
    def from_settings(cls, settings: Settings) -> BuildOptions:
        return cls(batch_size=settings.batch_size, keep_versions=settings.keep_versions,
                   themes_files=settings.themes_files, chunking=settings.chunking, ocr=settings.ocr,
                   vectors=settings.vectors)


def build_index(*, files: list[Path], store: IndexStore, embedder: Embedder,
                options: BuildOptions = BuildOptions(), progress: Progress = no_progress) -> BuildReport:
    """A full build: read and embed every file again and publish an index of exactly them."""
    plan = _Plan(files=files, reuse_unchanged=False, keep_others=False, drop=frozenset())
    return _sync(plan, store=store, embedder=embedder, options=options, progress=progress)


def update_index(*, files: list[Path], store: IndexStore, embedder: Embedder,
                 options: BuildOptions = BuildOptions(), progress: Progress = no_progress) -> BuildReport:
    """Make the index hold exactly `files`, reading only new and changed ones and dropping the rest."""
    plan = _Plan(files=files, reuse_unchanged=True, keep_others=False, drop=frozenset())
    return _sync(plan, store=store, embedder=embedder, options=options, progress=progress)


def add_to_index(*, files: list[Path], store: IndexStore, embedder: Embedder,
                 options: BuildOptions = BuildOptions(), progress: Progress = no_progress,
                 loaded: Mapping[Path, Document] | None = None) -> BuildReport:
    """Add or replace `files`, keeping everything else the published index holds. Files in `loaded` were
    read already (an upload, checked before it was accepted): that reading is used, not a second one."""
    plan = _Plan(files=files, reuse_unchanged=True, keep_others=True, drop=frozenset(), loaded=loaded or {})
    return _sync(plan, store=store, embedder=embedder, options=options, progress=progress)


def remove_from_index(*, doc_ids: frozenset[str], store: IndexStore, embedder: Embedder,
                      options: BuildOptions = BuildOptions()) -> BuildReport:
    """Take documents out of the published index, keeping everything else."""
    plan = _Plan(files=[], reuse_unchanged=True, keep_others=True, drop=doc_ids)
    return _sync(plan, store=store, embedder=embedder, options=options, progress=no_progress)


@dataclass(frozen=True)
class _Plan:
    """What one change starts from and keeps: the four operations above are its only combinations."""

    files: list[Path]
    reuse_unchanged: bool  # start from a copy of the published version
    keep_others: bool  # keep published documents not among `files`
    drop: frozenset[str]  # ... except these
    loaded: Mapping[Path, Document] = field(default_factory=dict)  # files read already: not read again


def _sync(plan: _Plan, *, store: IndexStore, embedder: Embedder, options: BuildOptions,
          progress: Progress) -> BuildReport:
    """Carry out a plan under the writer lock and publish one new version at the end."""
    started = time.perf_counter()
    report = BuildReport()
    with store.writer_lock():
        previous = (_open_previous(store, embedder.name, required=plan.keep_others)
                    if plan.reuse_unchanged else None)
        if plan.keep_others and previous is None and store.current_version() is not None:
            raise IndexUnavailable("adding to the index needs the published index; run `assistant index build`")
        old_docs = previous.manifest.documents if previous else {}
        wanted = _unique_ids(plan.files, report)
        to_load = [(doc_id, path) for doc_id, path in wanted.items()
                   if doc_id not in old_docs or old_docs[doc_id].content_hash != _safe_hash(path)]
        changing = {doc_id for doc_id, _ in to_load}
        report.unchanged = [doc_id for doc_id in wanted if doc_id in old_docs and doc_id not in changing]
        keep = set(report.unchanged) | ({d for d in old_docs if d not in plan.drop} if plan.keep_others else set())
        keep -= changing
        current_themes = themes_hash(*options.themes_files)
        retag = previous is not None and previous.manifest.themes_hash != current_themes
        leaving = [doc_id for doc_id in old_docs if doc_id not in keep]
        new_ids: set[str] = set()
        if previous is not None and not to_load and not leaving and not retag:
            report.version = previous.manifest.version
        else:
            new_ids, report.version = _write_version(
                store, embedder, previous, to_load, keep, options, report=report, progress=progress,
                retag=retag, themes_version=current_themes, loaded=plan.loaded)
        report.added = sorted(d for d in new_ids if d not in old_docs)
        report.replaced = sorted(d for d in new_ids if d in old_docs)
        report.removed = [doc_id for doc_id in leaving if doc_id not in new_ids]
    final = store.read_manifest(report.version)
    report.documents = len(final.documents)
    report.chunks = final.chunk_count
    report.seconds = time.perf_counter() - started
    return report


def _unique_ids(files: list[Path], report: BuildReport) -> dict[str, Path]:
    wanted: dict[str, Path] = {}
    for path in files:
        doc_id = doc_id_for(path)
        if doc_id in wanted:
            report.skipped.append((path.name, f"has the same document id as {wanted[doc_id].name}"))
        else:
            wanted[doc_id] = path
    return wanted


def _load(doc_id: str, path: Path, report: BuildReport, *, seen: dict[str, str], options: BuildOptions,
          progress: Progress, document: Document | None = None) -> tuple[Document, list[Chunk]] | None:
    """Load (unless `document` is its reading already) and chunk one file; None (with the reason in the report)
    when it is unreadable or a duplicate."""
    try:
        if document is None:
            document = load_document(path, layout=options.chunking.pdf, ocr=options.ocr, progress=progress)
    except DocumentUnreadable as exc:
        report.skipped.append((path.name, exc.message.removeprefix(f"{path.name}: ")))
        return None
    if document.content_hash in seen and seen[document.content_hash] != doc_id:
        report.skipped.append((path.name, f"same content as {seen[document.content_hash]}, already indexed"))
        return None
    seen[document.content_hash] = doc_id
    report.warnings.extend((path.name, warning) for warning in document.warnings)
    chunks = chunk_document(document, options.chunking)
    if not chunks:
        report.skipped.append((path.name, "no passages could be cut from the text"))
        return None
    return document, chunks


def _batches(items: Iterable[T], size: int) -> Iterator[list[T]]:
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _discard(opening: Future[IndexWriter], staging: Path) -> None:
    """Throw away a writer still being opened (or its staging folder, if opening failed)."""
    try:
        opening.result().abort()
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)


def _write_version(
    store: IndexStore,
    embedder: Embedder,
    previous: Published | None,
    to_load: list[tuple[str, Path]],
    keep: set[str],
    options: BuildOptions,
    *,
    report: BuildReport,
    progress: Progress,
    retag: bool,
    themes_version: str,
    loaded: Mapping[Path, Document],
) -> tuple[set[str], str]:
    """Write and publish a version holding `keep` (from `previous`) plus the files of `to_load`, theme-tagged.

    Documents stream through reading, embedding and writing a batch at a time, so memory does not grow with
    the collection; each document's vectors are cached as they are computed, so a build killed half way and
    started again embeds only what it had not. Returns the ids written and the version published (the
    previous one when nothing changed after all).
    """
    cache = EmbeddingCache(store.root, embedder.name, chunking_fingerprint(options.chunking))
    tagger = ThemeTagger(load_themes(*options.themes_files), embedder)
    seen = {previous.manifest.documents[d].content_hash: d for d in keep} if previous else {}

    def embedded(batch: list[tuple[str, Path]]) -> list[EmbeddedDocument]:
        read = [found for doc_id, path in batch
                if (found := _load(doc_id, path, report, seen=seen, options=options, progress=progress,
                                   document=loaded.get(path)))]
        return embed_documents(read, embedder, tagger, batch_size=options.batch_size, cache=cache,
                               whole_passages=options.chunking.passage_vector == "text",
                               report=report, progress=progress)

    batches = _batches(progress(to_load, len(to_load), "Indexing"), options.stream_documents)
    staging = store.new_staging()
    with ThreadPoolExecutor(max_workers=1) as pool:
        # A change starts from a copy of the published SQLite file, seconds at national size: the first
        # documents are read and embedded meanwhile.
        opening = pool.submit(IndexWriter, staging, model=embedder.name, dimension=embedder.dimension,
                              chunking=options.chunking, vectors=options.vectors, base=previous)
        try:
            first = embedded(next(batches, []))
            writer = opening.result()
        except BaseException:
            _discard(opening, staging)
            raise
    writer.manifest.themes_hash = themes_version
    written: set[str] = set()
    try:
        leaving = [doc_id for doc_id in writer.manifest.documents if doc_id not in keep]
        for doc_id in leaving:
            writer.remove(doc_id)
        if retag and previous is not None:
            old = OpenIndex(previous.directory, previous.manifest)
            writer.retag(tagger.tag, old.passages)
            old.close()
        for documents in itertools.chain([first], map(embedded, batches)):
            for document in documents:
                writer.add(document)
                written.add(document.document.doc_id)
        if previous is not None and not written and not leaving and not retag:
            writer.abort()
            return written, previous.manifest.version
        manifest = writer.finish()
        store.publish(staging, manifest)
    except BaseException:
        writer.abort()
        raise
    cache.clear()
    store.prune(keep=options.keep_versions)
    return written, manifest.version


def _safe_hash(path: Path) -> str | None:
    try:
        return content_hash(path)
    except OSError:
        return None


def _open_previous(store: IndexStore, model: str, *, required: bool) -> Published | None:
    """The published version to start from; None when there is none or, unless `required`, it is unusable."""
    if store.current_version() is None:
        return None
    try:
        return store.published(model=model)
    except IndexUnavailable:
        if required:
            raise
        return None  # another model, chunking or a damaged file: everything is rebuilt


def passage_text(title: str, chunk: Chunk) -> str:
    """A passage as embedded whole: what it is from, then what it says."""
    heading = f"{title}. {chunk.section}" if chunk.section and chunk.section != title else title
    return f"{heading}\n{chunk.text}"


def sentence_text(chunk_text: str, span: tuple[int, int]) -> str:
    """A sentence as embedded: without the paragraph number or list marker in front ("5.12", "(a)"), which
    say where it is, not what it says."""
    return strip_paragraph_number(chunk_text[span[0]:span[1]])


def embed_documents(
    loaded: list[tuple[Document, list[Chunk]]],
    embedder: Embedder,
    tagger: ThemeTagger,
    *,
    batch_size: int,
    cache: EmbeddingCache | None = None,
    report: BuildReport | None = None,
    progress: Progress = no_progress,
    whole_passages: bool = True,
) -> list[EmbeddedDocument]:
    """Embed every sentence and passage once; tag each chunk with its themes.

    With `whole_passages`, a chunk's vector is the encoding of the whole passage with its review's title and
    section in front (`passage_text`); otherwise the mean of its sentences' vectors and its section title's
    (half the encoding, but it ranked worse on real web pages). Documents found in `cache` are not embedded
    again; each of the others is saved to it as soon as it is embedded, so a build killed half way and run
    again embeds only what it had not. `report.embedded_chunks` counts what the model embedded.
    """
    out: list[EmbeddedDocument] = []
    for document, chunks in loaded:
        spans = [sentence_spans(chunk.text) or [(0, len(chunk.text))] for chunk in chunks]
        found = cache.get(document.content_hash, len(chunks), sum(len(s) for s in spans)) if cache else None
        if found is None:
            found = _embed_document(document, chunks, spans, embedder, batch_size=batch_size, progress=progress,
                                    whole_passages=whole_passages)
            if cache is not None:
                cache.put(document.content_hash, *found)
            if report is not None:
                report.embedded_chunks += len(chunks)
        vectors, sentence_vectors = found
        out.append(EmbeddedDocument(
            document=document, chunks=chunks, vectors=vectors, sentences=spans, sentence_vectors=sentence_vectors,
            themes=tagger.tag([chunk.indexed_text() for chunk in chunks], vectors, [chunk.section for chunk in chunks]),
        ))
    return out


def _embed_document(document: Document, chunks: list[Chunk], spans: list[list[tuple[int, int]]], embedder: Embedder,
                    *, batch_size: int, progress: Progress, whole_passages: bool) -> tuple[np.ndarray, np.ndarray]:
    """One document's passage vectors and sentence vectors (see embed_documents)."""
    texts = [sentence_text(chunk.text, span) for chunk, chunk_spans in zip(chunks, spans, strict=True)
             for span in chunk_spans]
    if whole_passages:
        extra = [passage_text(document.meta.title, chunk) for chunk in chunks]
    else:
        extra = sorted({chunk.section for chunk in chunks if chunk.section})
    flat = _encode_all([*texts, *extra], embedder, batch_size=batch_size, progress=progress)
    sentence_vectors = flat[:len(texts)].astype(np.float32)
    if whole_passages:
        return flat[len(texts):].astype(np.float32).reshape(len(chunks), embedder.dimension), sentence_vectors
    section_vectors = dict(zip(extra, flat[len(texts):], strict=True))
    chunk_vectors = []
    offset = 0
    for chunk, chunk_spans in zip(chunks, spans, strict=True):
        own = flat[offset:offset + len(chunk_spans)]
        offset += len(chunk_spans)
        parts = [own, section_vectors[chunk.section][None, :]] if chunk.section else [own]
        mean = np.concatenate(parts).mean(axis=0)
        chunk_vectors.append(mean / max(float(np.linalg.norm(mean)), 1e-9))
    return np.asarray(chunk_vectors, dtype=np.float32).reshape(len(chunks), embedder.dimension), sentence_vectors


def _encode_all(texts: list[str], embedder: Embedder, *, batch_size: int, progress: Progress) -> np.ndarray:
    """Encode in groups, so that one long review (a 150-page report) shows its own progress."""
    group = batch_size * 16
    parts = [np.asarray(embedder.encode(texts[start:start + group], batch_size=batch_size), dtype=np.float32)
             for start in progress(range(0, len(texts), group), -(-len(texts) // group), "Embedding")]
    return np.concatenate(parts) if parts else np.zeros((0, embedder.dimension), dtype=np.float32)

