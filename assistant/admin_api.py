"""Admin routes: upload and delete reviews on a live service. They exist only when ASSISTANT_ADMIN_TOKEN is set."""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Header, Request, UploadFile

from .admin import accept_upload, describe_size, remove_documents
from .build import BuildReport
from .config import Settings
from .errors import NotFound, PayloadTooLarge, Unauthorized
from .service import Assistant


def report_json(report: BuildReport) -> dict[str, Any]:
    return {
        "version": report.version, "added": report.added, "replaced": report.replaced, "removed": report.removed,
        "skipped": [{"file": name, "reason": reason} for name, reason in report.skipped],
        "documents": report.documents, "chunks": report.chunks, "embedded_chunks": report.embedded_chunks,
        "seconds": round(report.seconds, 2),
    }


def admin_router(settings: Settings, assistant: Assistant) -> APIRouter:
    router = APIRouter(prefix="/api/admin", tags=["admin"])

    def require_token(authorization: Annotated[str | None, Header()] = None) -> None:
        if not settings.admin_token:
            raise NotFound("admin routes are disabled; set ASSISTANT_ADMIN_TOKEN to enable them")
        scheme, _, given = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.encode(), settings.admin_token.encode()):
            raise Unauthorized("a valid admin token is required (Authorization: Bearer <token>)")

    @router.post("/documents", dependencies=[Depends(require_token)])
    def upload(request: Request, file: Annotated[UploadFile, File(description="A review: PDF, DOCX, HTML or text.")]
               ) -> dict[str, Any]:
        limit = settings.max_upload_bytes
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit + 64 * 1024:
            raise PayloadTooLarge(f"the upload is larger than the {describe_size(limit)} limit")
        data = file.file.read(limit + 1)
        report = accept_upload(settings=settings, store=assistant.store, embedder=assistant.embedder,
                               uploaded_name=file.filename or "upload", data=data)
        return report_json(report)

    @router.delete("/documents/{doc_id}", dependencies=[Depends(require_token)])
    def delete(doc_id: str) -> dict[str, Any]:
        report = remove_documents(settings=settings, store=assistant.store, embedder=assistant.embedder,
                                  doc_ids=[doc_id])
        return report_json(report)

    return router
