"""Routes that describe the library: health, reviews, themes and filter values."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from . import __version__
from .auth import CurrentReader
from .errors import ServiceStarting
from .routes_answers import NOT_FOUND, refusals
from .service import Assistant


def library_router(assistant: Assistant) -> APIRouter:
    router = APIRouter(prefix="/api", tags=["library"])

    @router.get("/health", responses=refusals(503))
    def health(reader: CurrentReader) -> dict[str, Any]:
        """The service and its index; `status` is "starting" until the model is loaded and the index open.
        The counts are of the reviews the caller may read (public ones for a load balancer)."""
        assistant.index()
        documents = assistant.documents(reader)
        return {"status": "ok" if assistant.ready else "starting", "app_version": __version__, **assistant.status(),
                "documents": len(documents), "chunks": sum(int(doc["chunks"]) for doc in documents)}

    @router.get("/ready", responses=refusals(503))
    def ready() -> dict[str, Any]:
        """200 only once this worker would answer a question at once (for load balancers)."""
        if not assistant.ready:
            raise ServiceStarting("the model or the index is still loading")
        return {"ready": True}

    @router.get("/themes")
    def themes(reader: CurrentReader) -> dict[str, Any]:
        return {"themes": assistant.theme_summary(reader)}

    @router.get("/themes/{theme_id}", responses=NOT_FOUND)
    def theme(theme_id: str, reader: CurrentReader) -> dict[str, Any]:
        return assistant.theme_across_reviews(theme_id, reader)

    @router.get("/facets")
    def facets(reader: CurrentReader) -> dict[str, Any]:
        return assistant.facets(reader)

    @router.get("/documents")
    def documents(reader: CurrentReader) -> dict[str, Any]:
        return {"documents": assistant.documents(reader)}

    @router.get("/documents/{doc_id}", responses=NOT_FOUND)
    def document(doc_id: str, reader: CurrentReader) -> dict[str, Any]:
        doc, chunks = assistant.document(doc_id, reader)
        return {
            "doc_id": doc.doc_id, "file_name": doc.file_name, **doc.meta.__dict__, "ocr_pages": doc.ocr_pages,
            "chunks": [{"n": s.chunk.n, "chunk_id": s.chunk.chunk_id, "section": s.chunk.section,
                        "page": s.chunk.page, "text": s.chunk.text} for s in chunks],
        }

    return router
