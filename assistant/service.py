"""The assistant as one object: settings, embedder and the live index, shared by the CLI and the API."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from .answer import Turn, citation_for, compose_answer, contextualise, validate_question
from .config import Settings
from .embedding import Embedder, load_embedder
from .errors import BadRequest, NotFound
from .glossary import Expansion, load_glossary
from .models import Answer, Citation, Document
from .retrieval import Hit, check_k, search
from .store import IndexStore, OpenIndex, StoredChunk


class Assistant:
    def __init__(self, settings: Settings, *, embedder: Embedder | None = None) -> None:
        self.settings = settings
        self.store = IndexStore(settings.index_dir)
        self._embedder = embedder
        self._index: OpenIndex | None = None
        self._lock = threading.Lock()

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = load_embedder(self.settings.model)
        return self._embedder

    @property
    def model_name(self) -> str:
        """The model the index must have been built with (known without loading the model)."""
        return self._embedder.name if self._embedder is not None else self.settings.model

    def index(self) -> OpenIndex:
        """The published index, reopened whenever a newer version has been published."""
        current = self.store.current_version()
        cached = self._index
        if cached is not None and cached.manifest.version == current:
            return cached
        with self._lock:
            if self._index is None or self._index.manifest.version != self.store.current_version():
                self._index = self.store.open(model=self.model_name)
            return self._index

    def _hits(self, question: str, history: Sequence[Turn], k: int) -> tuple[Expansion, list[Hit]]:
        """Read the question in the light of the conversation, expand it with the glossary, search."""
        expansion = load_glossary(self.settings.glossary_path).expand(contextualise(question, history))
        hits = search(index=self.index(), embedder=self.embedder, query=expansion.dense_text,
                      keyword_query=expansion.text, k=k)
        return expansion, hits

    def ask(self, question: object, *, history: Sequence[Turn] = (), k: int | None = None) -> Answer:
        question = validate_question(question, max_chars=self.settings.max_question_chars)
        k = check_k(self.settings.default_k if k is None else k, self.settings.max_k)
        expansion, hits = self._hits(question, history, k)
        return compose_answer(question=question, searched=expansion.text, hits=hits,
                              min_score=self.settings.min_score)

    def search(self, query: object, *, k: int | None = None) -> list[Citation]:
        query = validate_question(query, max_chars=self.settings.max_question_chars)
        k = check_k(self.settings.default_k if k is None else k, self.settings.max_k)
        _, hits = self._hits(query, (), k)
        return [citation_for(hit, n) for n, hit in enumerate(hits, start=1)]

    def documents(self) -> list[dict[str, Any]]:
        return self.index().documents()

    def document(self, doc_id: str) -> tuple[Document, list[StoredChunk]]:
        if not isinstance(doc_id, str) or not doc_id or len(doc_id) > 200:
            raise BadRequest("a document id is required")
        index = self.index()
        document = index.document(doc_id)
        if document is None:
            raise NotFound(f"no review with id {doc_id!r}")
        return document, index.document_chunks(doc_id)

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
        }
