"""Vector files: written in segments, memory-mapped for reading, searched exactly or through an ANN index.

Each change to the index writes one segment: the passage vectors and the sentence vectors it added, as raw
float32 rows (`*.f32`) with their ids beside them (`*.i64`), appended as documents arrive so a build never
holds them all; beside the sentences, the chunk id of each (`*.chunks.i64`, in chunk order), so that the
sentences of given passages are found by a binary search. Earlier segments are hard-linked into the new
version. Readers map the files into memory read-only, so every worker process of a server shares one copy in
the page cache and opening a version reads nothing but the ids. Vectors of removed passages stay in their
segment until the next full build; their ids are listed in the index's `dead_vectors` table and skipped.

Passages are searched exactly (one matrix product per segment) up to `VectorParams.ann_min_passages`;
above, through an IVF index of 4-bit product-quantisation codes scanned with FAISS's SIMD "fast scan"
(`ann-<version>.faiss`), whose candidates are then scored exactly from the mapped vectors. FAISS cannot
map fast-scan lists, so that index is read into memory (about 60 MB at 500,000 passages); a server's forked
workers inherit their parent's copy (see prefork.py). Indexes written by earlier versions (8-bit scalar
quantisation, memory-mapped) are still read and updated.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import faiss
import numpy as np

from .errors import IndexUnavailable
from .manifest import sentence_chunks_file, vector_files
from .params import VectorParams

Scored = list[tuple[int, float]]  # (id, cosine), best first
CHUNK_KIND, SENTENCE_KIND = "vectors", "sentences"  # the two kinds of vectors, as named in files and SQLite


class SegmentWriter:
    """Appends (id, vector) rows of one kind to a new segment's two files, and with `owners` (sentences)
    each row's chunk id to a third; rows arrive in chunk order."""

    def __init__(self, directory: Path, segment: str, kind: str, dimension: int, *, owners: bool = False) -> None:
        self.names = vector_files(segment, kind) + ((sentence_chunks_file(segment),) if owners else ())
        self.dimension = dimension
        self.count = 0
        self._handles: list[BinaryIO] = [(directory / name).open("wb") for name in self.names]
        self._last_owner = -1

    def add(self, ids: np.ndarray, vectors: np.ndarray, owners: np.ndarray | None = None) -> None:
        if len(ids) != len(vectors) or (len(vectors) and vectors.shape[1] != self.dimension):
            raise ValueError("one vector of the index's dimension per id")
        if len(self._handles) == 3:  # checked before anything is written
            owners = np.asarray(owners if owners is not None else [], dtype="<i8")
            if len(owners) != len(ids) or (len(owners) and (owners[0] < self._last_owner
                                                             or np.any(np.diff(owners) < 0))):
                raise ValueError("one chunk id per sentence, in chunk order")
            self._handles[2].write(owners.tobytes())
            self._last_owner = int(owners[-1]) if len(owners) else self._last_owner
        self._handles[0].write(np.ascontiguousarray(vectors, dtype="<f4").tobytes())
        self._handles[1].write(np.ascontiguousarray(ids, dtype="<i8").tobytes())
        self.count += len(ids)

    def close(self) -> None:
        for handle in self._handles:
            handle.flush()
            os.fsync(handle.fileno())
            handle.close()


@dataclass
class _Part:
    ids: np.ndarray  # sorted ascending (ids are handed out in order)
    vectors: np.ndarray  # memory-mapped, one row per id
    live: np.ndarray | None  # False where the id is dead; None when all are live
    owners: np.ndarray | None = None  # sentences: each row's chunk id, ascending (None: not written)

    def __post_init__(self) -> None:
        # ids handed out in one run have no gaps: a row is then found by subtraction, not a binary search
        self.first = int(self.ids[0]) if int(self.ids[-1]) - int(self.ids[0]) + 1 == len(self.ids) else None

    def positions(self, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The rows of those of `wanted` (unique ids) this part holds, and which of `wanted` they are."""
        if self.first is not None:
            rows = wanted - self.first
            held = (rows >= 0) & (rows < len(self.ids))
            return rows[held], held
        rows = np.searchsorted(self.ids, wanted)
        inside = rows < len(self.ids)
        held = np.zeros(len(wanted), dtype=bool)
        held[inside] = self.ids[rows[inside]] == wanted[inside]
        return rows[held], held


def _mapped(path: Path, dtype: str) -> np.ndarray:
    """A file's rows mapped read-only, as a plain array (numpy's memmap type costs time on every indexing;
    the array keeps the mapping open)."""
    return np.asarray(np.memmap(path, dtype=dtype, mode="r"))


class VectorSet:
    """The vectors of one kind across a version's segments, memory-mapped; `dead` ids are never returned.
    With `owners`, each segment's sentence chunk ids are mapped too (see `of_chunks`)."""

    def __init__(self, directory: Path, segments: Sequence[str], kind: str, dimension: int,
                 dead: np.ndarray, *, owners: bool = False) -> None:
        self.dimension = dimension
        self.parts: list[_Part] = []
        self.has_owners = owners
        for segment in segments:
            vector_name, id_name = vector_files(segment, kind)
            try:
                size = (directory / id_name).stat().st_size
                ids = (_mapped(directory / id_name, "<i8") if size  # shared, like the vectors
                       else np.zeros(0, dtype=np.int64))
                vectors = _mapped(directory / vector_name, "<f4") if ids.size else np.zeros(0, dtype=np.float32)
                chunk_ids = (_mapped(directory / sentence_chunks_file(segment), "<i8") if owners and ids.size
                             else None)
            except (OSError, ValueError) as exc:
                raise IndexUnavailable(f"index file {directory / vector_name} cannot be read ({exc}); "
                                       "rebuild the index") from None
            if vectors.size != ids.size * dimension or (chunk_ids is not None and chunk_ids.size != ids.size):
                raise IndexUnavailable(f"index file {directory / vector_name} does not match its ids; "
                                       "rebuild the index")
            if not ids.size:
                continue
            live = ~np.isin(ids, dead) if dead.size else None
            self.parts.append(_Part(ids, vectors.reshape(ids.size, dimension), live, chunk_ids))
        self.count = sum(int(p.live.sum()) if p.live is not None else len(p.ids) for p in self.parts)

    def search(self, query: np.ndarray, limit: int, *, allowed: np.ndarray | None = None,
               excluded: np.ndarray | None = None) -> Scored:
        """The `limit` nearest live vectors by inner product (cosine: vectors are unit length), exactly;
        only among `allowed` ids when given, never `excluded` ones."""
        found_ids: list[np.ndarray] = []
        found_scores: list[np.ndarray] = []
        for part in self.parts:
            scores = part.vectors @ query
            keep = part.live.copy() if part.live is not None else np.ones(len(part.ids), dtype=bool)
            if allowed is not None:
                keep &= np.isin(part.ids, allowed)
            if excluded is not None and excluded.size:
                keep &= ~np.isin(part.ids, excluded)
            positions = np.flatnonzero(keep)
            if positions.size > limit:
                top = np.argpartition(-scores[positions], limit - 1)[:limit]
                positions = positions[top]
            found_ids.append(part.ids[positions])
            found_scores.append(scores[positions])
        return _best(found_ids, found_scores, limit)

    def _located(self, ids: Sequence[int] | np.ndarray) -> Iterable[tuple[_Part, np.ndarray]]:
        """For each segment, the row positions of those of `ids` it holds alive."""
        wanted = np.unique(np.asarray(ids, dtype=np.int64))
        for part in self.parts:
            if not wanted.size:
                return
            positions, held = part.positions(wanted)
            wanted = wanted[~held]
            if part.live is not None:
                positions = positions[part.live[positions]]
            if positions.size:
                yield part, positions

    def vectors_of(self, ids: Sequence[int]) -> dict[int, np.ndarray]:
        """The stored vectors of particular ids (missing or dead ids are left out)."""
        out: dict[int, np.ndarray] = {}
        for part, positions in self._located(ids):
            for identifier, row in zip(part.ids[positions].tolist(), np.asarray(part.vectors[positions]), strict=True):
                out[identifier] = row
        return out

    def scores(self, query: np.ndarray, ids: Sequence[int] | np.ndarray) -> dict[int, float]:
        """Cosine of the query to particular ids (missing or dead ids are left out)."""
        found, scores = self.scored(query, ids)
        return dict(zip(found.tolist(), scores.tolist(), strict=True))

    def scored(self, query: np.ndarray, ids: Sequence[int] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """`scores` as two arrays: the ids found (live), and their cosines to the query."""
        found = [(part.ids[positions], part.vectors[positions] @ query) for part, positions in self._located(ids)]
        if not found:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        return np.concatenate([i for i, _ in found]), np.concatenate([s for _, s in found])

    def of_chunks(self, query: np.ndarray, chunk_ids: Sequence[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The live sentences of particular chunks, by their mapped chunk ids (only with `owners`): their
        ids, their chunk ids and their cosines to the query."""
        wanted = np.unique(np.asarray(chunk_ids, dtype=np.int64))
        found: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        for part in self.parts:
            if part.owners is None:
                raise ValueError("this index has no sentence chunk ids")
            starts = np.searchsorted(part.owners, wanted, side="left")
            counts = np.searchsorted(part.owners, wanted, side="right") - starts
            total = int(counts.sum())
            if not total:
                continue
            # the rows start..start+count of each chunk, in one array
            rows = np.repeat(starts - np.cumsum(counts) + counts, counts) + np.arange(total)
            if part.live is not None:
                rows = rows[part.live[rows]]
            found.append((part.ids[rows], part.owners[rows], part.vectors[rows] @ query))
        if not found:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, np.zeros(0, dtype=np.float32)
        return tuple(np.concatenate(column) for column in zip(*found, strict=True))  # type: ignore[return-value]

    def live_batches(self, batch: int = 65536) -> Iterable[tuple[np.ndarray, np.ndarray]]:
        """(ids, vectors) of every live vector, in batches (to build an ANN index without loading all)."""
        for part in self.parts:
            for start in range(0, len(part.ids), batch):
                ids = part.ids[start:start + batch]
                vectors = np.asarray(part.vectors[start:start + batch], dtype=np.float32)
                if part.live is not None:
                    keep = part.live[start:start + batch]
                    ids, vectors = ids[keep], vectors[keep]
                yield ids, vectors


def _best(found_ids: list[np.ndarray], found_scores: list[np.ndarray], limit: int) -> Scored:
    if not found_ids:
        return []
    ids = np.concatenate(found_ids)
    scores = np.concatenate(found_scores)
    order = np.argsort(-scores, kind="stable")[:limit]
    return [(int(ids[i]), float(scores[i])) for i in order]


# --- the approximate index over passages ---------------------------------------------------------


def ann_file(version: str) -> str:
    return f"ann-{version}.faiss"


def build_ann(passages: VectorSet, params: VectorParams, seed: int = 0) -> Any:
    """A new IVF index (4-bit product quantisation, fast scan) over every live passage vector."""
    count = passages.count
    lists = max(16, min(params.ann_max_lists, int(params.ann_lists_per_sqrt * math.sqrt(count))))
    sample_size = min(count, max(lists * params.ann_train_per_list, 10_000))
    rng = np.random.default_rng(seed)
    sample = np.concatenate([vectors for _, vectors in passages.live_batches()]) if count <= sample_size * 2 \
        else _sample(passages, sample_size, rng)
    if len(sample) > sample_size:
        sample = sample[rng.choice(len(sample), sample_size, replace=False)]
    index = faiss.index_factory(passages.dimension, f"IVF{lists},PQ{_subquantizers(passages.dimension, params)}x4fs",
                                faiss.METRIC_INNER_PRODUCT)
    index.train(np.ascontiguousarray(sample, dtype=np.float32))
    for ids, vectors in passages.live_batches():
        index.add_with_ids(np.ascontiguousarray(vectors), np.ascontiguousarray(ids, dtype=np.int64))
    return index


def _subquantizers(dimension: int, params: VectorParams) -> int:
    """How many 4-bit codes a vector is cut into: one per `ann_dims_per_code` dimensions, or the nearest
    count that divides the dimension."""
    wanted = max(1, dimension // params.ann_dims_per_code)
    return max(count for count in range(1, wanted + 1) if dimension % count == 0)


def _sample(passages: VectorSet, size: int, rng: np.random.Generator) -> np.ndarray:
    share = size / max(passages.count, 1)
    picked = [vectors[rng.random(len(vectors)) < share * 1.1] for _, vectors in passages.live_batches()]
    return np.concatenate(picked)


def update_ann(path: Path, removed: np.ndarray, added: Iterable[tuple[np.ndarray, np.ndarray]]) -> Any:
    """A published ANN index with `removed` ids taken out and new (ids, vectors) added."""
    index = read_ann(path, mapped=False)
    if removed.size:
        index.remove_ids(faiss.IDSelectorBatch(np.ascontiguousarray(removed, dtype=np.int64)))
    for ids, vectors in added:
        if len(ids):
            index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32),
                               np.ascontiguousarray(ids, dtype=np.int64))
    return index


# ANN indexes read by a server's parent process before it forks its workers (see prefork.py), by path: the
# workers find them in the memory they inherit, shared copy-on-write, since FAISS cannot map a fast-scan
# index as it maps the other files.
_INHERITED: dict[str, Any] = {}


def keep_for_workers(path: Path, index: Any) -> None:
    """Keep an ANN index read from `path` for the worker processes about to be forked (in place of any kept
    before)."""
    _INHERITED.clear()
    _INHERITED[str(path)] = index


def read_ann(path: Path, *, mapped: bool = True) -> Any:
    """The ANN index at `path`, for searching (`mapped`: as shared as FAISS allows) or for changing."""
    inherited = _INHERITED.get(str(path)) if mapped else None
    if inherited is not None:
        return inherited
    try:
        index: Any = faiss.read_index(str(path), faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY if mapped else 0)
    except RuntimeError as exc:
        raise IndexUnavailable(f"index file {path} cannot be read ({exc}); rebuild the index") from None
    # A question comes alone: its lists, not the questions, are shared among the worker's threads (FAISS's
    # threads are set per worker, see embedding.share_cores). For fast scan that is implementation 14:
    # 2.4 against 3.3 ms at 500,000 passages on two threads, the same results.
    if isinstance(index, faiss.IndexIVFFastScan):
        index.implem = 14 if faiss.omp_get_max_threads() > 1 else 0
    index.parallel_mode = 1
    return index


def write_ann(index: Any, path: Path) -> None:
    faiss.write_index(index, str(path))


def ann_search(index: Any, passages: VectorSet, query: np.ndarray, limit: int, params: VectorParams, *,
               allowed: np.ndarray | None = None, excluded: np.ndarray | None = None) -> Scored:
    """Candidates from the ANN index, then scored exactly from the stored vectors."""
    keep_alive: list[Any] = []  # FAISS holds bare pointers to the selectors: they must outlive the search
    selector: Any = None
    if allowed is not None:
        selector = faiss.IDSelectorBatch(np.ascontiguousarray(allowed, dtype=np.int64))
        keep_alive.append(selector)
    if excluded is not None and excluded.size:
        inner = faiss.IDSelectorBatch(np.ascontiguousarray(excluded, dtype=np.int64))
        not_excluded = faiss.IDSelectorNot(inner)
        keep_alive += [inner, not_excluded]
        selector = not_excluded if selector is None else faiss.IDSelectorAnd(selector, not_excluded)
        keep_alive.append(selector)
    search_params = faiss.SearchParametersIVF()
    per_list = max(index.ntotal / max(index.nlist, 1), 1.0)
    search_params.nprobe = min(index.nlist, max(math.ceil(params.ann_probe_share * index.nlist),
                                                 math.ceil(params.ann_min_scanned / per_list)))
    if selector is not None:
        search_params.sel = selector
    wanted = max(limit, params.ann_min_candidates)
    _, ids = index.search(query.reshape(1, -1).astype(np.float32), min(wanted, index.ntotal), params=search_params)
    del keep_alive
    found, scores = passages.scored(query, ids[0][ids[0] >= 0])
    best = np.argsort(-scores, kind="stable")[:limit]
    return list(zip(found[best].tolist(), scores[best].tolist(), strict=True))
