"""Could the passages be ordered better from the signals we have? A study, tune against held-out.

    python benchmarks/ranking_study.py

For every answerable question of the collection benchmark (seeds plus benchmarks/collection/), the
candidate passages that fusion considers are described by their signals: the passage's cosine, its best
and second-best sentence cosines, BM25 scores (any word, word pairs) scaled to the question's best, the
rarity-weighted share of the question's words the passage holds (in text or in its section title), whether
the question names its review, and each ranking's reciprocal-rank contribution. A pairwise logistic model
(a learned fusion) is fitted on the tuning split only, for several sets of signals, and compared with the
reciprocal-rank fusion the service uses, on the tuning and the held-out split.

Ranks are of passages before neighbouring passages are merged, so they differ slightly from
collection.py's; compare the lines with each other.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from collection import Case, collection_assistant, collection_cases, seed_cases
from common import normalise

from assistant.answer import Turn
from assistant.glossary import load_glossary
from assistant.params import DEFAULT_RANKING
from assistant.reader import StoredChunk
from assistant.retrieval import diversify, fuse, gather, keyword_terms, review_names
from assistant.service import Assistant
from assistant.text import stem

SIGNAL_SETS = (
    ("cos", "s1"),
    ("cos", "s1", "s2", "keyword", "phrase"),
    ("cos", "s1", "s2", "keyword", "phrase", "coverage", "section_coverage", "named"),
    ("rrf_dense", "rrf_keyword", "rrf_phrase", "rrf_focus", "rrf_sentence"),
    ("rrf_dense", "rrf_keyword", "rrf_phrase", "rrf_focus", "rrf_sentence", "cos", "s1", "s2", "keyword", "phrase",
     "coverage", "section_coverage", "named"),
)


@dataclass
class Question:
    split: str
    passages: list[StoredChunk]  # the candidate passages fusion considers
    signals: list[dict[str, float]]  # for each, its signals and "fused"
    answers: set[int]  # ids of the candidates holding an accepted phrase


def describe(assistant: Assistant, case: Case) -> Question:
    """The signals of each passage fusion considers for the question, as the service searches it."""
    index = assistant.index()
    params = assistant.settings.ranking
    glossary = load_glossary(assistant.settings.glossary_path)
    reading = assistant.read(case.question, [Turn(turn) for turn in case.history])  # as the service reads it
    in_context, expansion = reading.in_context, reading.expansion
    found = gather(index=index, embedder=assistant.embedder, query=expansion.dense_text,
                   keyword_query=expansion.keyword_text, phrase_query=expansion.question,
                   focus_query=reading.focus, params=params)
    fused = fuse(found, params)
    pool = sorted(fused, key=lambda chunk_id: -fused[chunk_id])[:found.limit]
    cosine = index.similarities(found.vector, pool)
    stored = index.chunks(pool)
    sentences = index.sentence_scores(found.vector, pool)
    named = review_names(index.documents()).named_in(in_context)
    terms = [term for term in keyword_terms(expansion.dense_text) if term not in glossary.abbreviation_terms]
    frequencies = index.passage_frequencies(terms, cap=assistant.settings.answer.frequency_cap)
    rarity = {term: math.log((index.chunk_count + 1) / (frequencies[term] + 0.5))
              for term in terms if frequencies[term]}
    total_rarity = sum(rarity.values()) or 1.0
    places = {name: {chunk_id: rank for rank, (chunk_id, _) in enumerate(ranking)}
              for name, ranking in found.rankings.items()}
    bm25 = {name: dict(found.rankings[name]) for name in ("keyword", "phrase")}
    top_bm25 = {name: max(scores.values(), default=1.0) or 1.0 for name, scores in bm25.items()}
    phrases = [normalise(phrase) for phrase in case.expect or []]
    passages = [stored[chunk_id] for chunk_id in pool if chunk_id in stored]
    signals = []
    for passage in passages:
        chunk_id, chunk = passage.id, passage.chunk
        best = sorted((score for score, _ in sentences.get(chunk_id, [])), reverse=True) or [cosine[chunk_id]]
        held = {stem(word) for word in keyword_terms(f"{chunk.section or ''} {chunk.text}")}
        in_section = {stem(word) for word in keyword_terms(chunk.section or "")}
        signals.append({
            "fused": fused[chunk_id], "cos": cosine[chunk_id],
            "s1": best[0], "s2": best[1] if len(best) > 1 else best[0],
            **{name: bm25[name].get(chunk_id, 0.0) / top_bm25[name] for name in bm25},
            "coverage": sum(w for term, w in rarity.items() if stem(term) in held) / total_rarity,
            "section_coverage": sum(w for term, w in rarity.items() if stem(term) in in_section) / total_rarity,
            "named": float(chunk.doc_id in named),
            **{f"rrf_{name}": 1.0 / (params.rrf_k + place[chunk_id] + 1) if chunk_id in place else 0.0
               for name, place in places.items()},
        })
    answers = {p.id for p in passages if any(phrase in normalise(p.chunk.text) for phrase in phrases)}
    return Question(case.split, passages, signals, answers)


def fit_pairwise(questions: list[Question], signals: tuple[str, ...], l2: float = 1.0) -> np.ndarray:
    """Logistic regression on (answer passage - other passage) signal differences, Newton steps."""
    rows = []
    for question in questions:
        positives = [c for p, c in zip(question.passages, question.signals, strict=True) if p.id in question.answers]
        negatives = [c for p, c in zip(question.passages, question.signals, strict=True)
                     if p.id not in question.answers]
        rows += [[p[s] - n[s] for s in signals] for p in positives for n in negatives]
    x = np.array(rows + [[-v for v in row] for row in rows])
    y = np.array([1.0] * len(rows) + [0.0] * len(rows))
    beta = np.zeros(len(signals))
    for _ in range(30):
        p = 1 / (1 + np.exp(-x @ beta))
        gradient = x.T @ (p - y) + l2 * beta
        hessian = x.T @ (x * (p * (1 - p))[:, None]) + l2 * np.eye(len(signals))
        beta -= np.linalg.solve(hessian, gradient)
    return beta


def figures(questions: list[Question], score: Callable[[dict[str, float]], float]) -> str:
    """Recall@1, Recall@3 and MRR when the candidates are ordered by `score`, then spread across reviews."""
    r1 = r3 = mrr = 0.0
    for question in questions:
        scores = [score(signals) for signals in question.signals]
        low = min(scores, default=0.0)  # diversify discounts by multiplying: keep every score positive
        candidates = [(passage.id, passage.chunk.doc_id, value - low + 1e-6)
                      for passage, value in zip(question.passages, scores, strict=True)]
        order = diversify(candidates, 10, DEFAULT_RANKING.same_document_decay)
        rank = next((n for n, chunk_id in enumerate(order, start=1) if chunk_id in question.answers), None)
        r1 += rank == 1
        r3 += rank is not None and rank <= 3
        mrr += 1 / rank if rank else 0.0
    n = max(len(questions), 1)
    return f"R@1 {r1 / n:.3f}  R@3 {r3 / n:.3f}  MRR {mrr / n:.3f}"


def main() -> None:
    assistant = collection_assistant()
    questions = [describe(assistant, case) for case in seed_cases() + collection_cases() if case.expect]
    splits = {split: [q for q in questions if q.split == split] for split in ("tune", "held-out")}
    print(f"{len(questions)} answerable questions; the answer passage is among the candidates for "
          f"{sum(bool(q.answers) for q in questions)}")
    print(f"{'reciprocal-rank fusion (the service)':60s} tune {figures(splits['tune'], lambda values: values['fused'])}"
          f"  |  held-out {figures(splits['held-out'], lambda values: values['fused'])}")
    for signals in SIGNAL_SETS:
        beta = fit_pairwise(splits["tune"], signals)

        def learned(values: dict[str, float], beta: np.ndarray = beta, signals: tuple[str, ...] = signals) -> float:
            return float(sum(w * values[s] for w, s in zip(beta, signals, strict=True)))

        label = "learned: " + ("+".join(signals) if len(signals) <= 5 else f"{len(signals)} signals")
        print(f"{label:60s} tune {figures(splits['tune'], learned)}  |  "
              f"held-out {figures(splits['held-out'], learned)}")


if __name__ == "__main__":
    main()
