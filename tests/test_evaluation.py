"""The plain baseline and `assistant eval`: what every quality figure is reported beside."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.baseline import Bm25, PlainBaseline, pack_paragraphs, tokens
from assistant.cli import main
from assistant.config import Settings
from assistant.errors import BadRequest
from assistant.evaluation import EvalQuestion, Outcome, load_questions, rank_of, score

from .helpers import HashEmbedder


def test_paragraphs_are_packed_to_about_a_hundred_words() -> None:
    short, long = "one two three.", " ".join(["word"] * 150)
    assert pack_paragraphs(f"{short}\n\n{short}\n\n\n{long}\n\n{short}", words=100) == [
        f"{short}\n\n{short}", long, short]
    assert pack_paragraphs("  \n\n ") == []


def test_bm25_prefers_the_rarer_word_and_the_shorter_passage() -> None:
    bm25 = Bm25([tokens(text) for text in ("neglect in the home", "neglect and housing",
                                           "housing and a lot of other words about the family and school")])
    scores = bm25.scores(tokens("housing"))
    assert scores[0] == 0 and scores[1] > scores[2] > 0
    assert bm25.scores(tokens("nothing matches")).tolist() == [0, 0, 0]


def test_the_baseline_finds_passages_with_their_title_in_front() -> None:
    baseline = PlainBaseline([("a", "Safer sleep briefing", "Babies should sleep on their backs.\n\nIn a cot."),
                              ("b", "Housing review", "The family was evicted twice.")], HashEmbedder())
    found = baseline.search("eviction of the family housing", k=2)
    assert found[0].doc_id == "b" and found[0].title == "Housing review"
    assert PlainBaseline([], HashEmbedder()).search("anything") == []


def test_rank_of_ignores_case_spacing_curly_quotes_and_dashes() -> None:
    passages = ["Nothing here.", "The child\u2019s  \u2018voice\u2019 \u2013 was not   heard."]
    assert rank_of(["child's 'voice' - was not heard"], passages) == 2
    assert rank_of(["absent phrase"], passages) is None


def test_scores_count_ranks_refusals_and_wrong_answers() -> None:
    answerable, unanswerable = EvalQuestion("a", "q", ("x",)), EvalQuestion("u", "q", None)
    outcomes = [Outcome(answerable, 1, True, ""), Outcome(answerable, 3, False, ""),
                Outcome(answerable, None, True, ""), Outcome(unanswerable, None, True, ""),
                Outcome(unanswerable, None, False, "")]
    scores = score(outcomes)
    assert (scores.answerable, scores.unanswerable) == (3, 2)
    assert (scores.r1, scores.r3, scores.mrr) == pytest.approx((1 / 3, 2 / 3, (1 + 1 / 3) / 3))
    assert (scores.answerable_refused, scores.unanswerable_answered) == (1, 1)
    assert len(scores.misses) == 3  # the one refused, the one not found, the unanswerable one answered


@pytest.mark.parametrize(("content", "message"), [
    ("not json", "is not a JSON file"),
    ('{"questions": []}', "at least one question"),
    ('{"questions": [{"q": "x", "gold": 3}]}', "'gold' must be a list of phrases"),
    ('{"questions": [{"id": "a", "q": "x", "gold": "none"}, {"id": "a", "q": "y", "gold": "none"}]}', "twice"),
    ('{"questions": [{"q": "  ", "gold": "none"}]}', "non-empty 'q'"),
])
def test_a_questions_file_of_the_wrong_shape_says_what_is_wrong(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "questions.json"
    path.write_text(content)
    with pytest.raises(BadRequest, match=message):
        load_questions(path)
    with pytest.raises(BadRequest, match="cannot read"):
        load_questions(tmp_path / "missing.json")


def test_assistant_eval_prints_figures_and_misses_beside_the_baseline(real_index: Settings, tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    questions = tmp_path / "ours.json"
    questions.write_text(json.dumps({"questions": [
        {"id": "gcp", "q": "what tool helps spot neglect in Luton?", "gold": ["Graded Care Profile"]},
        {"id": "pension", "q": "how do I claim my widow's pension?", "gold": "none"}]}))
    flags = ["--corpus", str(real_index.corpus_dir), "--index", str(real_index.index_dir)]
    assert main(["eval", str(questions), "--json", *flags]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert set(figures) == {"assistant", "baseline"}
    assert figures["assistant"]["answerable"] == 1 and figures["assistant"]["unanswerable"] == 1
    assert figures["assistant"]["r3"] == 1.0 and figures["assistant"]["unanswerable_answered"] == 0
    assert figures["baseline"]["unanswerable_answered"] == 1  # the baseline never refuses
    assert main(["eval", str(questions), *flags]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("assistant ") and "plain baseline" in printed
    assert main(["eval", str(tmp_path / "missing.json"), *flags]) == 2
