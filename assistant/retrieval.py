"""Hybrid search: dense (FAISS cosine) and keyword (FTS5 BM25) candidates, fused, then diversified."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .background import beside_encoding
from .embedding import Embedder
from .errors import BadRequest
from .models import Chunk
from .params import DEFAULT_RANKING, RankingParams
from .reader import ChunkFilter, OpenIndex, StoredChunk
from .terms import TermCounts, keyword_terms, pseudonyms
from .text import paragraph_span


@dataclass(frozen=True)
class SearchFilters:
    """Narrow a search to a theme, an area, a review type or a span of years, and leave out the reviews
    hidden from the reader (applied inside the search, before ranking is cut to k)."""

    theme: str | None = None
    area: str | None = None
    review_type: str | None = None
    year_from: int | None = None
    year_to: int | None = None
    hidden: frozenset[str] = frozenset()

    def chunk_filter(self) -> ChunkFilter | None:
        clauses: list[str] = []
        parameters: list[Any] = []
        for clause, value in (
            ("c.id IN (SELECT chunk_id FROM chunk_themes WHERE theme = ?)", self.theme),
            ("lower(d.area) = lower(?)", self.area),
            ("lower(d.review_type) = lower(?)", self.review_type),
            ("d.year >= ?", self.year_from),
            ("d.year <= ?", self.year_to),
        ):
            if value is not None:
                clauses.append(clause)
                parameters.append(value)
        marks = ",".join("?" * len(self.hidden))
        if self.hidden and not clauses:  # only hidden reviews to leave out: list theirs, not everyone else's
            return ChunkFilter(f"SELECT id FROM chunks WHERE doc_id IN ({marks})", tuple(sorted(self.hidden)),
                               exclude=True)
        if self.hidden:
            clauses.append(f"d.doc_id NOT IN ({marks})")
            parameters.extend(sorted(self.hidden))
        if not clauses:
            return None
        sql = "SELECT c.id FROM chunks c JOIN documents d USING (doc_id) WHERE " + " AND ".join(clauses)
        return ChunkFilter(sql, tuple(parameters))


@dataclass
class Hit:
    """One retrieved passage with its scores: `score` is cosine similarity to the question."""

    stored: StoredChunk
    score: float
    fused: float  # its ranking score (see search)
    sentence: tuple[int, int] | None = None  # the span, in the passage's text, of its sentence closest to the query
    sentence_score: float | None = None  # that sentence's cosine similarity to the query
    sentences: list[tuple[float, tuple[int, int]]] = field(default_factory=list)  # every sentence: (cosine, span)

    @property
    def evidence(self) -> float:
        """How well the passage answers: the similarity of its best sentence (sharper than the passage's)."""
        return self.sentence_score if self.sentence_score is not None else self.score


@dataclass
class Retrieval:
    """The passages found for a question, and how close the collection at large comes to it."""

    hits: list[Hit]
    # Cosines of the sentences nearest the question across the (filtered) collection, best first.
    nearest_sentences: list[float]
    # Every passage scored in full (the hits among them), by (doc id, passage number): the neighbours a hit
    # may be cited with.
    shortlist: dict[tuple[str, int], Hit] = field(default_factory=dict)


def bounded_expression(terms: Sequence[str], frequencies: Mapping[str, int], params: RankingParams,
                       passages: int = 0) -> str:
    """An FTS5 expression whose cost does not grow with the collection or the glossary's expansion: any of
    the rarest `keyword_max_terms` words that are not common (in a collection of more than
    `keyword_budget_min_passages`, only as many as hold `keyword_max_rows` passages between them); when all
    are common, the rarest few together (in such a collection, none)."""
    ranked = sorted(dict.fromkeys(terms), key=lambda term: frequencies.get(term, 0))
    rare = [term for term in ranked if frequencies.get(term, 0) < params.keyword_max_postings]
    if passages > params.keyword_budget_min_passages:
        rows, kept = 0, list[str]()
        for term in rare:
            rows += frequencies.get(term, 0)
            if kept and rows > params.keyword_max_rows:
                break
            kept.append(term)
        rare = kept
    if rare:
        return " OR ".join(f'"{term}"' for term in rare[:params.keyword_max_terms])
    if passages > params.keyword_budget_min_passages:
        return ""  # every word is in thousands of passages: no keyword signal worth its cost; meaning decides
    return " AND ".join(f'"{term}"' for term in ranked[:params.keyword_fallback_terms])


def check_k(k: int, max_k: int = 50) -> int:
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= max_k:
        raise BadRequest(f"k must be a whole number from 1 to {max_k}")
    return k


@dataclass
class Candidates:
    """What the separate searches found for a question, before fusion: each ranking best first."""

    vector: np.ndarray  # the embedded query
    rankings: dict[str, list[tuple[int, float]]]  # "dense", "keyword", "focus", "sentence"
    nearest_sentences: list[float]  # cosines of the sentences nearest the query across the (filtered) collection
    limit: int  # how many passages each ranking holds at most


def gather(*, index: OpenIndex, embedder: Embedder, query: str, keyword_query: str | None = None,
           focus_query: str | None = None, k: int = 5, allowed: ChunkFilter | None = None,
           params: RankingParams = DEFAULT_RANKING) -> Candidates:
    """Run the dense, keyword, follow-up focus and sentence searches (see `search`)."""
    limit = max(params.candidates, k * params.candidates_per_k)
    keywords = beside_encoding(keyword_rankings, index=index, query=keyword_query or query,
                               focus_query=focus_query, limit=limit, allowed=allowed, params=params)
    vector = embedder.encode([query])[0]
    # the dense ranking fused is the first `limit`; the wider list gives the sentence search its candidate
    # passages when the collection is too large to match every sentence (see OpenIndex.best_sentences)
    wide = index.dense(vector, max(limit, params.sentence_candidates), allowed)
    rankings = {"dense": wide[:limit], **keywords.result()}
    candidates = list(dict.fromkeys(chunk_id for ranking in (wide, *rankings.values()) for chunk_id, _ in ranking))
    by_sentence, nearest_sentences = index.best_sentences(vector, limit * params.sentences_per_candidate, allowed,
                                                          candidates=candidates)
    return Candidates(vector, {**rankings, "sentence": by_sentence}, nearest_sentences, limit)


def keyword_rankings(*, index: OpenIndex, query: str, focus_query: str | None, limit: int,
                     allowed: ChunkFilter | None, params: RankingParams) -> dict[str, list[tuple[int, float]]]:
    """The keyword and follow-up focus rankings (BM25), each best first."""
    weights = (params.bm25_title_weight, params.bm25_section_weight, params.bm25_text_weight)
    terms = {name: keyword_terms(text or "") + pseudonyms(text or "")
             for name, text in (("keyword", query), ("focus", focus_query))}
    frequencies = index.passage_frequencies(sorted({t for found in terms.values() for t in found}),
                                            cap=params.keyword_max_postings)
    passages = index.chunk_count
    keyword = index.keyword(bounded_expression(terms["keyword"], frequencies, params, passages), limit, allowed,
                            weights=weights)
    focus = (index.keyword(bounded_expression(terms["focus"], frequencies, params, passages), limit, allowed,
                           weights=weights) if focus_query else [])
    return {"keyword": keyword, "focus": focus}


def keyword_scores(candidates: Candidates, params: RankingParams = DEFAULT_RANKING) -> dict[int, float]:
    """Each keyword ranking's BM25 score as a share of that ranking's best, weighted and summed per passage:
    a keyword match counts by how strong it is, not by its place (a weak first place in one list no longer
    counts as much as a strong first place in another)."""
    scores: dict[int, float] = {}
    for name, weight in (("keyword", params.keyword_weight), ("focus", params.focus_weight)):
        ranking = candidates.rankings.get(name, [])
        best = max((value for _, value in ranking), default=0.0)
        if weight and best > 0:
            for chunk_id, value in ranking:
                scores[chunk_id] = scores.get(chunk_id, 0.0) + weight * value / best
    return scores


def search(
    *,
    index: OpenIndex,
    embedder: Embedder,
    query: str,
    keyword_query: str | None = None,
    focus_query: str | None = None,
    k: int = 5,
    filters: SearchFilters | None = None,
    counts: Callable[[], TermCounts] | None = None,
    params: RankingParams = DEFAULT_RANKING,
) -> Retrieval:
    """The k best passages, best first (relevance alone: a passage is never lifted for coming from another
    review).

    `query` is embedded for the dense search; `keyword_query` (default: the same) feeds BM25 over any
    of its words; `focus_query`, for a follow-up, is the latest turn alone, so its own words are searched too.
    Every candidate gets a first score (with the keyword searches' BM25 scores); the best `rescored` are
    scored with their exact closest sentence and the rarity-weighted share of the question's words (`counts`,
    called once the searches are done: they are counted beside the encoding) they hold with their review's
    title and section.
    """
    found = gather(index=index, embedder=embedder, query=query, keyword_query=keyword_query,
                   focus_query=focus_query, k=k,
                   allowed=filters.chunk_filter() if filters else None, params=params)
    cosine = dict(found.rankings["dense"])
    pooled = {chunk_id for ranking in found.rankings.values() for chunk_id, _ in ranking}
    cosine.update(index.similarities(found.vector, [i for i in pooled if i not in cosine]))
    # The shortlist: the passage's cosine, its closest sentence as the sentence search found it (a passage
    # it did not reach: its lowest) and the keyword searches' BM25 scores as shares of their best.
    keyword = keyword_scores(found, params)
    nearest = dict(found.rankings["sentence"])
    floor = min(nearest.values(), default=0.0)

    def score(chunk_id: int, sentence: float) -> float:
        return params.dense_weight * cosine[chunk_id] + params.sentence_weight * sentence

    first = {i: score(i, nearest.get(i, min(floor, cosine[i]))) + keyword.get(i, 0.0) for i in pooled if i in cosine}
    shortlist = sorted(first, key=lambda chunk_id: first[chunk_id], reverse=True)[:max(params.rescored, k)]
    # The score: the cosine, the exact closest sentence and the share of the question's words the passage
    # holds, counted over the reviews the reader may see (BM25 counts every review in the index: its scores
    # would tell a reader that hidden reviews hold a word, so they only choose the shortlist).
    stored = index.chunks(shortlist)  # the passages' text is read for the shortlist only
    sentence_scores = index.sentence_scores(found.vector, shortlist)
    words = counts() if counts is not None else None
    scores: dict[int, float] = {}
    for chunk_id in shortlist:
        passage = stored.get(chunk_id)
        sentences = sentence_scores.get(chunk_id)
        held = words.share_held(f"{passage.meta.title} {passage.chunk.section or ''} {passage.chunk.text}") \
            if words is not None and passage is not None else 0.0
        scores[chunk_id] = (score(chunk_id, max(sentences)[0] if sentences else cosine[chunk_id])
                            + params.coverage_weight * held)
    scored: list[Hit] = []
    for chunk_id in sorted((i for i in shortlist if i in stored), key=lambda i: scores[i], reverse=True):
        hit = Hit(stored[chunk_id], cosine[chunk_id], scores[chunk_id])
        sentences = sentence_scores.get(chunk_id)
        if sentences:
            hit.sentence_score, hit.sentence = max(sentences)
            hit.sentences = sentences
        scored.append(hit)
    return Retrieval(scored[:k], found.nearest_sentences,
                     {(hit.stored.chunk.doc_id, hit.stored.chunk.n): hit for hit in scored})


def in_context(retrieval: Retrieval, *, max_words: int) -> list[Hit]:
    """Each hit cited with the passage beside it (before or after, in its review) that matches the question
    better, when that one was shortlisted too and together they stay within max_words: passages are ranked
    small and quoted in context. A neighbour cited so is not cited again on its own."""
    if max_words <= 0:
        return list(retrieval.hits)
    cited_keys: set[tuple[str, int]] = set()
    cited: list[Hit] = []
    for hit in retrieval.hits:
        chunk = hit.stored.chunk
        if (chunk.doc_id, chunk.n) in cited_keys:
            continue  # cited already, beside a better hit
        cited_keys.add((chunk.doc_id, chunk.n))
        size = len(chunk.text.split())
        options = [found for n in (chunk.n - 1, chunk.n + 1)
                   if (chunk.doc_id, n) not in cited_keys and (found := retrieval.shortlist.get((chunk.doc_id, n)))
                   and size + len(found.stored.chunk.text.split()) <= max_words]
        neighbour = max(options, key=lambda found: found.fused, default=None)
        if neighbour is None:
            cited.append(hit)
            continue
        cited_keys.add((chunk.doc_id, neighbour.stored.chunk.n))
        cited.append(_joined(hit, [hit, neighbour]))
    return cited


def _joined(hit: Hit, parts: list[Hit]) -> Hit:
    """One hit for neighbouring passages; sentence spans move with their passage's place in the text."""
    parts = sorted(parts, key=lambda part: part.stored.chunk.n)
    first, last = parts[0].stored.chunk, parts[-1].stored.chunk
    chunk = Chunk(doc_id=first.doc_id, n=first.n, section=first.section, page=first.page, start=first.start,
                  end=last.end, text="\n\n".join(part.stored.chunk.text for part in parts),
                  paragraph=paragraph_span([number for part in parts
                                            for number in (part.stored.chunk.paragraph or "").split("-")]))
    themes = sorted({theme for part in parts for theme in part.stored.themes})
    sentences: list[tuple[float, tuple[int, int]]] = []
    sentence = None
    shift = 0
    for part in parts:
        sentences += [(score, (start + shift, end + shift)) for score, (start, end) in part.sentences]
        if part is hit and hit.sentence is not None:
            sentence = (hit.sentence[0] + shift, hit.sentence[1] + shift)
        shift += len(part.stored.chunk.text) + 2
    return Hit(StoredChunk(id=hit.stored.id, chunk=chunk, meta=parts[0].stored.meta, themes=themes), hit.score,
               hit.fused, sentence, hit.sentence_score, sentences)


_GENERIC_NAMES = frozenset("""Response Serious Case Review Reviews Learning Local Thematic Briefing Note Family Board
Safeguarding Children Partnership Practice Child From The A An Of And To In For On About Following Death Multi Agency
Self Harm Minute Point Rapid Overview Report Summary Young People""".split())


@dataclass(frozen=True)
class ReviewNames:
    """The names a person might call each review by, and one precompiled matcher for all of them."""

    by_document: dict[str, frozenset[str]]

    @functools.cached_property
    def _documents_by_name(self) -> dict[str, frozenset[str]]:
        owners: dict[str, set[str]] = {}
        for doc_id, names in self.by_document.items():
            for name in names:
                owners.setdefault(name, set()).add(doc_id)
        return {name: frozenset(ids) for name, ids in owners.items()}

    @functools.cached_property
    def _matcher(self) -> re.Pattern[str] | None:
        names = sorted(self._documents_by_name, key=len, reverse=True)  # longest first: 'Child N' before 'N'
        if not names:
            return None
        return re.compile(r"(?<![\w-])(?:" + "|".join(re.escape(name) for name in names) + r")(?![\w-])")

    def strip(self, text: str) -> str:
        """The text without the review names in it ('timescales in Luton' -> 'timescales in ')."""
        return self._matcher.sub("", text) if self._matcher is not None else text

    def named_in(self, question: str) -> frozenset[str]:
        """Doc ids of the reviews whose names appear, as written, in the question."""
        if self._matcher is None:
            return frozenset()
        return frozenset(doc_id for match in self._matcher.finditer(question)
                         for doc_id in self._documents_by_name[match.group(0)])


def _generic(name: str) -> bool:
    return all(part in _GENERIC_NAMES for part in name.split("-"))


def review_names(documents: list[dict[str, Any]]) -> ReviewNames:
    """The names a person might call each review by: its area's places and the names in its title
    ('Child N', 'John', 'Walker-Thompson')."""
    names: dict[str, frozenset[str]] = {}
    for document in documents:
        found: set[str] = set()
        for place in re.split(r",|\band\b|&|[()]", document.get("area") or ""):
            place = place.strip()
            if place and place[0].isupper() and not _generic(place) and len(place) > 2:
                found.add(place)
        title = document.get("title") or ""
        found.update(re.findall(r"\bChild [A-Z]\b", title))
        found.update(re.findall(r"['‘]([A-Z][a-z]+)['’]", title))
        found.update(w for w in re.findall(r"\b[A-Z][a-z]+-[A-Z][a-z]+\b", title) if not _generic(w))
        names[document["doc_id"]] = frozenset(found)
    return ReviewNames(names)

