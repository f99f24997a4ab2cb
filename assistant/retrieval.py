"""Hybrid search: dense (FAISS cosine) and keyword (FTS5 BM25) candidates, fused, then diversified."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .background import beside_encoding
from .embedding import Embedder
from .errors import BadRequest
from .models import Chunk
from .params import DEFAULT_RANKING, RankingParams
from .reader import ChunkFilter, OpenIndex, StoredChunk
from .text import paragraph_span

STOPWORDS = frozenset("""
a about above after again against all am an and any are as at be because been before being below between
both but by can could did do does doing don down during each few for from further had has have having he her
here hers herself him himself his how i if in into is it its itself just me more most my myself no nor not
now of off on once only or other our ours ourselves out over own same she should so some such than that the
their theirs them themselves then there these they this those through to too under until up very was we
were what when where which while who whom why will with would you your yours yourself yourselves
anything something someone anyone thing things get got make made need needs want tell told know say
ought must might may shall us let lets i'm i've it's what's
""".split())


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
    fused: float
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


def content_words(text: str) -> list[str]:
    """The words of a query that carry its content, lower-cased, in order (repeats kept)."""
    words = [word.lower() for word in re.findall(r"[A-Za-z0-9]+", text)]
    return [word for word in words if word not in STOPWORDS and len(word) > 1]


def keyword_terms(text: str) -> list[str]:
    """The content words of a query, lower-cased and de-duplicated, in order."""
    return list(dict.fromkeys(content_words(text)))


def fts_pairs_expression(text: str, common: frozenset[str] = frozenset(), *, strict: bool = False) -> str:
    """FTS5 NEAR groups for each pair of neighbouring content words, so that a passage using two of the
    question's words together ('house fire', 'lead professional') ranks above one using them apart.
    Pairs of two `common` words are left out (see bounded_expression); with `strict` (a national
    collection), pairs with any common word."""
    terms = content_words(text)
    skip = any if strict else all
    pairs = dict.fromkeys((left, right) for left, right in zip(terms, terms[1:], strict=False)
                          if left != right and not skip(term in common for term in (left, right)))
    return " OR ".join(f'NEAR("{left}" "{right}", 2)' for left, right in pairs)


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
    rankings: dict[str, list[tuple[int, float]]]  # "dense", "keyword", "phrase", "focus", "sentence"
    nearest_sentences: list[float]  # cosines of the sentences nearest the query across the (filtered) collection
    limit: int  # how many passages each ranking holds at most


def gather(*, index: OpenIndex, embedder: Embedder, query: str, keyword_query: str | None = None,
           phrase_query: str | None = None, focus_query: str | None = None, k: int = 5,
           allowed: ChunkFilter | None = None, params: RankingParams = DEFAULT_RANKING) -> Candidates:
    """Run the dense, keyword, phrase, follow-up focus and sentence searches (see `search`)."""
    limit = max(params.candidates, k * params.candidates_per_k)
    keywords = beside_encoding(keyword_rankings, index=index, query=keyword_query or query,
                               phrase_query=phrase_query, focus_query=focus_query, limit=limit, allowed=allowed,
                               params=params)
    vector = embedder.encode([query])[0]
    # the dense ranking fused is the first `limit`; the wider list gives the sentence search its candidate
    # passages when the collection is too large to match every sentence (see OpenIndex.best_sentences)
    wide = index.dense(vector, max(limit, params.sentence_candidates), allowed)
    rankings = {"dense": wide[:limit], **keywords.result()}
    candidates = list(dict.fromkeys(chunk_id for ranking in (wide, *rankings.values()) for chunk_id, _ in ranking))
    by_sentence, nearest_sentences = index.best_sentences(vector, limit * params.sentences_per_candidate, allowed,
                                                          candidates=candidates)
    return Candidates(vector, {**rankings, "sentence": by_sentence}, nearest_sentences, limit)


def keyword_rankings(*, index: OpenIndex, query: str, phrase_query: str | None, focus_query: str | None,
                     limit: int, allowed: ChunkFilter | None, params: RankingParams
                     ) -> dict[str, list[tuple[int, float]]]:
    """The keyword, phrase and follow-up focus rankings (BM25), each best first."""
    weights = (params.bm25_title_weight, params.bm25_section_weight, params.bm25_text_weight)
    terms = {name: keyword_terms(text or "") for name, text in
             (("keyword", query), ("phrase", phrase_query), ("focus", focus_query))}
    frequencies = index.passage_frequencies(sorted({t for found in terms.values() for t in found}),
                                            cap=params.keyword_max_postings)
    common = frozenset(term for term, count in frequencies.items() if count >= params.keyword_max_postings)
    passages = index.chunk_count
    keyword = index.keyword(bounded_expression(terms["keyword"], frequencies, params, passages), limit, allowed,
                            weights=weights)
    large = passages > params.keyword_budget_min_passages
    phrases = (index.keyword(fts_pairs_expression(phrase_query, common, strict=large), limit, allowed,
                             weights=weights) if phrase_query else [])
    focus = (index.keyword(bounded_expression(terms["focus"], frequencies, params, passages), limit, allowed,
                           weights=weights) if focus_query else [])
    return {"keyword": keyword, "phrase": phrases, "focus": focus}


def fuse(candidates: Candidates, params: RankingParams = DEFAULT_RANKING) -> dict[int, float]:
    """Reciprocal-rank fusion of the rankings, each with its weight."""
    weights = {"dense": params.dense_weight, "keyword": params.keyword_weight, "phrase": params.phrase_weight,
               "focus": 1.0, "sentence": params.sentence_weight}
    fused: dict[int, float] = {}
    for name, ranking in candidates.rankings.items():
        for rank, (chunk_id, _) in enumerate(ranking):
            fused[chunk_id] = fused.get(chunk_id, 0.0) + weights[name] / (params.rrf_k + rank + 1)
    return fused


def search(
    *,
    index: OpenIndex,
    embedder: Embedder,
    query: str,
    keyword_query: str | None = None,
    phrase_query: str | None = None,
    focus_query: str | None = None,
    k: int = 5,
    filters: SearchFilters | None = None,
    named_reviews: frozenset[str] = frozenset(),
    params: RankingParams = DEFAULT_RANKING,
) -> Retrieval:
    """The k best passages, best first, spread across reviews where several answer.

    `query` is embedded for the dense search; `keyword_query` (default: the same) feeds BM25 over any
    of its words; `phrase_query` (the person's own words) feeds BM25 over pairs of neighbouring words;
    `focus_query`, for a follow-up, is the latest turn alone, so its new topic is not outweighed by the old.
    Passages of the reviews in `named_reviews` (doc ids the question names) are preferred.
    """
    found = gather(index=index, embedder=embedder, query=query, keyword_query=keyword_query,
                   phrase_query=phrase_query, focus_query=focus_query, k=k,
                   allowed=filters.chunk_filter() if filters else None, params=params)
    fused = fuse(found, params)
    ordered = sorted(fused, key=lambda chunk_id: fused[chunk_id], reverse=True)[: found.limit]
    documents = index.documents_of(ordered)
    if named_reviews:
        for chunk_id in ordered:
            if documents.get(chunk_id) in named_reviews:
                fused[chunk_id] *= params.named_review_boost
        ordered.sort(key=lambda chunk_id: fused[chunk_id], reverse=True)
    picked = diversify([(i, documents[i], fused[i]) for i in ordered if i in documents], k,
                       params.same_document_decay)
    stored = index.chunks(picked)  # the passages' text is read for the few picked only
    cosine = dict(found.rankings["dense"])
    cosine.update(index.similarities(found.vector, [chunk_id for chunk_id in picked if chunk_id not in cosine]))
    hits = [Hit(stored[i], cosine[i], fused[i]) for i in picked if i in stored and i in cosine]
    sentence_scores = index.sentence_scores(found.vector, [hit.stored.id for hit in hits])
    for hit in hits:
        scored = sentence_scores.get(hit.stored.id)
        if scored:
            hit.sentence_score, hit.sentence = max(scored)
            hit.sentences = scored
    return Retrieval(hits, found.nearest_sentences)


def diversify(candidates: Sequence[tuple[int, str, float]], k: int, decay: float) -> list[int]:
    """Pick k of (chunk id, doc id, score) greedily, discounting each further passage from a review already
    picked; returns the chunk ids picked, in order."""
    remaining = list(candidates)
    picked: list[int] = []
    per_document: dict[str, int] = {}
    while remaining and len(picked) < k:
        best = max(remaining, key=lambda item: item[2] * decay ** per_document.get(item[1], 0))
        remaining.remove(best)
        picked.append(best[0])
        per_document[best[1]] = per_document.get(best[1], 0) + 1
    return picked


def merge_adjacent(hits: list[Hit], *, within: int, max_words: int) -> list[Hit]:
    """Cite neighbouring passages of one section that both rank near the top as one passage in context.

    The merged passage keeps the better hit's scores and place; the other hit is dropped from the list.
    """
    top = {(hit.stored.chunk.doc_id, hit.stored.chunk.n): hit for hit in hits[:within]}
    absorbed: set[tuple[str, int]] = set()
    merged: list[Hit] = []
    for hit in hits:
        chunk = hit.stored.chunk
        key = (chunk.doc_id, chunk.n)
        if key in absorbed:
            continue
        parts = [hit]
        if key in top:
            for neighbour_n in (chunk.n - 1, chunk.n + 1):
                neighbour = top.get((chunk.doc_id, neighbour_n))
                if (neighbour is None or (chunk.doc_id, neighbour_n) in absorbed
                        or neighbour.stored.chunk.section != chunk.section
                        or sum(len(p.stored.chunk.text.split()) for p in parts)
                        + len(neighbour.stored.chunk.text.split()) > max_words):
                    continue
                parts.append(neighbour)
                absorbed.add((chunk.doc_id, neighbour_n))
        absorbed.add(key)
        merged.append(hit if len(parts) == 1 else _joined(hit, parts))
    return merged


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

