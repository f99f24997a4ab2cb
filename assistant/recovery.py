"""Changes to corpus/ that a killed process left half done, found and settled when the next one starts.

An admin change (an upload, an add, a removal) moves files in corpus/ and then publishes an index holding
them. Each change keeps a journal in corpus/.incoming/ of what it has moved and created, written before each
step and deleted when it is done or undone. A journal left by a process that is no longer running is
settled: finished if the published index holds exactly what the change made, else rolled back, so corpus/
and the index agree again. Staged uploads left by such a process go too.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Mapping
from pathlib import Path

from .build import scan_corpus
from .ingest import SUPPORTED_SUFFIXES, doc_id_for
from .ingest.documents import content_hash

INCOMING = ".incoming"
JOURNAL_PREFIX = "change-"


class Journal:
    """What one change has created and moved (from, to), on disk while it runs."""

    def __init__(self, corpus: Path) -> None:
        folder = corpus / INCOMING
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"{JOURNAL_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}.json"

    def record(self, created: list[Path], moved: list[tuple[Path, Path]]) -> None:
        staging = self.path.with_suffix(".tmp")
        staging.write_text(json.dumps({"created": [str(path) for path in created],
                                       "moved": [[str(a), str(b)] for a, b in moved]}), encoding="utf-8")
        os.replace(staging, self.path)  # a journal is whole or absent, never half written

    def close(self) -> None:
        self.path.unlink(missing_ok=True)


def staged_name(name: str) -> str:
    """An upload's name while it waits in .incoming/: with this process's id, so a dead one's can be found."""
    return f"{os.getpid()}-{uuid.uuid4().hex}-{name}"


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _owner(name: str) -> int | None:
    head = name.removeprefix(JOURNAL_PREFIX).split("-", 1)[0]
    return int(head) if head.isdigit() else None


def _is_review(path: Path) -> bool:
    return path.suffix.lower() in SUPPORTED_SUFFIXES


def _finished(created: list[Path], moved: list[tuple[Path, Path]], indexed: Mapping[str, str]) -> bool:
    """Whether the published index (doc id -> content hash) holds what the change made: each review it
    created, as it is now, and none of the reviews it set aside without a replacement."""
    made = {doc_id_for(path) for path in created if _is_review(path)}
    for path in created:
        if _is_review(path) and (not path.exists() or indexed.get(doc_id_for(path)) != content_hash(path)):
            return False
    return not any(_is_review(original) and doc_id_for(original) not in made and doc_id_for(original) in indexed
                   for original, _ in moved)


def recover(corpus: Path, indexed: Mapping[str, str]) -> list[str]:
    """Settle the changes dead processes left in corpus/ (see the module's docstring); what was done, in words.
    `indexed` maps each published review's doc id to its content hash."""
    folder = corpus / INCOMING
    if not folder.is_dir():
        return []
    said: list[str] = []
    for journal in sorted(folder.glob(f"{JOURNAL_PREFIX}*.json")):
        owner = _owner(journal.name)
        if owner is None or _alive(owner):
            continue
        try:
            data = json.loads(journal.read_text(encoding="utf-8"))
            created = [Path(path) for path in data["created"]]
            moved = [(Path(a), Path(b)) for a, b in data["moved"]]
        except (OSError, ValueError, KeyError, TypeError):
            journal.unlink(missing_ok=True)
            continue
        if _finished(created, moved, indexed):
            said.append(f"an interrupted change was published before it stopped: kept ({journal.name})")
        else:
            for path in reversed(created):
                path.unlink(missing_ok=True)
            for original, destination in reversed(moved):
                if destination.exists() and not original.exists():
                    shutil.move(str(destination), original)
            names = ", ".join(path.name for path in created if _is_review(path)) or "files set aside"
            said.append(f"an interrupted change was rolled back ({names}): the index never held it")
        journal.unlink(missing_ok=True)
    for leftover in folder.iterdir():
        owner = _owner(leftover.name)
        if leftover.is_file() and not leftover.name.startswith(JOURNAL_PREFIX) and (owner is None or not _alive(owner)):
            leftover.unlink(missing_ok=True)
            said.append(f"a staged upload left by a stopped process was removed ({leftover.name})")
    return said


def not_indexed(corpus: Path, indexed: Mapping[str, str]) -> dict[str, list[str]]:
    """Review files in corpus/ the published index does not hold as they are (new, or changed since), and
    published reviews with no file in corpus/: what `assistant index update` would change."""
    files = {doc_id_for(path): path for path in scan_corpus(corpus)} if corpus.is_dir() else {}
    return {
        "new": sorted(path.name for doc_id, path in files.items() if doc_id not in indexed),
        "changed": sorted(path.name for doc_id, path in files.items()
                          if doc_id in indexed and indexed[doc_id] != content_hash(path)),
        "missing": sorted(doc_id for doc_id in indexed if doc_id not in files),
    }
