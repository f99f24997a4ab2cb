"""The manifest of an index version: what it was built with, its documents and its files' checksums."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .errors import IndexUnavailable

MANIFEST = "manifest.json"
SQLITE = "index.sqlite"
# 4: paragraph numbers on chunks; 5: documents list their OCR'd pages; 6: and their access;
# 7: vectors as memory-mapped raw segments, dead ids in SQLite, an ANN index for large collections
FORMAT_VERSION = 7
# Files up to this size are checksummed whenever a version is opened; larger ones (a national collection's
# vectors) are checked by size then, and by checksum when a change builds on them and by `index status --verify`.
CHECKSUM_ON_OPEN_BYTES = 256 * 1024 * 1024

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
    # The chunking and PDF layout parameters the passages were cut with (see assistant/params.py).
    chunking: dict[str, Any] = field(default_factory=dict)
    # Vector files are written in segments: a change adds one segment and hard-links the earlier ones,
    # so its cost does not grow with the index. Vectors of removed chunks stay in old segments until the
    # next full build; their ids are listed in SQLite (dead_vectors). See vectors.py.
    segments: list[str] = field(default_factory=list)
    # The approximate passage index, for collections past VectorParams.ann_min_passages ("" without one).
    ann: str = ""
    # Every segment has a file of its sentences' chunk ids (see vectors.py), so the sentences of candidate
    # passages are found without SQLite. Versions before it, and changes to them, have not (until a full build).
    sentence_chunks: bool = False
    sizes: dict[str, int] = field(default_factory=dict)
    format: int = FORMAT_VERSION

    @property
    def chunk_count(self) -> int:
        return sum(entry.chunks for entry in self.documents.values())

    @property
    def files(self) -> list[str]:
        names = [SQLITE, *(name for segment in self.segments
                           for name in segment_files(segment, sentence_chunks=self.sentence_chunks))]
        return [*names, self.ann] if self.ann else names

    def to_json(self) -> str:
        # not dataclasses.asdict, which deep-copies every entry (twice the time for a national collection)
        data = {**vars(self), "documents": {doc_id: vars(entry) for doc_id, entry in self.documents.items()}}
        return json.dumps(data, indent=2, sort_keys=True)

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


def segment_files(segment: str, *, sentence_chunks: bool) -> tuple[str, ...]:
    """The files of one segment: passage vectors and their ids, sentence vectors and their ids, and (when
    the index has them) the sentences' chunk ids."""
    names = (*vector_files(segment, "vectors"), *vector_files(segment, "sentences"))
    return (*names, sentence_chunks_file(segment)) if sentence_chunks else names


def sentence_chunks_file(segment: str) -> str:
    """The chunk id of each sentence of one segment, in the order of its sentence vectors."""
    return f"sentences-{segment}.chunks.i64"


def vector_files(segment: str, kind: str) -> tuple[str, str]:
    """The vectors file and the ids file of one kind ("vectors" or "sentences") in one segment."""
    return f"{kind}-{segment}.f32", f"{kind}-{segment}.i64"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_files(directory: Path, manifest: Manifest, names: Sequence[str], *,
                 checksum_above: int | None = None) -> None:
    """Refuse missing files and files whose checksum differs from the manifest's; files larger than
    `checksum_above` bytes (when given) are only checked for their size."""
    for name in names:
        path = directory / name
        if not path.exists():
            raise IndexUnavailable(f"index file {name} is missing from {directory}; rebuild the index")
        size = path.stat().st_size
        if name in manifest.sizes and manifest.sizes[name] != size:
            raise IndexUnavailable(f"index file {path} is corrupt (size mismatch); rebuild the index")
        if checksum_above is not None and size > checksum_above:
            continue
        if manifest.checksums.get(name) != file_sha256(path):
            raise IndexUnavailable(f"index file {path} is corrupt (checksum mismatch); rebuild the index")


def check_compatible(manifest: Manifest, model: str, chunking_version: str) -> None:
    if manifest.format != FORMAT_VERSION:
        raise IndexUnavailable(f"the index was written in format {manifest.format}, this version reads "
                               f"{FORMAT_VERSION}; rebuild it with `assistant index build`")
    if manifest.model != model:
        raise IndexUnavailable(f"the index was built with model {manifest.model!r} but {model!r} is "
                               "configured; rebuild it with `assistant index build`")
    if manifest.chunking_version != chunking_version:
        raise IndexUnavailable(f"the index was built with chunking version {manifest.chunking_version}, "
                               f"this version uses {chunking_version}; rebuild it with `assistant index build`")


def new_version_name() -> str:
    return f"v-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%f')}-{uuid.uuid4().hex[:6]}"
