"""Changing the collection: add files, accept uploads, remove reviews. corpus/ is the source of truth.

Used by both the CLI and the admin API, so a file added either way is checked and indexed the same way.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import time
import tomllib
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Literal

from .build import BuildOptions, BuildReport, add_to_index, remove_from_index, scan_corpus
from .config import Settings
from .embedding import Embedder
from .errors import BadRequest, DocumentUnreadable, IndexBusy, NotFound, PayloadTooLarge, UnsupportedMediaType
from .ingest import SUPPORTED_SUFFIXES, doc_id_for, load_document
from .ingest.loaders import check_zip_bomb, sniff_format
from .ingest.metadata import sidecar_path
from .progress import Progress, no_progress
from .recovery import INCOMING, Journal, staged_name
from .store import IndexStore
from .text import describe_size, slug

SUFFIX_FOR_FORMAT = {"pdf": ".pdf", "docx": ".docx", "html": ".html", "text": ".txt"}
REMOVED = ".removed"


class CorpusChange:
    """Changes to corpus/ that are undone if indexing them fails: an admin write changes both or neither."""

    def __init__(self, corpus: Path) -> None:
        self.corpus = corpus
        self._moved: list[tuple[Path, Path]] = []  # (from, to)
        self._created: list[Path] = []
        self._journal: Journal | None = None  # while all_or_nothing runs: what a killed process leaves behind
        self._prefixes: dict[Path, str] = {}  # a review file -> the prefix it and its sidecar get in .removed/

    def set_aside(self, path: Path) -> Path:
        """Move a file (and its sidecar) to corpus/.removed/, never overwriting what is already there."""
        target = self._move_aside(path, self._prefix(path))
        if sidecar_path(path).exists():
            self._move_aside(sidecar_path(path), self._prefix(path))
        return target

    def _prefix(self, path: Path) -> str:
        """What a review's file and its sidecar are both named with in .removed/: nothing, or (when either name
        is taken there) one time-and-random prefix for the two, so that they stay a pair."""
        if path not in self._prefixes:
            removed = self.corpus / REMOVED
            taken = any((removed / candidate.name).exists() for candidate in (path, sidecar_path(path)))
            self._prefixes[path] = f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:4]}-" if taken else ""
        return self._prefixes[path]

    def _move_aside(self, path: Path, prefix: str) -> Path:
        removed = self.corpus / REMOVED
        removed.mkdir(exist_ok=True)
        destination = removed / f"{prefix}{path.name}"
        self._moved.append((path, destination))
        self._record()  # the journal names a move before it happens: a crash between leaves nothing unknown
        shutil.move(str(path), destination)
        return destination

    def _create(self, source: Path, target: Path) -> None:
        self._created.append(target)
        self._record()
        shutil.copy2(source, target)

    def _record(self) -> None:
        if self._journal is not None:
            self._journal.record(self._created, self._moved)

    def place(self, source: Path, name: str | None = None) -> Path:
        """Copy a file into the corpus (with its sidecar); an older, different file of that name is set aside."""
        self.corpus.mkdir(parents=True, exist_ok=True)
        target = self.corpus / (name or source.name)
        if source.resolve() == target.resolve():
            return target
        if not (target.exists() and target.read_bytes() == source.read_bytes()):
            if target.exists():  # a new version of a review: its metadata stays unless a new sidecar comes
                self._move_aside(target, self._prefix(target))
            self._create(source, target)
        if sidecar_path(source).exists():
            if sidecar_path(target).exists() and sidecar_path(target) not in self._created:
                self._move_aside(sidecar_path(target), self._prefix(target))
            self._create(sidecar_path(source), sidecar_path(target))
        return target

    def undo(self, only: Path | None = None) -> None:
        """Put the corpus back as it was before this change (for one placed file and its sidecar, if given)."""
        mine = None if only is None else {only, sidecar_path(only)}
        for created in reversed(self._created):
            if mine is None or created in mine:
                created.unlink(missing_ok=True)
        for original, destination in reversed(self._moved):
            if (mine is None or original in mine) and destination.exists() and not original.exists():
                shutil.move(str(destination), original)

    def drop_skipped(self, report: BuildReport, placed: list[Path]) -> None:
        """Take back the files the index skipped (a duplicate, an unreadable file): they are not kept."""
        skipped = {name for name, _ in report.skipped}
        for path in placed:
            if path.name in skipped:
                self.undo(only=path)

    @contextlib.contextmanager
    def all_or_nothing(self) -> Iterator[CorpusChange]:
        """The change, undone if it fails; journalled while it runs, so that a change a killed process left
        half done is settled when the next one starts (recovery.py)."""
        self._journal = Journal(self.corpus)
        try:
            yield self
        except BaseException:
            self.undo()
            raise
        finally:
            self._journal.close()
            self._journal = None


def add_files(
    *, settings: Settings, store: IndexStore, embedder: Embedder, files: list[Path], progress: Progress = no_progress,
) -> BuildReport:
    """Copy review files into the corpus and index just them; a file the index skips is not kept."""
    for source in files:
        if not source.is_file():
            raise BadRequest(f"{source}: no such file")
        if source.suffix.lower() not in SUPPORTED_SUFFIXES:
            kinds = ", ".join(sorted(SUPPORTED_SUFFIXES))
            raise BadRequest(f"{source.name}: unsupported file type; use one of {kinds}")
    refuse_if_busy(store)
    with CorpusChange(settings.corpus_dir).all_or_nothing() as change:
        placed = [change.place(source) for source in files]
        report = add_to_index(files=placed, store=store, embedder=embedder,
                              options=BuildOptions.from_settings(settings), progress=progress)
        change.drop_skipped(report, placed)
        return report


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


def sidecar_with_access(existing: Path | None, access: tuple[str, ...] | None) -> str:
    """The sidecar text for a review: its current metadata (if it has a sidecar) with `access` set."""
    values = read_sidecar_values(existing) if existing is not None else {}
    values.pop("access", None)
    if access is not None:
        values["access"] = "restricted" if not access else list(access)
    return "".join(f"{key} = {_toml_value(value)}\n" for key, value in values.items())


def read_sidecar_values(path: Path) -> dict[str, object]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise DocumentUnreadable(f"{path.name}: the metadata file cannot be read ({exc}); fix it first") from None


def _toml_value(value: object) -> str:
    """A sidecar value as TOML: strings (JSON's escapes are TOML's), whole numbers, booleans, lists of them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)


def accept_upload(
    *, settings: Settings, store: IndexStore, embedder: Embedder, uploaded_name: str, data: bytes,
    access: tuple[str, ...] | None | Literal["unchanged"] = "unchanged",
) -> BuildReport:
    """Check an uploaded review, place it in the corpus, read it once (with the configured settings, and OCR
    within the upload's time budget) and index that reading; a refused or duplicate upload leaves the corpus
    as it was. `access` (groups, empty for admins only, None
    for public) is written to the review's sidecar; "unchanged" keeps what a replaced review had."""
    kind = check_upload(data, uploaded_name, max_bytes=settings.max_upload_bytes)
    refuse_if_busy(store)
    name = safe_file_name(uploaded_name, kind)
    corpus = settings.corpus_dir
    # The same review under another file name (.txt where this is .pdf): replaced, its metadata carried over.
    others = [path for path in scan_corpus(corpus) if doc_id_for(path) == doc_id_for(Path(name))
              and path.name != name] if corpus.is_dir() else []
    current = next((sidecar_path(path) for path in [corpus / name, *others] if sidecar_path(path).exists()), None)
    incoming = corpus / INCOMING
    incoming.mkdir(parents=True, exist_ok=True)
    staged = incoming / staged_name(name)
    try:
        staged.write_bytes(data)
        if access != "unchanged":
            sidecar_path(staged).write_text(sidecar_with_access(current, access), encoding="utf-8")
        elif current is not None and others:  # the sidecar would leave with the file set aside
            shutil.copyfile(current, sidecar_path(staged))
        options = BuildOptions.from_settings(settings)
        options = replace(options, ocr=replace(options.ocr, budget_seconds=settings.upload_ocr_seconds))
        with CorpusChange(corpus).all_or_nothing() as change:
            for other in others:
                change.set_aside(other)
            target = change.place(staged, name=name)
            try:  # read once, with the configured settings; the build uses this reading
                document = load_document(target, layout=options.chunking.pdf, ocr=options.ocr)
            except DocumentUnreadable as exc:
                raise DocumentUnreadable(exc.message.replace(target.name, uploaded_name)) from None
            report = add_to_index(files=[target], store=store, embedder=embedder, options=options,
                                  loaded={target: document})
            change.drop_skipped(report, [target])
            return report
    finally:
        staged.unlink(missing_ok=True)
        sidecar_path(staged).unlink(missing_ok=True)


def remove_documents(
    *, settings: Settings, store: IndexStore, embedder: Embedder, doc_ids: list[str],
) -> BuildReport:
    """Take reviews out of the index and move their files to corpus/.removed/ (nothing is deleted)."""
    known = store.read_manifest().documents
    unknown = [doc_id for doc_id in doc_ids if doc_id not in known]
    if unknown:
        raise NotFound(f"not in the index: {', '.join(unknown)}")
    refuse_if_busy(store)
    with CorpusChange(settings.corpus_dir).all_or_nothing() as change:
        for path in scan_corpus(settings.corpus_dir):
            if doc_id_for(path) in doc_ids:
                change.set_aside(path)
        return remove_from_index(doc_ids=frozenset(doc_ids), store=store, embedder=embedder,
                                 options=BuildOptions.from_settings(settings))


def refuse_if_busy(store: IndexStore) -> None:
    """Refuse a change before touching corpus/ when another build holds the index."""
    if store.writer_busy():
        raise IndexBusy(f"another build or update is already running on {store.root}; try again when it has "
                        "finished")
