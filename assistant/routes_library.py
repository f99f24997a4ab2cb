"""Routes that describe the library: health, reviews, themes and filter values."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from . import __version__
from .errors import ServiceStarting
from .routes_answers import NOT_FOUND, refusals
from .service import Assistant


def library_router(assistant: Assistant) -> APIRouter:
    router = APIRouter(prefix="/api", tags=["library"])

    @router.get("/health", responses=refusals(503))
    def health() -> dict[str, Any]:
        """The service and its index; `status` is "starting" until the model is loaded and the index open."""
        assistant.index()
        return {"status": "ok" if assistant.ready else "starting", "app_version": __version__, **assistant.status()}

    @router.get("/ready", responses=refusals(503))
    def ready() -> dict[str, Any]:
        """200 only once this worker would answer a question at once (for load balancers)."""
        if not assistant.ready:
            raise ServiceStarting("the model or the index is still loading")
        return {"ready": True}

    @router.get("/themes")
    def themes() -> dict[str, Any]:
        return {"themes": assistant.theme_summary()}

    @router.get("/themes/{theme_id}", responses=NOT_FOUND)
    def theme(theme_id: str) -> dict[str, Any]:
        return assistant.theme_across_reviews(theme_id)

    @router.get("/facets")
    def facets() -> dict[str, Any]:
        return assistant.index().facets()

    @router.get("/documents")
    def documents() -> dict[str, Any]:
        return {"documents": assistant.documents()}

    @router.get("/documents/{doc_id}", responses=NOT_FOUND)
    def document(doc_id: str) -> dict[str, Any]:
        doc, chunks = assistant.document(doc_id)
        return {
            "doc_id": doc.doc_id, "file_name": doc.file_name, **doc.meta.__dict__, "ocr_pages": doc.ocr_pages,
            "chunks": [{"n": s.chunk.n, "chunk_id": s.chunk.chunk_id, "section": s.chunk.section,
                        "page": s.chunk.page, "text": s.chunk.text} for s in chunks],
        }

    return router
