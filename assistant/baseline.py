"""The plain pipeline every quality figure is reported beside: what fifty lines of retrieval do.

Paragraphs (split on blank lines) are packed to about 100 words, each passage embedded with its document's
title in front, searched by meaning and by BM25 over the same passages, and the two rankings fused by
reciprocal rank. No glossary, no sentence evidence, no diversification: if the project's ranking does not
beat this on documents nobody here wrote, its extra machinery is not paying.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from .embedding import Embedder

PASSAGE_WORDS = 100
RRF_K = 60
CANDIDATES = 50
BM25_K1, BM25_B = 1.5, 0.75
_STOP = frozenset("""a an and are as at be by for from has have how i in is it of on or that the this to was were
what when where which who why will with do does should can my me we you""".split())


@dataclass(frozen=True)
class BaselinePassage:
    doc_id: str
    title: str
    text: str


def tokens(text: str) -> list[str]:
    return [word for word in re.findall(r"[a-z0-9]+", text.lower()) if word not in _STOP]


def pack_paragraphs(text: str, words: int = PASSAGE_WORDS) -> list[str]:
    """Blank-line paragraphs packed together up to about `words` words (a longer paragraph stays whole)."""
    passages: list[str] = []
    current: list[str] = []
    size = 0
    for paragraph in (p.strip() for p in re.split(r"\n\s*\n", text)):
        if not paragraph:
            continue
        length = len(paragraph.split())
        if current and size + length > words:
            passages.append("\n\n".join(current))
            current, size = [], 0
        current.append(paragraph)
        size += length
    if current:
        passages.append("\n\n".join(current))
    return passages


class Bm25:
    """Okapi BM25 over a fixed list of token lists."""

    def __init__(self, documents: Sequence[list[str]]) -> None:
        self.lengths = np.array([len(doc) for doc in documents], dtype=np.float32)
        self.average = float(self.lengths.mean()) if len(documents) else 0.0
        self.postings: dict[str, list[tuple[int, int]]] = {}
        for i, doc in enumerate(documents):
            for term, count in Counter(doc).items():
                self.postings.setdefault(term, []).append((i, count))
        self.size = len(documents)

    def scores(self, query: Iterable[str]) -> np.ndarray:
        out = np.zeros(self.size, dtype=np.float32)
        for term in set(query):
            posting = self.postings.get(term)
            if not posting:
                continue
            idf = math.log(1 + (self.size - len(posting) + 0.5) / (len(posting) + 0.5))
            for i, count in posting:
                norm = count + BM25_K1 * (1 - BM25_B + BM25_B * self.lengths[i] / max(self.average, 1e-9))
                out[i] += idf * count * (BM25_K1 + 1) / norm
        return out


class PlainBaseline:
    """Dense + BM25 over ~100-word passages with the title in front, fused by RRF."""

    def __init__(self, documents: Iterable[tuple[str, str, str]], embedder: Embedder) -> None:
        """`documents`: (doc id, title, text) of every document in the collection."""
        self.passages = [BaselinePassage(doc_id, title, passage) for doc_id, title, text in documents
                         for passage in pack_paragraphs(text)]
        self.embedder = embedder
        indexed = [f"{p.title}\n{p.text}" for p in self.passages]
        self.vectors = np.asarray(embedder.encode(indexed), dtype=np.float32) if indexed else np.zeros((0, 1))
        self.bm25 = Bm25([tokens(text) for text in indexed])

    def search(self, query: str, k: int = 5) -> list[BaselinePassage]:
        if not self.passages:
            return []
        vector = np.asarray(self.embedder.encode([query]), dtype=np.float32)[0]
        fused: dict[int, float] = {}
        keyword = self.bm25.scores(tokens(query))
        for ranked in (np.argsort(-(self.vectors @ vector), kind="stable")[:CANDIDATES],
                       [i for i in np.argsort(-keyword, kind="stable")[:CANDIDATES] if keyword[i] > 0]):
            for rank, i in enumerate(ranked):
                fused[int(i)] = fused.get(int(i), 0.0) + 1.0 / (RRF_K + rank + 1)
        best = sorted(fused, key=lambda i: -fused[i])[:k]
        return [self.passages[i] for i in best]
