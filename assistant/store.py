"""The index folder: SQLite (documents, chunks, sentences, FTS5) + FAISS (vectors, ids = chunk ids and
sentence ids) + manifest per version, published atomically.

Layout under the index folder:
    CURRENT                the name of the published version (replaced atomically)
    versions/<version>/    manifest.json, index.sqlite, and per segment vectors-<s>.faiss and
                           sentences-<s>.faiss (never changed once published)
    versions/.staging-*    a build in progress; removed by the next writer if its builder died
    .lock                  held (flock) by the one writer at a time; released by the OS if it dies

Reading a version lives in reader.py, writing one in writer.py, its manifest in manifest.py.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from .errors import IndexBusy, IndexUnavailable
from .manifest import MANIFEST, Manifest, Published, check_compatible
from .params import DEFAULT_CHUNKING, DEFAULT_VECTORS, ChunkingParams, VectorParams, chunking_fingerprint
from .reader import OpenIndex

# A published version's manifest never changes, so each is parsed once per process and shared by its
# readers (read-only: a change builds its own). A national collection's is 5 MB of JSON, 17 MB parsed; a
# server's parent parses the published one before forking its workers, which then share it. Keyed by the
# file's path, inode, modification time and size, so a manifest rewritten or replaced is read again.
_PARSED_MANIFESTS: dict[tuple[str, int, int, int], Manifest] = {}
PARSED_MANIFESTS_KEPT = 4


class IndexStore:
    """The index folder: finds, opens and publishes versions."""

    def __init__(self, root: Path, *, chunking: ChunkingParams = DEFAULT_CHUNKING) -> None:
        self.root = Path(root)
        self.chunking = chunking
        self.chunking_version = chunking_fingerprint(chunking)
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
            stat = path.stat()
            key = (str(path), stat.st_ino, stat.st_mtime_ns, stat.st_size)
            manifest = _PARSED_MANIFESTS.get(key)
            if manifest is None:
                manifest = Manifest.from_json(path.read_text(encoding="utf-8"))
                if len(_PARSED_MANIFESTS) >= PARSED_MANIFESTS_KEPT:
                    _PARSED_MANIFESTS.pop(next(iter(_PARSED_MANIFESTS)))
                _PARSED_MANIFESTS[key] = manifest
            return manifest
        except FileNotFoundError:
            raise IndexUnavailable(f"index version {version} is missing its manifest; rebuild the index") from None
        except (ValueError, TypeError, KeyError) as exc:
            raise IndexUnavailable(f"index manifest {path} is damaged ({exc}); rebuild the index") from None

    def open(self, *, model: str, vectors: VectorParams = DEFAULT_VECTORS, connections: int = 8) -> OpenIndex:
        """Open the published index for reading; refuse one built with another model or chunking."""
        published = self.published(model=model)
        return OpenIndex(published.directory, published.manifest, vectors=vectors, connections=connections)

    def published(self, *, model: str) -> Published:
        """The published version's folder and manifest, checked against the configured model."""
        manifest = self.read_manifest()
        check_compatible(manifest, model, self.chunking_version)
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


def _fsync_dir(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
