"""Vector files: exact search over memory-mapped segments, dead ids, and the ANN index for large collections."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from assistant.build import BuildOptions, build_index, scan_corpus, update_index
from assistant.config import Settings
from assistant.params import DEFAULT_VECTORS
from assistant.service import Assistant
from assistant.store import IndexStore
from assistant.vectors import CHUNK_KIND, SegmentWriter, VectorSet

from .helpers import HashEmbedder


def unit_rows(count: int, dimension: int, seed: int) -> np.ndarray:
    rows = np.random.default_rng(seed).normal(size=(count, dimension)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def write_segments(directory: Path, parts: list[tuple[np.ndarray, np.ndarray]]) -> list[str]:
    names = []
    for n, (ids, vectors) in enumerate(parts):
        writer = SegmentWriter(directory, f"s{n}", CHUNK_KIND, vectors.shape[1])
        writer.add(ids[: len(ids) // 2], vectors[: len(ids) // 2])  # appended in two goes, as a build does
        writer.add(ids[len(ids) // 2:], vectors[len(ids) // 2:])
        writer.close()
        names.append(f"s{n}")
    return names


def test_exact_search_over_segments_equals_brute_force_and_skips_dead_ids(tmp_path: Path) -> None:
    first, second = unit_rows(300, 16, 1), unit_rows(200, 16, 2)
    ids = [np.arange(1, 301, dtype=np.int64), np.arange(301, 501, dtype=np.int64)]
    segments = write_segments(tmp_path, [(ids[0], first), (ids[1], second)])
    dead = np.asarray([5, 17, 350], dtype=np.int64)
    vectors = VectorSet(tmp_path, segments, CHUNK_KIND, 16, dead)
    assert vectors.count == 497
    query = unit_rows(1, 16, 3)[0]
    everything = np.concatenate([first, second]) @ query
    all_ids = np.concatenate(ids)
    expected = [int(i) for i in all_ids[np.argsort(-everything)] if i not in dead][:20]
    assert [i for i, _ in vectors.search(query, 20)] == expected
    allowed = np.arange(100, 400, dtype=np.int64)
    assert all(100 <= i < 400 for i, _ in vectors.search(query, 50, allowed=allowed))
    assert all(i not in (100, 101) for i, _ in vectors.search(query, 500, excluded=np.asarray([100, 101])))
    found = vectors.vectors_of([4, 5, 350, 351, 999])
    assert sorted(found) == [4, 351]
    assert np.allclose(found[351], second[50])


def test_a_segment_file_that_does_not_match_its_ids_is_refused(tmp_path: Path) -> None:
    from assistant.errors import IndexUnavailable

    segments = write_segments(tmp_path, [(np.arange(1, 11, dtype=np.int64), unit_rows(10, 8, 1))])
    with (tmp_path / f"vectors-{segments[0]}.f32").open("ab") as handle:
        handle.write(b"\0" * 12)
    with pytest.raises(IndexUnavailable, match="does not match its ids"):
        VectorSet(tmp_path, segments, CHUNK_KIND, 8, np.zeros(0, dtype=np.int64))


@pytest.fixture
def ann_settings(settings: Settings) -> Settings:
    """The seed corpus with the ANN index switched on (past 50 passages instead of 100,000)."""
    return replace(settings, vectors=replace(DEFAULT_VECTORS, ann_min_passages=50, ann_probe_share=1.0))


def test_a_large_collection_gets_an_ann_index_kept_up_to_date(ann_settings: Settings) -> None:
    embedder = HashEmbedder()
    options = BuildOptions.from_settings(ann_settings)
    store = IndexStore(ann_settings.index_dir, chunking=ann_settings.chunking)
    build_index(files=scan_corpus(ann_settings.corpus_dir), store=store, embedder=embedder, options=options)
    manifest = store.read_manifest()
    assert manifest.ann and (store.versions_dir / manifest.version / manifest.ann).exists()
    assistant = Assistant(ann_settings, embedder=embedder)
    index = assistant.index()
    assert index.ann is not None and index.ann.ntotal == manifest.chunk_count
    query = embedder.encode(["a family who would not engage with early help"])[0]
    exact = [i for i, _ in index.passages.search(query, 20)]
    approximate = [i for i, _ in index.dense(query, 20)]
    assert len(set(exact) & set(approximate)) >= 18  # every list probed: nearly exact
    scores = dict(index.dense(query, 20))
    assert all(abs(scores[i] - score) < 1e-5 for i, score in index.passages.search(query, 20) if i in scores)
    # replacing a review: its old passages leave the ANN index, its new ones join it
    luton = ann_settings.corpus_dir / "2016-luton-child-f-scr-response.txt"
    old_ids = {row["id"] for row in index._rows("SELECT id FROM chunks WHERE doc_id = ?",
                                                  ("2016-luton-child-f-scr-response",))}
    luton.write_text(luton.read_text() + "\n\nA closing paragraph about supervision, added later.\n")
    update_index(files=scan_corpus(ann_settings.corpus_dir), store=store, embedder=embedder, options=options)
    fresh = assistant.index()
    assert fresh.ann is not None and fresh.ann.ntotal == fresh.manifest.chunk_count
    served = {i for i, _ in fresh.dense(query, 500)}
    assert not served & old_ids
    assert {row["id"] for row in fresh._rows("SELECT id FROM chunks")} <= served | set()


def test_the_ann_search_keeps_to_the_passages_a_filter_allows(ann_settings: Settings) -> None:
    from assistant.reader import ChunkFilter

    embedder = HashEmbedder()
    assistant = Assistant(ann_settings, embedder=embedder)
    build_index(files=scan_corpus(ann_settings.corpus_dir), store=assistant.store, embedder=embedder,
                options=BuildOptions.from_settings(ann_settings))
    index = assistant.index()
    assert index.ann is not None
    query = embedder.encode(["information sharing between agencies"])[0]
    luton = ChunkFilter("SELECT id FROM chunks WHERE doc_id = ?", ("2016-luton-child-f-scr-response",))
    allowed = {row["id"] for row in index._rows(luton.sql, luton.parameters)}
    found = index.dense(query, 20, luton)
    assert found and {i for i, _ in found} <= allowed
    hidden = ChunkFilter("SELECT id FROM chunks WHERE doc_id != ?", ("2016-luton-child-f-scr-response",))
    assert not {i for i, _ in index.dense(query, 500, hidden)} & allowed


def test_sentences_of_chunks_are_found_by_their_mapped_chunk_ids(tmp_path: Path) -> None:
    from assistant.vectors import SENTENCE_KIND

    vectors = unit_rows(60, 8, 4)
    owners = np.repeat(np.arange(10, 30, dtype=np.int64), 3)  # chunks 10..29, three sentences each
    ids = np.concatenate([np.arange(1, 31), np.arange(40, 70, 1)]).astype(np.int64)  # a gap: not one run
    writer = SegmentWriter(tmp_path, "s0", SENTENCE_KIND, 8, owners=True)
    writer.add(ids[:31], vectors[:31], owners[:31])
    with pytest.raises(ValueError, match="chunk order"):
        writer.add(ids[31:32], vectors[31:32], np.asarray([3], dtype=np.int64))
    writer.add(ids[31:], vectors[31:], owners[31:])
    writer.close()
    dead = np.asarray([2, 45], dtype=np.int64)
    sentences = VectorSet(tmp_path, ["s0"], SENTENCE_KIND, 8, dead, owners=True)
    query = unit_rows(1, 8, 5)[0]
    found_ids, found_chunks, scores = sentences.of_chunks(query, [11, 10, 25, 99, 11])
    expected = [(int(i), int(c)) for i, c in zip(ids, owners, strict=True) if c in (10, 11, 25) and i not in dead]
    assert sorted(zip(found_ids.tolist(), found_chunks.tolist(), strict=True)) == sorted(expected)
    rows = {int(i): row for i, row in zip(ids, vectors, strict=True)}
    assert np.allclose(scores, [rows[i] @ query for i in found_ids.tolist()], atol=1e-6)
    assert sentences.scores(query, [1, 2, 40, 45, 999]).keys() == {1, 40}  # ids with a gap, dead ones skipped


def test_an_index_from_before_sentence_chunk_ids_is_read_and_changed_as_before(settings: Settings) -> None:
    import json

    from assistant.manifest import MANIFEST, sentence_chunks_file

    sentences_everywhere = replace(settings, vectors=replace(DEFAULT_VECTORS, exact_sentence_limit=0))
    embedder = HashEmbedder()
    assistant = Assistant(sentences_everywhere, embedder=embedder)
    options = BuildOptions.from_settings(sentences_everywhere)
    build_index(files=scan_corpus(settings.corpus_dir), store=assistant.store, embedder=embedder, options=options)
    index = assistant.index()
    assert index.sentences.has_owners
    query = embedder.encode(["a family who would not engage with early help"])[0]
    candidates = [i for i, _ in index.dense(query, 40)]
    by_chunk_ids = index.best_sentences(query, 60, candidates=candidates)
    # the same version as an earlier release wrote it: no sentence chunk ids
    folder = assistant.store.versions_dir / index.manifest.version
    data = json.loads((folder / MANIFEST).read_text())
    for segment in data["segments"]:
        name = sentence_chunks_file(segment)
        (folder / name).unlink()
        del data["checksums"][name], data["sizes"][name]
    del data["sentence_chunks"]
    (folder / MANIFEST).write_text(json.dumps(data))
    old = Assistant(sentences_everywhere, embedder=embedder).index()
    assert not old.sentences.has_owners
    assert old.best_sentences(query, 60, candidates=candidates) == by_chunk_ids  # found through SQLite instead
    luton = settings.corpus_dir / "2016-luton-child-f-scr-response.txt"
    luton.write_text(luton.read_text() + "\n\nA closing paragraph about supervision, added later.\n")
    update_index(files=scan_corpus(settings.corpus_dir), store=assistant.store, embedder=embedder, options=options)
    changed = assistant.index()
    assert changed.manifest.version != old.manifest.version and not changed.manifest.sentence_chunks
    assert len(changed.manifest.segments) == 2
    assert not any((assistant.store.versions_dir / changed.manifest.version / sentence_chunks_file(segment)).exists()
                   for segment in changed.manifest.segments)
    assert changed.best_sentences(query, 60, candidates=[i for i, _ in changed.dense(query, 40)])[0]
