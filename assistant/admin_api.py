"""Admin routes: upload and delete reviews on a live service. They exist only when ASSISTANT_ADMIN_TOKEN is set."""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Header, UploadFile

from .admin import accept_upload, remove_documents
from .build import BuildReport
from .config import Settings
from .errors import NotFound, Unauthorized
from .routes_answers import refusals
from .service import Assistant

ADMIN_PREFIX = "/api/admin"
BEARER_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="assistant admin"'}


def admin_refusal(settings: Settings, path: str, authorization: str | None) -> tuple[int, str, dict[str, str]] | None:
    """Why an admin request must be refused from its headers alone (before its body is read), or None."""
    if not (path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/")):
        return None
    if not settings.admin_token:
        return 404, "admin routes are disabled; set ASSISTANT_ADMIN_TOKEN to enable them", {}
    scheme, _, given = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.encode(), settings.admin_token.encode()):
        return 401, "a valid admin token is required (Authorization: Bearer <token>)", BEARER_CHALLENGE
    return None


def report_json(report: BuildReport) -> dict[str, Any]:
    return {
        "version": report.version, "added": report.added, "replaced": report.replaced, "removed": report.removed,
        "skipped": [{"file": name, "reason": reason} for name, reason in report.skipped],
        "warnings": [{"file": name, "warning": warning} for name, warning in report.warnings],
        "documents": report.documents, "chunks": report.chunks, "embedded_chunks": report.embedded_chunks,
        "seconds": round(report.seconds, 2),
    }


def admin_router(settings: Settings, assistant: Assistant) -> APIRouter:
    router = APIRouter(prefix=ADMIN_PREFIX, tags=["admin"])

    def require_token(authorization: Annotated[str | None, Header()] = None) -> None:
        """The same check the HTTP edge makes before reading a body; here for any route it lets through."""
        refusal = admin_refusal(settings, ADMIN_PREFIX, authorization)
        if refusal is not None:
            status, message, _ = refusal
            raise NotFound(message) if status == 404 else Unauthorized(message)

    refused = refusals(401, 404, 409, 413, 415, 422, 503)

    @router.post("/documents", dependencies=[Depends(require_token)], responses=refused)
    def upload(file: Annotated[UploadFile, File(description="A review: PDF, DOCX, HTML or text.")]) -> dict[str, Any]:
        data = file.file.read(settings.max_upload_bytes + 1)
        report = accept_upload(settings=settings, store=assistant.store, embedder=assistant.embedder,
                               uploaded_name=file.filename or "upload", data=data)
        assistant.refresh()  # this worker serves the new version at once; the others within a second
        return report_json(report)

    @router.delete("/documents/{doc_id}", dependencies=[Depends(require_token)], responses=refused)
    def delete(doc_id: str) -> dict[str, Any]:
        report = remove_documents(settings=settings, store=assistant.store, embedder=assistant.embedder,
                                  doc_ids=[doc_id])
        assistant.refresh()
        return report_json(report)

    return router
