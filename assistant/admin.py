"""Changing the collection: add files, accept uploads, remove reviews. corpus/ is the source of truth.

Used by both the CLI and the admin API, so a file added either way is checked and indexed the same way.
"""

from __future__ import annotations

import shutil
import time
import uuid
from pathlib import Path

from .build import BuildOptions, BuildReport, Progress, add_to_index, no_progress, remove_from_index, scan_corpus
from .config import Settings
from .embedding import Embedder
from .errors import BadRequest, DocumentUnreadable, NotFound, PayloadTooLarge, UnsupportedMediaType
from .ingest import SUPPORTED_SUFFIXES, doc_id_for, load_document
from .ingest.loaders import check_zip_bomb, sniff_format
from .ingest.metadata import sidecar_path
from .store import IndexStore
from .text import describe_size, slug

SUFFIX_FOR_FORMAT = {"pdf": ".pdf", "docx": ".docx", "html": ".html", "text": ".txt"}
REMOVED = ".removed"
INCOMING = ".incoming"


def set_aside(path: Path, corpus: Path) -> Path:
    """Move a file (and its sidecar) to corpus/.removed/, never overwriting what is already there."""
    removed = corpus / REMOVED
    removed.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = removed / path.name
    for item in (path, sidecar_path(path)):
        if item.exists():
            destination = removed / item.name
            if destination.exists():
                destination = removed / f"{stamp}-{uuid.uuid4().hex[:4]}-{item.name}"
            shutil.move(str(item), destination)
            if item == path:
                target = destination
    return target


def place_in_corpus(source: Path, corpus: Path, name: str | None = None) -> Path:
    """Copy a file into the corpus (with its sidecar); an older, different file of that name is set aside."""
    corpus.mkdir(parents=True, exist_ok=True)
    target = corpus / (name or source.name)
    if source.resolve() == target.resolve():
        return target
    if not (target.exists() and target.read_bytes() == source.read_bytes()):
        if target.exists():
            set_aside(target, corpus)
        shutil.copy2(source, target)
    if sidecar_path(source).exists():
        shutil.copy2(sidecar_path(source), sidecar_path(target))
    return target


def add_files(
    *, settings: Settings, store: IndexStore, embedder: Embedder, files: list[Path], progress: Progress = no_progress,
) -> BuildReport:
    """Copy review files into the corpus and index just them."""
    for source in files:
        if not source.is_file():
            raise BadRequest(f"{source}: no such file")
        if source.suffix.lower() not in SUPPORTED_SUFFIXES:
            kinds = ", ".join(sorted(SUPPORTED_SUFFIXES))
            raise BadRequest(f"{source.name}: unsupported file type; use one of {kinds}")
    placed = [place_in_corpus(source, settings.corpus_dir) for source in files]
    return add_to_index(files=placed, store=store, embedder=embedder, options=BuildOptions.from_settings(settings),
                        progress=progress)


def safe_file_name(uploaded_name: str, kind: str) -> str:
    """A name for an uploaded file built only from its letters and digits, with the suffix its content has."""
    stem = Path(uploaded_name.replace("\\", "/")).name
    stem = stem.rsplit(".", 1)[0] if "." in stem else stem
    name = slug(stem, max_chars=100, default="upload")
    suffix = SUFFIX_FOR_FORMAT[kind]
    if kind == "text" and uploaded_name.lower().endswith(".md"):
        suffix = ".md"
    return name + suffix


def check_upload(data: bytes, uploaded_name: str, *, max_bytes: int) -> str:
    """Judge an upload by its content; return the kind of document, or refuse it with the reason."""
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"{uploaded_name}: the file is larger than the {describe_size(max_bytes)} limit")
    if not data.strip():
        raise DocumentUnreadable(f"{uploaded_name}: the file is empty")
    kind = sniff_format(data)
    if kind not in SUFFIX_FOR_FORMAT:
        what = "a ZIP archive" if kind == "zip" else "not a document (binary data)"
        raise UnsupportedMediaType(f"{uploaded_name}: refused, the content is {what}; upload PDF, DOCX, HTML or text")
    if kind == "docx":
        check_zip_bomb(data, uploaded_name)
    return kind


def accept_upload(
    *, settings: Settings, store: IndexStore, embedder: Embedder, uploaded_name: str, data: bytes,
) -> BuildReport:
    """Check an uploaded review, read it once to be sure, then place it in the corpus and index it."""
    kind = check_upload(data, uploaded_name, max_bytes=settings.max_upload_bytes)
    name = safe_file_name(uploaded_name, kind)
    incoming = settings.corpus_dir / INCOMING
    incoming.mkdir(parents=True, exist_ok=True)
    staged = incoming / f"{uuid.uuid4().hex}-{name}"
    try:
        staged.write_bytes(data)
        try:
            load_document(staged)
        except DocumentUnreadable as exc:
            raise DocumentUnreadable(exc.message.replace(staged.name, uploaded_name)) from None
        target = place_in_corpus(staged, settings.corpus_dir, name=name)
    finally:
        staged.unlink(missing_ok=True)
    return add_to_index(files=[target], store=store, embedder=embedder, options=BuildOptions.from_settings(settings))


def remove_documents(
    *, settings: Settings, store: IndexStore, embedder: Embedder, doc_ids: list[str],
) -> BuildReport:
    """Take reviews out of the index and move their files to corpus/.removed/ (nothing is deleted)."""
    known = store.read_manifest().documents
    unknown = [doc_id for doc_id in doc_ids if doc_id not in known]
    if unknown:
        raise NotFound(f"not in the index: {', '.join(unknown)}")
    for path in scan_corpus(settings.corpus_dir):
        if doc_id_for(path) in doc_ids:
            set_aside(path, settings.corpus_dir)
    return remove_from_index(doc_ids=frozenset(doc_ids), store=store, embedder=embedder,
                             options=BuildOptions.from_settings(settings))
