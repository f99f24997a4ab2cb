"""The assistant as one object: settings, embedder and the live index, shared by the CLI and the API."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from .access import ANONYMOUS, Reader, hidden_from
from .answer import Turn, compose_answer, validate_question
from .answerability import COVERAGE_NONE, Evidence, judge, measure
from .background import beside_encoding
from .citations import citation_for
from .config import Settings
from .conversation import read_turn
from .embedding import Embedder, load_embedder
from .errors import AssistantError, BadRequest, NotFound
from .glossary import Expansion, load_glossary
from .models import Answer, Citation, Document
from .reader import OpenIndex, StoredChunk
from .recovery import recover
from .retrieval import (
    Hit,
    Retrieval,
    ReviewNames,
    SearchFilters,
    check_k,
    in_context,
    review_names,
    search,
)
from .store import IndexStore
from .terms import TermCounts, count_terms, keyword_terms
from .text import is_valid_unicode
from .themes import Theme, load_themes

FIRST_YEAR, LAST_YEAR = 1900, 2100  # the years a filter may name


@dataclass(frozen=True)
class Reading:
    """A question read in the light of the conversation: what is searched, and how."""

    in_context: str  # the question, with the earlier turns it leans on in front (itself when it stands alone)
    expansion: Expansion  # that, with the glossary's meanings of its abbreviations and related phrases
    focus: str | None  # a follow-up's own words, expanded likewise; None when the question is read alone
    follows: tuple[str, ...] = ()  # the earlier questions it was read with


class Assistant:
    def __init__(self, settings: Settings, *, embedder: Embedder | None = None) -> None:
        self.settings = settings
        self.store = IndexStore(settings.index_dir, chunking=settings.chunking)
        self._embedder = embedder
        self._index: OpenIndex | None = None
        self._lock = threading.Lock()
        self._watcher: threading.Thread | None = None
        self._stop_watching = threading.Event()
        self._names: tuple[str, ReviewNames] | None = None  # (version, names of its reviews)

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            settings = self.settings
            self._embedder = load_embedder(settings.model, encoder=settings.encoder, device=settings.device,
                                           cache_dir=settings.model_cache_dir)
        return self._embedder

    @property
    def ready(self) -> bool:
        """Whether the model is loaded and an index is open: a question would be answered without a wait."""
        return self._embedder is not None and self._index is not None

    def warm_up(self) -> None:
        """Load the model and open the index now, so that the first person to ask does not wait for them."""
        self.embedder.encode(["warm up"])
        self.index()

    @property
    def model_name(self) -> str:
        """The model the index must have been built with (known without loading the model)."""
        return self._embedder.name if self._embedder is not None else self.settings.model

    def index(self) -> OpenIndex:
        """The published index, reopened whenever a newer version has been published.

        While a watcher runs (the web service) a newer version is opened in the background and swapped in,
        so no request waits for it; otherwise (the CLI) it is opened here.
        """
        if self._watcher is not None and self._index is not None:
            return self._index
        current = self.store.current_version()
        cached = self._index
        if cached is not None and cached.manifest.version == current:
            return cached
        with self._lock:
            if self._index is None or self._index.manifest.version != self.store.current_version():
                self._index = self._open()
            return self._index

    def _open(self) -> OpenIndex:
        # the cores are shared between the workers, and so is the work: fewer SQLite connections each
        connections = max(2, 8 // max(self.settings.workers, 1))
        return self.store.open(model=self.model_name, vectors=self.settings.vectors, connections=connections)

    def refresh(self) -> bool:
        """Open the newest published version if it is not the one in use; True when it switched."""
        current = self.store.current_version()
        if current is None or (self._index is not None and self._index.manifest.version == current):
            return False
        fresh = self._open()
        with self._lock:
            self._index = fresh  # requests holding the old one finish with it; nothing is closed under them
        return True

    def start_watching(self, interval: float = 1.0) -> None:
        """Poll for newly published versions in a background thread and switch to them when ready."""
        if self._watcher is not None:
            return

        def watch() -> None:
            while not self._stop_watching.wait(interval):
                try:
                    self.refresh()
                except AssistantError:
                    pass  # a broken new version: keep serving the one in use; health reports both

        self._stop_watching.clear()
        self._watcher = threading.Thread(target=watch, name="index-watcher", daemon=True)
        self._watcher.start()

    def stop_watching(self) -> None:
        self._stop_watching.set()
        if self._watcher is not None:
            self._watcher.join(timeout=5)
        self._watcher = None

    # --- themes and filters --------------------------------------------------------------------

    @property
    def themes(self) -> tuple[Theme, ...]:
        return load_themes(*self.settings.themes_files)

    @property
    def theme_labels(self) -> dict[str, str]:
        return {theme.id: theme.label for theme in self.themes}

    def filters_from(self, raw: Mapping[str, Any] | None) -> SearchFilters | None:
        """Check filters given by a person; unknown themes and impossible year spans are refused."""
        if not raw:
            return None
        unknown = set(raw) - {"theme", "area", "type", "year_from", "year_to"}
        if unknown:
            raise BadRequest(f"unknown filter(s): {', '.join(sorted(unknown))}")
        theme = raw.get("theme") or None
        if theme is not None and theme not in self.theme_labels:
            raise BadRequest(f"unknown theme {theme!r}; GET /api/themes lists them")
        years: list[int | None] = []
        for key in ("year_from", "year_to"):
            value = raw.get(key)
            if value in (None, ""):
                years.append(None)
                continue
            if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).strip().isdigit() \
                    or not FIRST_YEAR <= int(value) <= LAST_YEAR:
                raise BadRequest(f"{key} must be a year from {FIRST_YEAR} to {LAST_YEAR}, such as 2021")
            years.append(int(value))
        if years[0] is not None and years[1] is not None and years[0] > years[1]:
            raise BadRequest("year_from is after year_to")
        filters = SearchFilters(theme=theme, area=_text(raw.get("area")),
                                review_type=_text(raw.get("type")),
                                year_from=years[0], year_to=years[1])
        return None if filters == SearchFilters() else filters

    def hidden(self, index: OpenIndex, reader: Reader) -> frozenset[str]:
        """The reviews of this index the reader may not see."""
        return hidden_from(reader, index.restricted) if index.restricted else frozenset()

    def _scoped(self, filters: SearchFilters | None, index: OpenIndex, reader: Reader) -> SearchFilters | None:
        """The person's filters with the reviews hidden from them left out."""
        hidden = self.hidden(index, reader)
        if not hidden:
            return filters
        return replace(filters or SearchFilters(), hidden=hidden)

    # --- asking and searching ----------------------------------------------------------------

    def read(self, question: str, history: Sequence[Turn] = ()) -> Reading:
        """The question in the light of the conversation (as far as it leans on it), expanded with the
        glossary."""
        glossary = load_glossary(self.settings.glossary_path)
        index = self.index()
        names = self._review_names(index)
        turn = read_turn(question, [earlier.question for earlier in history], names_in=names.named_in,
                         strip_names=names.strip)
        focus = glossary.expand(question).keyword_text if turn.follows else None
        return Reading(turn.text, glossary.expand(turn.text), focus, turn.follows)

    def _retrieve(self, index: OpenIndex, reading: Reading, k: int, filters: SearchFilters | None
                  ) -> tuple[Retrieval, TermCounts]:
        """The passages for a question as read (best first), and its words' counts."""
        expansion = reading.expansion
        counts = beside_encoding(count_terms, question=expansion.dense_text, index=index,
                                 abbreviations=load_glossary(self.settings.glossary_path).abbreviation_terms,
                                 params=self.settings.answer, hidden=filters.hidden if filters else frozenset())
        retrieval = search(index=index, embedder=self.embedder, query=expansion.dense_text,
                           keyword_query=expansion.keyword_text,
                           focus_query=reading.focus, k=k, filters=filters,
                           counts=counts.result, params=self.settings.ranking)
        return retrieval, counts.result()

    def prepare(self, index: OpenIndex) -> None:
        """Do now what the first question on this version would: gather its reviews' names and compile
        their matcher (a server's parent does it before forking, so that the workers share them)."""
        self._review_names(index).named_in("")

    def _review_names(self, index: OpenIndex) -> ReviewNames:
        cached = self._names
        if cached is None or cached[0] != index.manifest.version:
            cached = (index.manifest.version, review_names(index.documents()))
            self._names = cached
        return cached[1]

    def _cite(self, base_url: str) -> Callable[[Hit, int], Citation]:
        labels = self.theme_labels
        return lambda hit, n: citation_for(hit.stored, n, hit.score, theme_labels=labels, base_url=base_url)

    def hits_for(self, question: str, *, history: Sequence[Turn] = (), k: int | None = None) -> list[Hit]:
        """The passages an answer would be built from, in order (for benchmarks and diagnostics)."""
        index = self.index()
        retrieval, _ = self._retrieve(index, self.read(question, history), k or self.settings.default_k, None)
        return in_context(retrieval, max_words=self.settings.ranking.context_max_words)

    def ask(self, question: object, *, history: Sequence[Turn] = (), k: int | None = None,
            filters: Mapping[str, Any] | None = None, base_url: str = "", reader: Reader = ANONYMOUS) -> Answer:
        """Answer from the reviews the reader may see (an anonymous reader sees the public ones)."""
        question = validate_question(question, max_chars=self.settings.max_question_chars)
        k = check_k(self.settings.default_k if k is None else k, self.settings.max_k)
        checked = self.filters_from(filters)
        index = self.index()
        checked = self._scoped(checked, index, reader)
        reading = self.read(question, history)
        if not keyword_terms(reading.in_context):  # 'x', '*', 'and?': nothing to look for
            return compose_answer(question=question, searched=question, hits=[], coverage=COVERAGE_NONE,
                                  evidence=Evidence(0.0, 0.0, 0.0, 0.0), cite=self._cite(base_url),
                                  follows=reading.follows)
        retrieval, counts = self._retrieve(index, reading, k, checked)
        evidence = measure(retrieval=retrieval, counts=counts, params=self.settings.answer)
        hits = in_context(retrieval, max_words=self.settings.ranking.context_max_words)
        return compose_answer(question=question, searched=reading.expansion.keyword_text, hits=hits,
                              coverage=judge(evidence, self.settings.answer), evidence=evidence,
                              cite=self._cite(base_url), params=self.settings.answer, follows=reading.follows)

    def question_themes(self, answer: Answer) -> list[str]:
        """The themes a question raises, for insight: those whose terms it uses, and (when it was answered
        directly) those of the passage it was answered from."""
        themes = {theme.label for theme in self.themes if theme.pattern.search(answer.question)}
        if answer.found and answer.citations:
            themes.update(answer.citations[0].themes)
        return sorted(themes)

    def search(self, query: object, *, k: int | None = None, filters: Mapping[str, Any] | None = None,
               base_url: str = "", reader: Reader = ANONYMOUS) -> list[Citation]:
        """Passages for a trainer: best first. With a theme and no words, browse the theme."""
        checked = self.filters_from(filters)
        if (query is None or (isinstance(query, str) and not query.strip())) and checked and checked.theme:
            theme = next(t for t in self.themes if t.id == checked.theme)
            query = f"{theme.label}. {theme.description}"
        query = validate_question(query, max_chars=self.settings.max_question_chars)
        k = check_k(self.settings.default_k if k is None else k, self.settings.max_k)
        index = self.index()
        hits = self._retrieve(index, self.read(query), k, self._scoped(checked, index, reader))[0].hits
        cite = self._cite(base_url)
        return [cite(hit, n) for n, hit in enumerate(hits, start=1)]

    def extracts(self, chunk_ids: object, *, base_url: str = "", reader: Reader = ANONYMOUS) -> list[Citation]:
        """The passages named by chunk ids ('doc#n'), in the order given; any unknown id is refused."""
        if not isinstance(chunk_ids, list) or not chunk_ids or not all(
                isinstance(c, str) and is_valid_unicode(c) for c in chunk_ids):
            raise BadRequest("chunk_ids must be a non-empty list of passage ids such as 'review-id#3'")
        index = self.index()
        hidden = self.hidden(index, reader)
        found: list[StoredChunk] = []
        missing = []
        for chunk_id in chunk_ids:
            doc_id, _, number = chunk_id.rpartition("#")
            # a hidden review is never read at all, so it costs no more time than one that is not there
            valid = doc_id and doc_id not in hidden and number.isascii() and number.isdigit() and len(number) <= 9
            stored = index.chunk_by_key(doc_id, int(number)) if valid else None
            if stored is None:
                missing.append(chunk_id)
            else:
                found.append(stored)
        if missing:
            raise NotFound(f"no passage with id {', '.join(repr(m) for m in missing[:5])}")
        labels = self.theme_labels
        return [citation_for(stored, n, 0.0, theme_labels=labels, base_url=base_url)
                for n, stored in enumerate(found, start=1)]

    # --- documents, themes, status -------------------------------------------------------------

    def documents(self, reader: Reader = ANONYMOUS) -> list[dict[str, Any]]:
        index = self.index()
        return index.documents(self.hidden(index, reader))

    def document(self, doc_id: str, reader: Reader = ANONYMOUS) -> tuple[Document, list[StoredChunk]]:
        if not isinstance(doc_id, str) or not doc_id or len(doc_id) > 200:
            raise BadRequest("a document id is required")
        index = self.index()
        # a hidden review is not there at all, and is not even read (no slower answer than a missing one)
        document = None if doc_id in self.hidden(index, reader) else index.document(doc_id)
        if document is None:
            raise NotFound(f"no review with id {doc_id!r}")
        return document, index.document_chunks(doc_id)

    def facets(self, reader: Reader = ANONYMOUS) -> dict[str, list[Any]]:
        index = self.index()
        return index.facets(self.hidden(index, reader))

    def theme_summary(self, reader: Reader = ANONYMOUS) -> list[dict[str, Any]]:
        """Every theme with how many reviews and passages (that the reader may see) raise it."""
        index = self.index()
        counts = index.theme_counts(self.hidden(index, reader))
        return [{"id": t.id, "label": t.label, "group": t.group, "description": t.description,
                 "documents": counts.get(t.id, (0, 0))[0], "chunks": counts.get(t.id, (0, 0))[1]}
                for t in self.themes]

    def theme_across_reviews(self, theme_id: str, reader: Reader = ANONYMOUS) -> dict[str, Any]:
        """Which reviews raise a theme and how often: does the lesson recur?"""
        theme = next((t for t in self.themes if t.id == theme_id), None)
        if theme is None:
            raise NotFound(f"no theme with id {theme_id!r}")
        index = self.index()
        hidden = self.hidden(index, reader)
        documents = index.theme_by_document(theme_id, hidden)
        total = len(index.manifest.documents) - len(hidden)
        return {"id": theme.id, "label": theme.label, "description": theme.description, "documents": documents,
                "reviews_total": total,
                "summary": f"{theme.label} appears in {len(documents)} of {total} reviews."}

    def indexed_hashes(self) -> dict[str, str]:
        """Each published review's doc id and content hash (none before the first build)."""
        if self.store.current_version() is None:
            return {}
        return {doc_id: entry.content_hash for doc_id, entry in self.store.read_manifest().documents.items()}

    def settle_corpus(self) -> list[str]:
        """Settle the changes to corpus/ that a killed process left half done (recovery.py); what was done."""
        return recover(self.settings.corpus_dir, self.indexed_hashes())

    def status(self) -> dict[str, Any]:
        manifest = self.store.read_manifest()
        return {
            "version": manifest.version,
            "built_at": manifest.built_at,
            "documents": len(manifest.documents),
            "chunks": manifest.chunk_count,
            "model": manifest.model,
            "dimension": manifest.dimension,
            "chunking_version": manifest.chunking_version,
            "update_in_progress": self.store.writer_busy(),
            "serving_version": self._index.manifest.version if self._index is not None else None,
        }


def _text(value: object) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 200 or not is_valid_unicode(value):
        raise BadRequest("filters must be short text")
    return value.strip() or None
