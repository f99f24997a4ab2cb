"""Build, add, update and remove: every change writes a new index version and publishes it atomically.

Documents whose content hash is unchanged are left as they are: a change copies the SQLite file, links
the earlier vector segments and writes one new segment, so its cost grows with what changed, not with
the size of the index.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np

from .config import DEFAULT_THEMES, Settings
from .embedding import Embedder
from .errors import DocumentUnreadable, IndexUnavailable
from .ingest import SUPPORTED_SUFFIXES, chunk_document, doc_id_for, load_document
from .ingest.documents import content_hash
from .manifest import Published
from .models import Chunk, Document
from .params import DEFAULT_CHUNKING, DEFAULT_OCR, DEFAULT_VECTORS, ChunkingParams, OcrParams, VectorParams
from .reader import OpenIndex
from .store import IndexStore
from .text import sentence_spans, strip_list_marker
from .themes import ThemeTagger, load_themes, themes_hash
from .writer import EmbeddedDocument, IndexWriter

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
    themes_path: Path = DEFAULT_THEMES
    chunking: ChunkingParams = DEFAULT_CHUNKING
    ocr: OcrParams = DEFAULT_OCR
    vectors: VectorParams = DEFAULT_VECTORS

    @classmethod
    def from_settings(cls, settings: Settings) -> BuildOptions:
        return cls(batch_size=settings.batch_size, keep_versions=settings.keep_versions,
                   themes_path=settings.themes_path, chunking=settings.chunking, ocr=settings.ocr,
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
                 options: BuildOptions = BuildOptions(), progress: Progress = no_progress) -> BuildReport:
    """Add or replace `files`, keeping everything else the published index holds."""
    plan = _Plan(files=files, reuse_unchanged=True, keep_others=True, drop=frozenset())
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
        loaded = _load_all(to_load, report, known_hashes={old_docs[d].content_hash: d for d in keep},
                           options=options, progress=progress)
        new_ids = {document.doc_id for document, _ in loaded}
        gone = [doc_id for doc_id in old_docs if doc_id not in keep and doc_id not in new_ids]
        current_themes = themes_hash(options.themes_path)
        retag = previous is not None and previous.manifest.themes_hash != current_themes
        if previous is not None and not loaded and not gone and not retag:
            report.version = previous.manifest.version
        else:
            tagger = ThemeTagger(load_themes(options.themes_path), embedder)
            embedded = embed_documents(loaded, embedder, tagger, batch_size=options.batch_size, progress=progress)
            report.version = _write_version(store, embedder, previous, embedded, keep, options,
                                            tagger=tagger, retag=retag, themes_version=current_themes)
        report.added = sorted(d for d in new_ids if d not in old_docs)
        report.replaced = sorted(d for d in new_ids if d in old_docs)
        report.removed = gone
        report.embedded_chunks = sum(len(chunks) for _, chunks in loaded)
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


def _load_all(
    to_load: list[tuple[str, Path]], report: BuildReport, *, known_hashes: dict[str, str], options: BuildOptions,
    progress: Progress,
) -> list[tuple[Document, list[Chunk]]]:
    """Load and chunk each file; skip (with the reason) what is unreadable or already indexed."""
    loaded: list[tuple[Document, list[Chunk]]] = []
    seen = dict(known_hashes)
    chunking = options.chunking
    for doc_id, path in progress(to_load, len(to_load), "Reading"):
        try:
            document = load_document(path, layout=chunking.pdf, ocr=options.ocr, progress=progress)
        except DocumentUnreadable as exc:
            report.skipped.append((path.name, exc.message.removeprefix(f"{path.name}: ")))
            continue
        if document.content_hash in seen and seen[document.content_hash] != doc_id:
            report.skipped.append((path.name, f"same content as {seen[document.content_hash]}, already indexed"))
            continue
        seen[document.content_hash] = doc_id
        report.warnings.extend((path.name, warning) for warning in document.warnings)
        chunks = chunk_document(document, chunking)
        if not chunks:
            report.skipped.append((path.name, "no passages could be cut from the text"))
            continue
        loaded.append((document, chunks))
    return loaded


def _write_version(
    store: IndexStore,
    embedder: Embedder,
    previous: Published | None,
    embedded: list[EmbeddedDocument],
    keep: set[str],
    options: BuildOptions,
    *,
    tagger: ThemeTagger,
    retag: bool,
    themes_version: str,
) -> str:
    """Write and publish a version holding `keep` (from `previous`) plus the loaded documents, theme-tagged."""
    staging = store.new_staging()
    writer = IndexWriter(staging, model=embedder.name, dimension=embedder.dimension, chunking=options.chunking,
                         vectors=options.vectors,
                         base=previous)
    writer.manifest.themes_hash = themes_version
    try:
        for doc_id in list(writer.manifest.documents):
            if doc_id not in keep:
                writer.remove(doc_id)
        if retag and previous is not None:
            old = OpenIndex(previous.directory, previous.manifest)
            writer.retag(tagger.tag, old.passages)
            old.close()
        for document in embedded:
            writer.add(document)
        manifest = writer.finish()
        store.publish(staging, manifest)
    except BaseException:
        writer.abort()
        raise
    store.prune(keep=options.keep_versions)
    return manifest.version


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


def sentence_text(chunk_text: str, span: tuple[int, int]) -> str:
    """A sentence as embedded and quoted: without a list marker in front."""
    return strip_list_marker(chunk_text[span[0]:span[1]])


def embed_documents(
    loaded: list[tuple[Document, list[Chunk]]],
    embedder: Embedder,
    tagger: ThemeTagger,
    *,
    batch_size: int,
    progress: Progress = no_progress,
) -> list[EmbeddedDocument]:
    """Embed every sentence (and each distinct section title) once; tag each chunk with its themes.

    A chunk's vector is the mean of its sentences' vectors and its section title's, so one pass over the
    text gives both the passage-level and the sentence-level index (encoding whole chunks as well would
    double the cost, and ranked no better on benchmarks/questions.json).
    """
    spans = [[sentence_spans(chunk.text) or [(0, len(chunk.text))] for chunk in chunks] for _, chunks in loaded]
    sections = sorted({chunk.section for _, chunks in loaded for chunk in chunks if chunk.section})
    texts = [sentence_text(chunk.text, span) for (_, chunks), doc_spans in zip(loaded, spans, strict=True)
             for chunk, chunk_spans in zip(chunks, doc_spans, strict=True) for span in chunk_spans]
    flat = _encode_all([*texts, *sections], embedder, batch_size=batch_size, progress=progress)
    section_vectors = dict(zip(sections, flat[len(texts):], strict=True))
    out: list[EmbeddedDocument] = []
    offset = 0
    for (document, chunks), doc_spans in zip(loaded, spans, strict=True):
        chunk_vectors = []
        sentence_vectors = []
        for chunk, chunk_spans in zip(chunks, doc_spans, strict=True):
            own = flat[offset:offset + len(chunk_spans)]
            offset += len(chunk_spans)
            sentence_vectors.append(own)
            parts = [own, section_vectors[chunk.section][None, :]] if chunk.section else [own]
            mean = np.concatenate(parts).mean(axis=0)
            chunk_vectors.append(mean / max(float(np.linalg.norm(mean)), 1e-9))
        vectors = np.asarray(chunk_vectors, dtype=np.float32).reshape(len(chunks), embedder.dimension)
        out.append(EmbeddedDocument(
            document=document, chunks=chunks, vectors=vectors, sentences=doc_spans,
            sentence_vectors=np.concatenate(sentence_vectors) if sentence_vectors else np.zeros(
                (0, embedder.dimension), dtype=np.float32),
            themes=tagger.tag([chunk.indexed_text() for chunk in chunks], vectors),
        ))
    return out


def _encode_all(texts: list[str], embedder: Embedder, *, batch_size: int, progress: Progress) -> np.ndarray:
    group = batch_size * 32
    parts: list[np.ndarray] = []
    for start in progress(range(0, len(texts), group), _ceil_div(len(texts), group), "Embedding"):
        parts.append(embedder.encode(texts[start:start + group], batch_size=batch_size))
    return np.concatenate(parts) if parts else np.zeros((0, embedder.dimension), dtype=np.float32)


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)

