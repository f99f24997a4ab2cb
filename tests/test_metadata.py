"""Metadata: the sidecar a person edits wins; otherwise it is read from the text."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.errors import DocumentUnreadable
from assistant.ingest import load_document
from assistant.ingest.metadata import extract_metadata

from .helpers import SEED_CORPUS


def test_extracted_from_seed_texts_without_sidecars(tmp_path: Path) -> None:
    for name in ("2015-warwickshire-john-scr-response", "2016-luton-child-f-scr-response"):
        (tmp_path / f"{name}.txt").write_bytes((SEED_CORPUS / f"{name}.txt").read_bytes())
    warwickshire = load_document(tmp_path / "2015-warwickshire-john-scr-response.txt").meta
    assert warwickshire.area == "Warwickshire"
    assert warwickshire.year == 2015
    assert warwickshire.title.startswith("Warwickshire Safeguarding Children Board")
    assert warwickshire.review_type == "Serious case review"
    luton = load_document(tmp_path / "2016-luton-child-f-scr-response.txt").meta
    assert (luton.area, luton.year) == ("Luton", 2016)


def test_extraction_rules() -> None:
    meta = extract_metadata("# Child Safeguarding Practice Review: Child T\n\nThe Northshire Safeguarding "
                            "Children Partnership published this in June 2022, about events in 2019 and 2020.",
                            fallback_title="file")
    assert meta.title == "Child Safeguarding Practice Review: Child T"
    assert meta.area == "Northshire"
    assert meta.year == 2022
    assert meta.review_type == "Child safeguarding practice review"
    assert extract_metadata("", fallback_title="some file").title == "some file"


def test_sidecar_wins(tmp_path: Path) -> None:
    (tmp_path / "r.txt").write_text("# Review of Baby D\n\nThe Westshire Safeguarding Children Board, May 2019.\n"
                                    "More words to make it readable here.")
    (tmp_path / "r.meta.toml").write_text('title = "Baby D: response"\nyear = 2020\n')
    meta = load_document(tmp_path / "r.txt").meta
    assert meta.title == "Baby D: response" and meta.year == 2020
    assert meta.area == "Westshire"  # not in the sidecar, so still extracted


@pytest.mark.parametrize("sidecar", ['title = "unterminated', 'colour = "blue"', 'year = "twenty"'])
def test_bad_sidecar_is_reported(tmp_path: Path, sidecar: str) -> None:
    (tmp_path / "r.txt").write_text("# Review\n\nSome readable words in a review text here.")
    (tmp_path / "r.meta.toml").write_text(sidecar)
    with pytest.raises(DocumentUnreadable, match="r.meta.toml"):
        load_document(tmp_path / "r.txt")


def test_seed_sidecars_are_complete() -> None:
    for path in SEED_CORPUS.glob("*.txt"):
        meta = load_document(path).meta
        assert meta.title and meta.area and meta.year and meta.review_type, path.name
