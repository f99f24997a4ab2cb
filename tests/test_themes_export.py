"""Themes, filtered search for trainers, and exports with full references."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import docx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from assistant.api import create_app
from assistant.build import BuildOptions, add_to_index
from assistant.cli import main
from assistant.config import DEFAULT_THEMES, Settings
from assistant.service import Assistant
from assistant.themes import ThemeTagger, load_themes

from .helpers import HashEmbedder

REQUIRED = {"neglect", "domestic-abuse", "professional-curiosity", "non-engagement", "was-not-brought",
            "information-sharing", "escalation", "supervision", "voice-of-child", "housing", "early-help",
            "mental-health", "exploitation", "child-death", "babies", "culture", "multi-agency", "recording"}


@pytest.fixture
def client(built: Assistant) -> TestClient:
    return TestClient(create_app(built.settings, assistant=built))


def test_taxonomy_is_complete() -> None:
    themes = load_themes(DEFAULT_THEMES)
    assert REQUIRED <= {t.id for t in themes}
    assert all(t.label and len(t.description) > 30 and t.terms for t in themes)


def test_terms_tag_passages() -> None:
    tagger = ThemeTagger(load_themes(DEFAULT_THEMES), HashEmbedder(), min_similarity=2.0, term_similarity=-1.0)
    texts = ["Health providers should check their 'Was Not Brought' processes.",
             "Practitioners did not use their professional curiosity.", "The weather was fine."]
    tags = [tagger.tag([text], HashEmbedder().encode([text]))[0] for text in texts]  # terms alone, each alone
    assert "was-not-brought" in tags[0] and "professional-curiosity" in tags[1] and tags[2] == []


def test_a_passing_mention_does_not_tag_and_a_page_needs_two_passages_or_a_heading() -> None:
    themes = load_themes(DEFAULT_THEMES)
    tagger = ThemeTagger(themes, HashEmbedder())
    column = {theme.id: n for n, theme in enumerate(themes)}
    about, away = tagger.vectors[column["housing"]], -tagger.vectors[column["housing"]]
    mention = "The family was evicted once."
    # a passage that uses a term but means something else is not tagged with it
    assert "housing" not in tagger.tag([mention], np.stack([away]))[0]
    assert "housing" in tagger.tag([mention], np.stack([about]))[0]
    # in a document of several passages, one passage about housing is not enough ...
    texts = [mention, "Nobody asked the school.", "The health visitor called.", "The case closed."]
    vectors = np.stack([about, away, away, away])
    assert all("housing" not in found for found in tagger.tag(texts, vectors))
    # ... unless a second passage is, or a heading names it
    assert "housing" in tagger.tag(texts, np.stack([about, about, away, away]))[0]
    assert "housing" in tagger.tag(texts, vectors, ["Housing and eviction", None, None, None])[0]


def test_api_themes_counts(client: TestClient) -> None:
    themes = client.get("/api/themes").json()["themes"]
    assert len(themes) >= 15
    assert set(themes[0]) == {"id", "label", "group", "description", "documents", "chunks"}
    groups = {t["group"] for t in themes}
    assert groups == {"Forms of harm", "Children, families and settings", "Practice lessons"}
    by_id = {t["id"]: t for t in themes}
    assert by_id["housing"]["documents"] >= 3 and by_id["housing"]["chunks"] >= 5
    assert sum(t["chunks"] > 0 for t in themes) >= 15


def test_theme_filter_returns_only_that_theme(client: TestClient) -> None:
    results = client.get("/api/search", params={"q": "what went wrong", "theme": "housing", "k": 10}).json()["results"]
    assert results and all("Housing" in r["themes"] for r in results)
    browse = client.get("/api/search", params={"theme": "domestic-abuse", "k": 5}).json()["results"]
    assert browse and all("Domestic abuse" in r["themes"] for r in browse)


def test_year_area_and_type_filters(client: TestClient) -> None:
    results = client.get("/api/search", params={"q": "learning", "year_from": 2016, "year_to": 2016,
                                                "k": 10}).json()["results"]
    assert results and {r["year"] for r in results} == {2016}
    results = client.get("/api/search", params={"q": "learning", "year_from": 2021, "k": 20}).json()["results"]
    assert {r["year"] for r in results} == {2021} and len({r["doc_id"] for r in results}) == 2
    results = client.get("/api/search", params={"q": "housing", "area": "warwickshire", "k": 5}).json()["results"]
    assert {r["area"] for r in results} == {"Warwickshire"}
    results = client.get("/api/search", params={"q": "learning", "type": "Board response to an SCR",
                                                "k": 20}).json()["results"]
    assert {r["review_type"] for r in results} == {"Board response to an SCR"}
    assert client.get("/api/search", params={"q": "x", "area": "Atlantis"}).json()["results"] == []


def test_theme_across_reviews(client: TestClient) -> None:
    body = client.get("/api/themes/information-sharing").json()
    assert re.fullmatch(r"Information sharing appears in \d of 5 reviews\.", body["summary"])
    assert body["documents"][0]["chunks"] >= body["documents"][-1]["chunks"]
    assert client.get("/api/themes/nonsense").status_code == 404


def test_citations_carry_themes_and_a_reference(client: TestClient) -> None:
    result = client.get("/api/search", params={"q": "Graded Care Profile", "k": 1}).json()["results"][0]
    assert "Neglect" in result["themes"]
    assert result["reference"].startswith("Luton Safeguarding Children Board (2016) Response to the serious case")
    assert "Available at: http://127.0.0.1:8000/documents/2016-luton-child-f-scr-response#chunk-" in result["reference"]


def pick(client: TestClient) -> list[dict]:  # type: ignore[type-arg]
    """Three different passages, from at least two reviews, in an order that is not the search order."""
    first = client.get("/api/search", params={"q": "Gather share and record information", "k": 1}).json()["results"]
    rest = client.get("/api/search", params={"q": "housing eviction", "k": 5}).json()["results"]
    picked = [first[0], *[r for r in rest if r["chunk_id"] != first[0]["chunk_id"]][:2]][::-1]
    assert len({p["chunk_id"] for p in picked}) == 3
    return picked


@pytest.mark.parametrize("fmt", ["md", "csv", "docx"])
def test_export_holds_every_passage_verbatim_with_references(client: TestClient, fmt: str) -> None:
    extracts = pick(client)
    response = client.post("/api/export", json={"chunk_ids": [e["chunk_id"] for e in extracts], "format": fmt})
    assert response.status_code == 200
    assert re.search(rf'attachment; filename="safeguarding-review-extracts-\d{{4}}-\d\d-\d\d\.{fmt}"',
                     response.headers["content-disposition"])
    if fmt == "md":
        text = response.content.decode()
        for extract in extracts:
            quoted = "\n".join(f"> {line}" if line else ">" for line in extract["text"].split("\n"))
            assert quoted in text
            assert f"**Review:** {extract['title']}" in text and f"**Year:** {extract['year']}" in text
            assert f"**Link:** http://127.0.0.1:8000{extract['url']}" in text
        positions = [text.index(e["text"].split("\n")[0]) for e in extracts]
        assert positions == sorted(positions)  # the order chosen is kept
    elif fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
        assert list(rows[0]) == ["title", "area", "year", "type", "section", "paragraph", "page", "text", "url",
                                 "themes", "reference"]
        assert [row["text"] for row in rows] == [e["text"] for e in extracts]
        assert rows[0]["title"] == extracts[0]["title"]
        assert rows[0]["url"] == "http://127.0.0.1:8000" + extracts[0]["url"]
        assert rows[0]["type"] == extracts[0]["review_type"]
    else:
        document = docx.Document(io.BytesIO(response.content))
        paragraphs = [p.text for p in document.paragraphs]
        assert paragraphs[0] == "Extracts from safeguarding case reviews"
        for number, extract in enumerate(extracts, start=1):
            assert f"{number}. {extract['title']}" in paragraphs
            assert extract["text"] in paragraphs
            reference = paragraphs[paragraphs.index(extract["text"]) + 1]
            assert f"Review: {extract['title']}" in reference and f"Area: {extract['area']}" in reference
            assert f"Link: http://127.0.0.1:8000{extract['url']}" in reference


@pytest.mark.parametrize(
    ("body", "status"),
    [({"chunk_ids": ["no-such-review#1"], "format": "md"}, 404),
     ({"chunk_ids": ["2016-luton-child-f-scr-response#999"], "format": "md"}, 404),
     ({"chunk_ids": ["2016-luton-child-f-scr-response#1"], "format": "pdf"}, 400),
     ({"chunk_ids": [], "format": "md"}, 422),
     ({"chunk_ids": "2016-luton-child-f-scr-response#1", "format": "md"}, 422),
     ({"chunk_ids": ["x#1"] * 201, "format": "md"}, 422)],
)
def test_bad_exports_give_no_file(client: TestClient, body: dict, status: int) -> None:  # type: ignore[type-arg]
    response = client.post("/api/export", json=body)
    assert response.status_code == status
    assert "content-disposition" not in response.headers
    assert response.json()["status"] == status


def test_local_themes_are_added_and_retagged_without_embedding(built: Assistant, settings: Settings,
                                                                tmp_path: Path) -> None:
    local = tmp_path / "our-themes.json"
    local.write_text(json.dumps({"themes": [{
        "id": "trampolines", "label": "Trampolines", "group": "Local themes",
        "terms": ["graded care profile", "reducing child neglect"],  # the heading names it
        "description": "The Graded Care Profile tool helps professionals identify neglect."}]}))
    before = built.store.current_version()
    local_settings = Settings.from_env(corpus_dir=settings.corpus_dir, index_dir=settings.index_dir,
                                       model="test-hash-embedder", local_themes_path=local)
    assert local_settings.themes_files == (DEFAULT_THEMES, local)
    report = add_to_index(files=[], store=built.store, embedder=HashEmbedder(),  # what `index retag` does
                          options=BuildOptions.from_settings(local_settings))
    assert report.version != before and report.embedded_chunks == 0
    assert built.index().theme_counts()["trampolines"][1] >= 1
    assert {t.id for t in Assistant(local_settings).themes} >= {"trampolines", "neglect", "fgm-honour-based-abuse"}
    again = add_to_index(files=[], store=built.store, embedder=HashEmbedder(),
                         options=BuildOptions.from_settings(local_settings))
    assert again.version == report.version  # the same themes: nothing to retag


def test_index_retag_from_the_command_line(real_index: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    flags = ["--corpus", str(real_index.corpus_dir), "--index", str(real_index.index_dir)]
    assert main(["index", "retag", *flags]) == 0
    assert "nothing to do" in capsys.readouterr().out
    broken = tmp_path / "broken-themes.json"
    broken.write_text("{not json")
    monkeypatch.setenv("ASSISTANT_THEMES", str(broken))
    assert main(["index", "retag", *flags]) == 2
    assert f"themes file {broken} cannot be used" in capsys.readouterr().err


def test_cli_search_with_filters(real_index: Settings, monkeypatch: pytest.MonkeyPatch, capsys) -> None:  # type: ignore[no-untyped-def]
    from assistant.cli import main

    monkeypatch.setenv("ASSISTANT_INDEX_DIR", str(real_index.index_dir))
    assert main(["search", "--json", "--theme", "housing", "--year-to", "2015", "eviction"]) == 0
    results = json.loads(capsys.readouterr().out)["results"]
    assert results and all(r["year"] <= 2015 and "Housing" in r["themes"] for r in results)
    assert main(["search", "--theme", "nope", "x"]) == 2
    assert "unknown theme" in capsys.readouterr().err


def test_professional_curiosity_draws_on_three_reviews(real_index: Settings) -> None:
    client = TestClient(create_app(real_index))
    results = client.get("/api/search", params={"q": "professional curiosity", "k": 10}).json()["results"]
    assert len({r["doc_id"] for r in results}) >= 3


def test_csv_cells_never_run_as_formulas() -> None:
    from assistant.export import safe_cell

    assert safe_cell("=HYPERLINK(\"http://evil\")") == "'=HYPERLINK(\"http://evil\")"
    assert [safe_cell(v) for v in ("+1", "-1", "@SUM(A1)", "plain text", 2021)] == ["'+1", "'-1", "'@SUM(A1)",
                                                                             "plain text", 2021]
