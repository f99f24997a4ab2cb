"""FastAPI app factory: thin JSON routes and HTML pages over the Assistant."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from .admin_api import admin_router
from .answer import Turn
from .config import Settings
from .errors import AssistantError
from .export import export_extracts
from .models import Answer, Citation
from .pages import add_pages, make_templates
from .service import Assistant

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
# Swagger UI sets style attributes in its markup; its page alone may use inline styles.
DOCS_CSP = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")


class HistoryTurn(BaseModel):
    question: str = Field(max_length=20_000)
    answer: str = Field(default="", max_length=100_000)


class AskRequest(BaseModel):
    question: str = Field(description="The practitioner's question, in their own words.")
    history: list[HistoryTurn] = Field(default_factory=list, max_length=50,
                                       description="Earlier turns of the conversation, oldest first.")
    filters: dict[str, Any] = Field(default_factory=dict)
    k: int | None = Field(default=None, description="How many passages to consider, 1-50.")


class SearchResponse(BaseModel):
    query: str
    filters: dict[str, Any]
    results: list[Citation]


class ExportRequest(BaseModel):
    chunk_ids: list[str] = Field(description="Passage ids ('review-id#3'), in the order wanted.", max_length=200)
    format: str = Field(description="md, csv or docx")


class ErrorResponse(BaseModel):
    error: str
    status: int


def error_response(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message, "status": status}, status_code=status)


def _describe_validation(error: RequestValidationError) -> tuple[int, str]:
    problems = error.errors()
    if any(problem.get("type") == "json_invalid" for problem in problems):
        return 400, "the request body is not valid JSON"
    parts = []
    for problem in problems[:3]:
        where = ".".join(str(part) for part in problem.get("loc", ()) if part != "body")
        parts.append(f"{where or 'body'}: {problem.get('msg', 'invalid')}")
    return 422, "invalid request: " + "; ".join(parts)


def create_app(settings: Settings | None = None, *, assistant: Assistant | None = None) -> FastAPI:
    settings = settings or Settings.from_env()
    assistant = assistant or Assistant(settings)
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        with contextlib.suppress(AssistantError):
            assistant.index()  # open the published index before the first request, if there is one
        assistant.start_watching()
        yield
        assistant.stop_watching()

    app = FastAPI(title="Safeguarding case review assistant", version="0.1.0", docs_url=None, redoc_url=None,
                  description="Answers from published child safeguarding case reviews, quoted and cited.",
                  lifespan=lifespan)
    app.state.assistant = assistant
    templates = make_templates(settings)
    errors: dict[int | str, dict[str, Any]] = {400: {"model": ErrorResponse}, 422: {"model": ErrorResponse}}

    def render_error(request: Request, status: int, message: str) -> Response:
        """JSON for the API and for clients that ask for it; an HTML page for people in a browser."""
        wants_html = "text/html" in request.headers.get("accept", "")
        if request.url.path.startswith("/api/") or not wants_html:
            return error_response(status, message)
        heading = {404: "Page not found", 409: "The assistant is not ready"}.get(status, "Something went wrong")
        return templates.TemplateResponse(request, "error.html", {"heading": heading, "message": message},
                                          status_code=status)

    @app.exception_handler(AssistantError)
    def handle_assistant_error(request: Request, error: AssistantError) -> Response:
        return render_error(request, error.status, error.message)

    @app.exception_handler(RequestValidationError)
    def handle_validation(request: Request, error: RequestValidationError) -> Response:
        return render_error(request, *_describe_validation(error))

    @app.exception_handler(StarletteHTTPException)
    def handle_http(request: Request, error: StarletteHTTPException) -> Response:
        message = {404: "not found", 405: "method not allowed"}.get(error.status_code, str(error.detail))
        return render_error(request, error.status_code, message)

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Any) -> Any:
        response = await call_next(request)
        csp = DOCS_CSP if request.url.path == "/docs" else CSP
        response.headers.setdefault("Content-Security-Policy", csp)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Frame-Options"] = "DENY"
        return response

    @app.get("/api/health")
    def health() -> dict[str, Any]:
        assistant.index()
        return {"status": "ok", **assistant.status()}

    @app.post("/api/ask", response_model=Answer, responses=errors)
    def ask(request: Request, body: AskRequest) -> Answer:
        history = [Turn(turn.question, turn.answer) for turn in body.history]
        return assistant.ask(body.question, history=history, k=body.k, filters=body.filters,
                             base_url=str(request.base_url))

    @app.get("/api/search", response_model=SearchResponse, responses=errors)
    def search(
        request: Request,
        q: str = Query(default="", description="What to search for (may be empty when browsing a theme)."),
        k: int = Query(default=10, description="How many passages, 1-50."),
        theme: str | None = Query(default=None, description="A theme id from /api/themes."),
        area: str | None = Query(default=None, description="The review's area, as in /api/documents."),
        type: str | None = Query(default=None, description="The review type, as in /api/documents."),
        year_from: int | None = Query(default=None), year_to: int | None = Query(default=None),
    ) -> SearchResponse:
        filters = {"theme": theme, "area": area, "type": type, "year_from": year_from, "year_to": year_to}
        results = assistant.search(q, k=k, filters=filters, base_url=str(request.base_url))
        return SearchResponse(query=q, filters={key: v for key, v in filters.items() if v is not None},
                              results=results)

    @app.get("/api/themes")
    def themes() -> dict[str, Any]:
        return {"themes": assistant.theme_summary()}

    @app.get("/api/themes/{theme_id}", responses={404: {"model": ErrorResponse}})
    def theme(theme_id: str) -> dict[str, Any]:
        return assistant.theme_across_reviews(theme_id)

    @app.get("/api/facets")
    def facets() -> dict[str, Any]:
        return assistant.index().facets()

    @app.post("/api/export", responses={**errors, 404: {"model": ErrorResponse}},
              response_class=Response)
    def export(request: Request, body: ExportRequest) -> Response:
        extracts = assistant.extracts(body.chunk_ids, base_url=str(request.base_url))
        exported = export_extracts(extracts, body.format, base_url=str(request.base_url))
        return Response(exported.content, media_type=exported.media_type,
                        headers={"Content-Disposition": f'attachment; filename="{exported.file_name}"'})

    @app.get("/api/documents")
    def documents() -> dict[str, Any]:
        return {"documents": assistant.documents()}

    @app.get("/api/documents/{doc_id}", responses={404: {"model": ErrorResponse}})
    def document(doc_id: str) -> dict[str, Any]:
        doc, chunks = assistant.document(doc_id)
        return {
            "doc_id": doc.doc_id, "file_name": doc.file_name, **doc.meta.__dict__,
            "chunks": [{"n": s.chunk.n, "chunk_id": s.chunk.chunk_id, "section": s.chunk.section,
                        "page": s.chunk.page, "text": s.chunk.text} for s in chunks],
        }

    app.include_router(admin_router(settings, assistant))
    add_pages(app, settings, assistant, templates)
    return app
