"""Check the assistant on a collection and questions of one's own, with the plain baseline beside it.

Questions are in the format of real-world sets (`{"questions": [{"id", "q", "gold": [phrases] | "none"}]}`):
a hit is an answer whose cited passage holds one of the gold phrases (case, spacing, curly quotes and dashes
ignored); a question whose gold is "none" should be refused. `assistant eval` and the benchmarks share this.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .access import ANONYMOUS, Reader
from .answer import Turn
from .baseline import PlainBaseline
from .errors import BadRequest
from .service import Assistant

Ranker = Callable[[str, Sequence[Turn]], "Ranked"]


@dataclass(frozen=True)
class EvalQuestion:
    id: str
    q: str
    gold: tuple[str, ...] | None  # None: no document answers it
    history: tuple[str, ...] = ()


@dataclass(frozen=True)
class Ranked:
    """What one system gave for a question: the passages it cites, best first, and whether it answered."""

    passages: list[str]
    answered: bool
    top: str = ""  # the first citation's id, for the list of misses


@dataclass
class Outcome:
    question: EvalQuestion
    rank: int | None
    answered: bool
    top: str
    cited_words: list[int] = field(default_factory=list)  # the length of each of the first three passages


@dataclass
class Scores:
    answerable: int
    r1: float
    r3: float
    mrr: float
    answerable_refused: int
    unanswerable: int
    unanswerable_answered: int
    misses: list[Outcome] = field(default_factory=list)

    def line(self) -> str:
        return (f"R@1 {self.r1:.3f}  R@3 {self.r3:.3f}  MRR {self.mrr:.3f}  "
                f"answerable refused {self.answerable_refused}/{self.answerable}  "
                f"unanswerable answered {self.unanswerable_answered}/{self.unanswerable}")

    def as_dict(self) -> dict[str, Any]:
        return {"answerable": self.answerable, "r1": round(self.r1, 4), "r3": round(self.r3, 4),
                "mrr": round(self.mrr, 4), "answerable_refused": self.answerable_refused,
                "unanswerable": self.unanswerable, "unanswerable_answered": self.unanswerable_answered,
                "misses": [{"id": m.question.id, "q": m.question.q, "rank": m.rank, "answered": m.answered,
                            "top": m.top} for m in self.misses]}


def normalise(text: str) -> str:
    """Lower case, straight quotes and hyphens, single spaces: how gold phrases are matched."""
    for curly, straight in (("“", '"'), ("”", '"'), ("‘", "'"), ("’", "'"), ("–", "-"), ("—", "-")):
        text = text.replace(curly, straight)
    return re.sub(r"\s+", " ", text).strip().lower()


def rank_of(gold: Sequence[str], passages: Sequence[str]) -> int | None:
    """The place (from 1) of the first passage holding a gold phrase, or None."""
    phrases = [normalise(phrase) for phrase in gold]
    for place, text in enumerate(passages, start=1):
        body = normalise(text)
        if any(phrase in body for phrase in phrases):
            return place
    return None


def load_questions(path: Path) -> list[EvalQuestion]:
    """Read a questions file, refusing one of the wrong shape with a message that says what is wrong."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise BadRequest(f"cannot read {path}: {error.strerror or error}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BadRequest(f"{path} is not a JSON file: {error}") from None
    items = data.get("questions") if isinstance(data, dict) else None
    if not isinstance(items, list) or not items:
        raise BadRequest(f'{path} must hold {{"questions": [...]}} with at least one question')
    questions: list[EvalQuestion] = []
    seen: set[str] = set()
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict) or not isinstance(item.get("q"), str) or not item["q"].strip():
            raise BadRequest(f"question {number} of {path} needs a non-empty 'q'")
        gold = item.get("gold")
        if gold != "none" and not (isinstance(gold, list) and gold and all(isinstance(g, str) and g.strip()
                                                                          for g in gold)):
            raise BadRequest(f"question {number} of {path}: 'gold' must be a list of phrases or \"none\"")
        history = item.get("history", [])
        if not isinstance(history, list) or not all(isinstance(h, str) for h in history):
            raise BadRequest(f"question {number} of {path}: 'history' must be a list of earlier questions")
        identifier = str(item.get("id") or number)
        if identifier in seen:
            raise BadRequest(f"question id {identifier!r} appears twice in {path}")
        seen.add(identifier)
        questions.append(EvalQuestion(identifier, item["q"], None if gold == "none" else tuple(gold),
                                      tuple(history)))
    return questions


def run(questions: Sequence[EvalQuestion], ranker: Ranker) -> list[Outcome]:
    outcomes = []
    for question in questions:
        ranked = ranker(question.q, [Turn(h) for h in question.history])
        rank = rank_of(question.gold, ranked.passages) if question.gold else None
        outcomes.append(Outcome(question, rank, ranked.answered, ranked.top,
                                [len(text.split()) for text in ranked.passages[:3]]))
    return outcomes


def score(outcomes: Sequence[Outcome]) -> Scores:
    answerable = [o for o in outcomes if o.question.gold is not None]
    unanswerable = [o for o in outcomes if o.question.gold is None]
    n = max(len(answerable), 1)
    ranks = [o.rank for o in answerable]
    misses = [o for o in answerable if o.rank != 1 or not o.answered] + [o for o in unanswerable if o.answered]
    return Scores(
        answerable=len(answerable),
        r1=sum(r == 1 for r in ranks) / n,
        r3=sum(r is not None and r <= 3 for r in ranks) / n,
        mrr=sum(1 / r for r in ranks if r) / n,
        answerable_refused=sum(not o.answered for o in answerable),
        unanswerable=len(unanswerable),
        unanswerable_answered=sum(o.answered for o in unanswerable),
        misses=misses,
    )


def assistant_ranker(assistant: Assistant, k: int = 5, reader: Reader = ANONYMOUS) -> Ranker:
    """The passages an answer cites; when it refuses, the passages it would have cited (so ranking and
    refusal are measured apart)."""

    def rank(question: str, history: Sequence[Turn]) -> Ranked:
        answer = assistant.ask(question, history=history, k=k, reader=reader)
        answered = answer.coverage == "direct"
        if answered:
            return Ranked([c.text for c in answer.citations], True,
                          answer.citations[0].chunk_id if answer.citations else "")
        hits = assistant.hits_for(question, history=history, k=k)
        return Ranked([hit.stored.chunk.text for hit in hits], False,
                      hits[0].stored.chunk.chunk_id if hits else "")

    return rank


def baseline_for(assistant: Assistant) -> PlainBaseline:
    """The plain baseline over the same documents as the assistant's published index, with its model."""
    index = assistant.index()
    documents = []
    for row in index.documents():
        document = index.document(row["doc_id"])
        if document is not None:
            documents.append((document.doc_id, document.meta.title, document.text))
    return PlainBaseline(documents, assistant.embedder)


def baseline_ranker(baseline: PlainBaseline, k: int = 5) -> Ranker:
    """The baseline never refuses; a follow-up is searched with the earlier turns in front."""

    def rank(question: str, history: Sequence[Turn]) -> Ranked:
        query = " ".join([*(turn.question for turn in history), question])
        found = baseline.search(query, k)
        return Ranked([p.text for p in found], True, found[0].doc_id if found else "")

    return rank


def compare(assistant: Assistant, questions: Sequence[EvalQuestion], *, k: int = 5,
            reader: Reader = ANONYMOUS) -> dict[str, Scores]:
    """The assistant's figures and the plain baseline's on the same questions and documents."""
    return {"assistant": score(run(questions, assistant_ranker(assistant, k, reader))),
            "baseline": score(run(questions, baseline_ranker(baseline_for(assistant), k)))}
