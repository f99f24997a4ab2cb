"""The on-disk index: round trip, atomic publish, refusals, corruption, the single writer."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from assistant.build import add_to_index, build_index, passage_text, scan_corpus, sentence_text, update_index
from assistant.config import Settings
from assistant.errors import IndexBusy, IndexUnavailable
from assistant.manifest import MANIFEST, SQLITE, segment_files
from assistant.service import Assistant
from assistant.store import IndexStore
from assistant.text import sentence_spans

from .helpers import SEED_CORPUS, FailingEmbedder, HashEmbedder


def test_round_trip(built: Assistant) -> None:
    manifest = built.store.read_manifest()
    assert manifest.model == "test-hash-embedder" and manifest.dimension == 256
    assert len(manifest.documents) == 5
    assert len(manifest.segments) == 1
    assert set(manifest.checksums) == {SQLITE, *segment_files(manifest.segments[0], sentence_chunks=True)}
    index = built.index()
    assert index.passages.count == manifest.chunk_count
    telford = index.document("2021-telford-wrekin-thematic-briefing-3")
    assert telford is not None and telford.meta.area == "Telford and Wrekin"
    chunks = index.document_chunks(telford.doc_id)
    assert len(chunks) == manifest.documents[telford.doc_id].chunks
    # FAISS ids are the chunk ids: a chunk's stored vector is the encoding of the passage with its review's title
    # and section in front
    first = chunks[0]
    spans = sentence_spans(first.chunk.text)
    [expected] = HashEmbedder().encode([passage_text(telford.meta.title, first.chunk)])
    assert index.similarities(expected, [first.id])[first.id] == pytest.approx(1.0, abs=1e-5)
    # and every sentence is indexed with its own vector and span
    [sentence_vector] = HashEmbedder().encode([sentence_text(first.chunk.text, spans[0])])
    scores = index.sentence_scores(sentence_vector, [first.id])[first.id]
    assert len(scores) == len(spans)
    assert scores[0] == (pytest.approx(1.0, abs=1e-5), spans[0])
    # FTS5 finds it by keyword
    assert first.id in [i for i, _ in index.keyword('"TWSP"', 10)]


def test_model_mismatch_is_refused(built: Assistant) -> None:
    with pytest.raises(IndexUnavailable, match="built with model 'test-hash-embedder'.*rebuild"):
        built.store.open(model="sentence-transformers/other-model")


def test_chunking_version_mismatch_is_refused(built: Assistant) -> None:
    directory = built.store.versions_dir / built.store.current_version()  # type: ignore[operator]
    data = json.loads((directory / MANIFEST).read_text())
    data["chunking_version"] = "0"
    (directory / MANIFEST).write_text(json.dumps(data))
    with pytest.raises(IndexUnavailable, match="chunking version 0"):
        built.store.open(model="test-hash-embedder")


@pytest.mark.parametrize("which", ["sqlite", "vectors", "sentences", "sentence chunks"])
def test_corrupt_file_is_detected(built: Assistant, which: str) -> None:
    segment = built.store.read_manifest().segments[0]
    vectors, _, sentences, _, sentence_chunks = segment_files(segment, sentence_chunks=True)
    name = {"sqlite": SQLITE, "vectors": vectors, "sentences": sentences, "sentence chunks": sentence_chunks}[which]
    path = built.store.versions_dir / built.store.current_version() / name  # type: ignore[operator]
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(IndexUnavailable, match="corrupt"):
        built.store.open(model="test-hash-embedder")


def test_a_change_on_a_damaged_index_is_refused_and_leaves_nothing_behind(built: Assistant, settings) -> None:  # type: ignore[no-untyped-def]
    """The published SQLite is copied (and checked) in a thread while the new review is embedded: the
    checksum error still reaches the caller, and the half-made version is thrown away."""
    before = built.store.current_version()
    path = built.store.versions_dir / before / SQLITE  # type: ignore[operator]
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    review = settings.corpus_dir / "new.txt"
    review.write_text("# New review\n\nA new review about information sharing.")
    with pytest.raises(IndexUnavailable, match="corrupt"):
        add_to_index(files=[review], store=built.store, embedder=HashEmbedder())
    assert not list(built.store.versions_dir.glob(".staging-*"))
    assert built.store.current_version() == before


def test_missing_index_says_how_to_build(tmp_path: Path) -> None:
    with pytest.raises(IndexUnavailable, match="assistant index build"):
        IndexStore(tmp_path / "nothing").open(model="m")


def test_killed_build_leaves_previous_index_serving(built: Assistant, settings) -> None:  # type: ignore[no-untyped-def]
    before = built.store.current_version()
    (settings.corpus_dir / "new.txt").write_text("# New review\n\nA new review about information sharing.")
    with pytest.raises(KeyboardInterrupt):
        build_index(files=scan_corpus(settings.corpus_dir), store=built.store, embedder=FailingEmbedder())
    assert built.store.current_version() == before
    assert built.index().manifest.version == before
    # the next run succeeds without any manual clean-up
    report = update_index(files=scan_corpus(settings.corpus_dir), store=built.store, embedder=HashEmbedder())
    assert report.added == ["new"]
    assert not list(built.store.versions_dir.glob(".staging-*"))


def test_a_change_killed_while_its_copy_is_opened_leaves_nothing_behind(built: Assistant, settings) -> None:  # type: ignore[no-untyped-def]
    """An add copies the published index in a thread while it embeds the new review: a failure while
    embedding waits for that copy and throws it away, and the published version keeps serving."""
    before = built.store.current_version()
    review = settings.corpus_dir / "new.txt"
    review.write_text("# New review\n\nA new review about information sharing.")
    with pytest.raises(KeyboardInterrupt):  # the themes are embedded, then the review's sentences fail
        add_to_index(files=[review], store=built.store, embedder=DiesAfter(1))
    assert not list(built.store.versions_dir.glob(".staging-*"))
    assert built.store.current_version() == before
    report = add_to_index(files=[review], store=built.store, embedder=HashEmbedder())
    assert report.added == ["new"]
    assert "new" in built.store.read_manifest().documents


def test_second_writer_is_refused(built: Assistant) -> None:
    with built.store.writer_lock():
        assert built.store.writer_busy()
        with pytest.raises(IndexBusy, match="already running"):
            add_to_index(files=[], store=built.store, embedder=HashEmbedder())
    assert not built.store.writer_busy()


def test_update_reembeds_only_what_changed(built: Assistant, settings) -> None:  # type: ignore[no-untyped-def]
    embedder = HashEmbedder()
    unchanged = update_index(files=scan_corpus(settings.corpus_dir), store=built.store, embedder=embedder)
    assert unchanged.embedded_chunks == 0 and not unchanged.changed
    luton = settings.corpus_dir / "2016-luton-child-f-scr-response.txt"
    luton.write_text(luton.read_text() + "\n\nA new paragraph about supervision added later.\n")
    (settings.corpus_dir / "2015-warwickshire-john-scr-response.txt").unlink()
    report = update_index(files=scan_corpus(settings.corpus_dir), store=built.store, embedder=embedder)
    assert report.replaced == ["2016-luton-child-f-scr-response"]
    assert report.removed == ["2015-warwickshire-john-scr-response"]
    assert report.embedded_chunks == built.index().manifest.documents["2016-luton-child-f-scr-response"].chunks
    assert len(built.index().manifest.documents) == 4
    # the change added a segment and linked the first one rather than rewriting it
    manifest = built.store.read_manifest()
    assert len(manifest.segments) == 2
    first = segment_files(manifest.segments[0], sentence_chunks=True)[0]
    assert (built.store.versions_dir / manifest.version / first).stat().st_nlink >= 2
    # vectors of the replaced and removed reviews are not served, though their segment keeps them
    index = built.index()
    assert index.passages.count == manifest.chunk_count
    live = {row["id"] for row in index._rows("SELECT id FROM sentences")}
    assert index.sentences.count == len(live)
    served = {chunk_id for chunk_id, _ in index.passages.search(np.ones(256, dtype=np.float32), 10_000)}
    assert served == {row["id"] for row in index._rows("SELECT id FROM chunks")}
    # a full build compacts everything into one segment again
    rebuilt = build_index(files=scan_corpus(settings.corpus_dir), store=built.store, embedder=embedder)
    assert len(built.store.read_manifest(rebuilt.version).segments) == 1


def test_unreadable_file_is_skipped_and_build_goes_on(settings, embedder: HashEmbedder) -> None:  # type: ignore[no-untyped-def]
    (settings.corpus_dir / "broken.pdf").write_bytes(b"%PDF-1.4 broken")
    (settings.corpus_dir / "empty.txt").write_bytes(b"")
    assistant = Assistant(settings, embedder=embedder)
    report = build_index(files=scan_corpus(settings.corpus_dir), store=assistant.store, embedder=embedder)
    assert report.documents == 5
    skipped = dict(report.skipped)
    assert "not a readable PDF" in skipped["broken.pdf"] and "empty" in skipped["empty.txt"]


def test_old_versions_are_pruned(built: Assistant, settings) -> None:  # type: ignore[no-untyped-def]
    for _ in range(3):
        build_index(files=scan_corpus(settings.corpus_dir), store=built.store, embedder=HashEmbedder())
    removed = built.store.prune(keep=1, grace_seconds=0)
    assert len(removed) >= 2
    assert [p.name for p in built.store.versions_dir.glob("v-*")] == [built.store.current_version()]
    shutil.rmtree(built.store.versions_dir / built.store.current_version())  # type: ignore[operator]
    with pytest.raises(IndexUnavailable, match="missing its manifest"):
        built.store.open(model="test-hash-embedder")


def test_watcher_switches_to_new_versions_and_keeps_serving_through_a_broken_one(
        built: Assistant, settings) -> None:  # type: ignore[no-untyped-def]
    import time

    first = built.index().manifest.version
    built.start_watching(interval=0.05)
    try:
        (settings.corpus_dir / "new.md").write_text("# New review\n\nA new passage about trampolines and safety.")
        second = update_index(files=scan_corpus(settings.corpus_dir), store=built.store,
                              embedder=HashEmbedder()).version
        deadline = time.time() + 10
        while built.index().manifest.version != second and time.time() < deadline:
            time.sleep(0.05)
        assert built.index().manifest.version == second != first
        # a published version with a damaged file is refused: the one in use keeps serving
        (settings.corpus_dir / "other.md").write_text("# Other\n\nAnother passage about playgrounds and parks.")
        third = update_index(files=scan_corpus(settings.corpus_dir), store=built.store, embedder=HashEmbedder()).version
        sqlite = built.store.versions_dir / str(third) / SQLITE
        sqlite.write_bytes(sqlite.read_bytes()[:-10] + b"0123456789")
        time.sleep(0.5)
        assert built.index().manifest.version == second
        assert built.status()["version"] == third and built.status()["serving_version"] == second
    finally:
        built.stop_watching()


class DiesAfter(HashEmbedder):
    """Encodes `calls` times, then dies like a build killed half way."""

    def __init__(self, calls: int) -> None:
        super().__init__()
        self.left = calls

    def encode(self, texts, *, batch_size: int = 32):  # type: ignore[no-untyped-def]
        if self.left == 0:
            raise KeyboardInterrupt("killed")
        self.left -= 1
        return super().encode(texts, batch_size=batch_size)


def test_a_killed_build_restarted_embeds_only_what_it_had_not(settings) -> None:  # type: ignore[no-untyped-def]
    from assistant.build import BuildOptions
    from assistant.embedding_cache import CACHE_DIR

    options = BuildOptions.from_settings(settings)  # all five reviews in one batch of 64: cached one by one
    assert options.stream_documents >= 5
    store = IndexStore(settings.index_dir, chunking=settings.chunking)
    files = scan_corpus(settings.corpus_dir)
    with pytest.raises(KeyboardInterrupt):  # the themes, then three reviews, then killed
        build_index(files=files, store=store, embedder=DiesAfter(4), options=options)
    assert store.current_version() is None
    assert len(list((settings.index_dir / CACHE_DIR).glob("*.npz"))) == 3
    again = HashEmbedder()
    report = build_index(files=files, store=store, embedder=again, options=options)
    assert report.documents == 5 and again.calls == 1 + 2  # the themes and the two reviews not yet embedded
    assert 0 < report.embedded_chunks < report.chunks
    assert not (settings.index_dir / CACHE_DIR).exists()  # emptied once the version is published
    fresh = build_index(files=files, store=store, embedder=HashEmbedder(), options=options)
    assert fresh.embedded_chunks == fresh.chunks  # a full build after a published one embeds everything


def test_one_long_review_shows_its_own_embedding_progress(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    text = "\n\n".join(path.read_text(encoding="utf-8") for path in sorted(SEED_CORPUS.glob("*.txt")))
    (corpus / "long-overview-report.md").write_text("# A long overview report\n\n" + text * 2, encoding="utf-8")
    seen: list[tuple[str, int]] = []

    def record(items, total, label):  # type: ignore[no-untyped-def]
        seen.append((label, total))
        return items

    store = IndexStore(tmp_path / "index", chunking=Settings().chunking)
    build_index(files=scan_corpus(corpus), store=store, embedder=HashEmbedder(), progress=record)
    assert ("Indexing", 1) in seen
    assert any(label == "Embedding" and total > 1 for label, total in seen)


def test_ids_of_removed_passages_are_never_given_to_new_ones(built: Assistant, settings) -> None:  # type: ignore[no-untyped-def]
    """The review holding the highest ids is removed, then another added: the new passages must not take those
    ids, which are listed as dead (their vectors stay in the old segment)."""
    from assistant.build import remove_from_index

    index = built.index()
    last = index._rows("SELECT doc_id FROM chunks ORDER BY id DESC LIMIT 1")[0]["doc_id"]
    highest = index._rows("SELECT MAX(id) AS top FROM chunks")[0]["top"]
    remove_from_index(doc_ids=frozenset({last}), store=built.store, embedder=HashEmbedder())
    (settings.corpus_dir / "new-review.md").write_text(
        "# A new review\n\nPractitioners should ask where the baby sleeps at every visit, and record it.\n")
    add_to_index(files=[settings.corpus_dir / "new-review.md"], store=built.store, embedder=HashEmbedder())
    fresh = built.index()
    new_ids = [row["id"] for row in fresh._rows("SELECT id FROM chunks WHERE doc_id = 'new-review'")]
    assert new_ids and min(new_ids) > highest
    every = [row["id"] for row in fresh._rows("SELECT id FROM chunks")]
    assert sorted(fresh.passages.scores(np.ones(256, dtype=np.float32), every)) == sorted(every)
    assert fresh.passages.count == fresh.manifest.chunk_count
    assert built.search("where does the baby sleep at every visit")[0].doc_id == "new-review"
