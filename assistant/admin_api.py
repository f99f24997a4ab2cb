"""Admin routes: add and remove reviews on a live service, and read feedback, insight and the audit trail.

They exist only when someone can be an admin (an admin token, or admin groups with proxy sign-in); the
HTTP edge refuses everyone else before a body is read, and each route checks again.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import Response

from .access import Reader, access_from_form
from .admin import accept_upload, remove_documents
from .appdata import AppData, audit_entries
from .auth import ADMIN_PREFIX, SignIn, reader_of
from .build import BuildReport
from .config import Settings
from .errors import BadRequest, Forbidden, NotFound, Unauthorized
from .routes_answers import refusals
from .service import Assistant


def report_json(report: BuildReport) -> dict[str, Any]:
    return {
        "version": report.version, "added": report.added, "replaced": report.replaced, "removed": report.removed,
        "skipped": [{"file": name, "reason": reason} for name, reason in report.skipped],
        "warnings": [{"file": name, "warning": warning} for name, warning in report.warnings],
        "documents": report.documents, "chunks": report.chunks, "embedded_chunks": report.embedded_chunks,
        "seconds": round(report.seconds, 2),
    }


def require_admin(request: Request) -> Reader:
    """The check the HTTP edge makes before reading a body, made again by every admin route."""
    reader = reader_of(request)
    sign_in: SignIn = request.app.state.sign_in
    refusal = sign_in.admin_refusal(request.url.path, reader)
    if refusal is not None:
        raise {404: NotFound, 403: Forbidden}.get(refusal.status, Unauthorized)(refusal.message)
    return reader


Admin = Annotated[Reader, Depends(require_admin)]


def admin_router(settings: Settings, assistant: Assistant, appdata: AppData, sign_in: SignIn) -> APIRouter:
    router = APIRouter(prefix=ADMIN_PREFIX, tags=["admin"])
    refused = refusals(401, 403, 404, 409, 413, 415, 422, 503)

    def record(request: Request, reader: Reader, report: BuildReport) -> None:
        client = request.client.host if request.client else None
        headers = {key.lower(): value for key, value in request.headers.items()}
        appdata.audit(*audit_entries(report.added, report.replaced, report.removed, actor=reader.name or "unknown",
                                     address=sign_in.origin(client, headers)))

    @router.post("/documents", responses={**refused, **refusals(400)})  # 400: a bad `access`
    def upload(request: Request, reader: Admin,
               file: Annotated[UploadFile, File(description="A review: PDF, DOCX, HTML or text.")],
               access: Annotated[str | None, Form(max_length=1000, description=(
                   'Who may read it: "public", "restricted" (admins only) or groups, "lscp-board, review-panel". '
                   "Left out, a replaced review keeps its access and a new one is public."))] = None,
               ) -> dict[str, Any]:
        settings.refuse_changes_if_reader()
        chosen: tuple[str, ...] | None | Literal["unchanged"] = "unchanged"
        try:
            if access is not None:
                chosen = access_from_form(access)
        except ValueError as exc:
            raise BadRequest(f"access: {exc}") from None
        data = file.file.read(settings.max_upload_bytes + 1)
        report = accept_upload(settings=settings, store=assistant.store, embedder=assistant.embedder,
                               uploaded_name=file.filename or "upload", data=data, access=chosen)
        record(request, reader, report)
        assistant.refresh()  # this worker serves the new version at once; the others within a second
        return report_json(report)

    @router.delete("/documents/{doc_id}", responses=refused)
    def delete(request: Request, reader: Admin, doc_id: str) -> dict[str, Any]:
        settings.refuse_changes_if_reader()
        report = remove_documents(settings=settings, store=assistant.store, embedder=assistant.embedder,
                                  doc_ids=[doc_id])
        record(request, reader, report)
        assistant.refresh()
        return report_json(report)

    @router.get("/documents", responses=refused)
    def documents(reader: Admin) -> dict[str, Any]:
        """Every review, restricted ones included, with who may read it (`access`: null is public)."""
        return {"documents": assistant.documents(reader)}

    @router.get("/feedback", responses=refused)
    def feedback(reader: Admin) -> dict[str, Any]:
        """The latest 500 answers to "was this helpful?", newest first."""
        return {"feedback": appdata.feedback()}

    @router.get("/insight", responses=refused)
    def insight(reader: Admin) -> dict[str, Any]:
        """What practitioners ask, per theme per month, and the questions the library could not answer."""
        return {"recording": settings.record_questions, "retention_days": settings.retention_days,
                "by_theme_and_month": appdata.questions_by_theme_and_month(), "gaps": appdata.library_gaps()}

    @router.get("/insight.csv", responses=refused, response_class=Response)
    def insight_csv(reader: Admin) -> Response:
        return Response(appdata.questions_csv(), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="questions.csv"'})

    @router.get("/audit", responses=refused)
    def audit(reader: Admin) -> dict[str, Any]:
        """Who added, replaced or removed which review, when and from where; newest first."""
        return {"audit": appdata.audit_trail()}

    return router
