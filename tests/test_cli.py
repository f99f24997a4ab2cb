"""The `assistant` command: output, exit codes and one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.appdata import AppData
from assistant.cli import main
from assistant.config import Settings

from .helpers import ROOT, SEED_CORPUS


@pytest.fixture
def env_for(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    def point_at(settings: Settings) -> None:
        monkeypatch.setenv("ASSISTANT_INDEX_DIR", str(settings.index_dir))
        monkeypatch.setenv("ASSISTANT_CORPUS_DIR", str(settings.corpus_dir))
        monkeypatch.setenv("ASSISTANT_MODEL", settings.model)
    return point_at


def test_ask_json_follows_the_contract(real_index: Settings, env_for, capsys) -> None:  # type: ignore[no-untyped-def]
    env_for(real_index)
    assert main(["ask", "--json", "what should I do if a family won't engage with early help"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["found"] is True
    assert body["citations"][0]["chunk_id"].startswith(body["citations"][0]["doc_id"] + "#")


def test_ask_text_and_search(real_index: Settings, env_for, capsys) -> None:  # type: ignore[no-untyped-def]
    env_for(real_index)
    assert main(["ask", "-k", "3", "WNB dental appointments"]) == 0
    out = capsys.readouterr().out
    assert "(searched for: WNB dental appointments (was not brought" in out
    assert "[1] " in out and "/documents/" in out
    assert main(["search", "--json", "-k", "4", "professional curiosity"]) == 0
    results = json.loads(capsys.readouterr().out)["results"]
    assert len(results) == 4


def test_status_json(real_index: Settings, env_for, capsys) -> None:  # type: ignore[no-untyped-def]
    env_for(real_index)
    assert main(["index", "status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["documents"] == 5 and status["chunks"] > 50
    assert status["model"] == "bundled:all-MiniLM-L6-v2" and status["built_at"]


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["ask", ""], 2, "the question is empty"),
        (["ask", "x" * 2001], 2, "too long"),
        (["search", "-k", "0", "neglect"], 2, "k must be a whole number from 1 to 50"),
        (["ask", "--index", "/nonexistent/index", "neglect"], 3, "no index has been built"),
        (["ask", "--model", "some-other-model", "neglect"], 3, "rebuild it"),
        (["index", "remove", "no-such-doc"], 1, "not in the index: no-such-doc"),
        (["index", "add", "/nonexistent/file.pdf"], 2, "no such file"),
    ],
)
def test_errors_are_one_line(real_index: Settings, env_for, capsys, argv, code, message) -> None:  # type: ignore[no-untyped-def]
    env_for(real_index)
    assert main(argv) == code
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err
    assert len(err.strip().splitlines()) == 1


def test_missing_model_folder(tmp_path: Path, env_for, capsys) -> None:  # type: ignore[no-untyped-def]
    env_for(Settings.from_env(corpus_dir=SEED_CORPUS, index_dir=tmp_path / "i", model="/no/such/model"))
    assert main(["index", "build"]) == 4
    assert "model folder /no/such/model does not exist" in capsys.readouterr().err


def test_build_reports_skipped_files(tmp_path: Path, env_for, capsys) -> None:  # type: ignore[no-untyped-def]
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "good.md").write_text("# Review of Child Z\n\n## Finding 1: Neglect\n\nThe school saw signs of "
                                    "neglect for months before anyone made a referral to social care.")
    (corpus / "bad.pdf").write_text("this is not a pdf at all, it is text")
    env_for(Settings.from_env(corpus_dir=corpus, index_dir=tmp_path / "i"))
    assert main(["index", "build"]) == 0
    captured = capsys.readouterr()
    assert "added     good" in captured.out
    assert "skipped   bad.pdf: named .pdf but the content is plain text" in captured.err
    assert main(["index", "remove", "good"]) == 0
    trail = AppData(Settings.from_env().data_dir).audit_trail()  # newest first
    assert [(entry["action"], entry["target"], entry["address"]) for entry in trail] == [
        ("remove", "good", "command line"), ("build", "all reviews", "command line")]
    assert trail[1]["actor"].endswith("(command line)") and "1 reviews" in trail[1]["detail"]


@pytest.mark.slow
def test_console_script_never_prints_a_traceback(tmp_path: Path) -> None:
    env = {**os.environ, "ASSISTANT_INDEX_DIR": str(tmp_path / "none"), "ASSISTANT_PORT": "eighty"}
    script = Path(sys.executable).parent / "assistant"
    for argv, code in ((["ask", "neglect"], 2), (["index", "status"], 2)):
        result = subprocess.run([str(script), *argv], capture_output=True, text=True, env=env, cwd=ROOT,
                                timeout=120)
        assert result.returncode == code, result.stderr
        assert "Traceback" not in result.stderr
        assert result.stderr.strip() == "error: ASSISTANT_PORT must be a number, not 'eighty'"
    env.pop("ASSISTANT_PORT")
    result = subprocess.run([str(script), "ask", "neglect"], capture_output=True, text=True, env=env, cwd=ROOT,
                            timeout=120)
    assert result.returncode == 3 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: no index has been built")


def test_a_long_build_in_a_log_says_how_far_it_is_and_how_long_is_left(capsys) -> None:  # type: ignore[no-untyped-def]
    from assistant.cli import logged_progress

    ticks = iter(range(0, 10_000, 30))  # each step takes 30 s of this clock
    assert list(logged_progress(range(10), 10, "Indexing", clock=lambda: float(next(ticks)))) == list(range(10))
    lines = capsys.readouterr().err.splitlines()
    assert lines and lines[0] == "Indexing: 2 of 10 (20%), about 4 min left"
