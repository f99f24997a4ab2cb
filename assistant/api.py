"""FastAPI app factory: error handling and security headers; the routes live in routes_*.py, admin_api.py
and pages.py."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from . import __version__
from .admin_api import admin_router
from .config import Settings
from .errors import AssistantError
from .pages import add_pages, make_templates
from .routes_answers import answers_router
from .routes_library import library_router
from .service import Assistant

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
# Swagger UI sets style attributes in its markup; its page alone may use inline styles.
DOCS_CSP = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")


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

    app = FastAPI(title="Safeguarding case review assistant", version=__version__, docs_url=None, redoc_url=None,
                  description="Answers from published child safeguarding case reviews, quoted and cited.",
                  lifespan=lifespan)
    app.state.assistant = assistant
    templates = make_templates(settings)

    def render_error(request: Request, status: int, message: str) -> Response:
        """JSON for the API and for clients that ask for it; an HTML page for people in a browser."""
        wants_html = "text/html" in request.headers.get("accept", "")
        if request.url.path.startswith("/api/") or not wants_html:
            return error_response(status, message)
        heading = {404: "Page not found", 409: "The assistant is busy", 503: "The assistant is not ready"}.get(
            status, "Something went wrong")
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

    app.include_router(answers_router(assistant))
    app.include_router(library_router(assistant))
    app.include_router(admin_router(settings, assistant))
    add_pages(app, settings, assistant, templates)
    return app
