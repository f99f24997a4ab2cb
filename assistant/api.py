"""FastAPI app factory: error handling and security headers; the routes live in routes_*.py, admin_api.py
and pages.py."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from . import __version__
from .admin_api import admin_router
from .appdata import AppData
from .auth import ADMIN_PREFIX, BEARER_CHALLENGE, SignIn
from .config import Settings
from .embedding import share_cores
from .errors import AssistantError
from .http import HttpEdge
from .pages import add_pages, make_templates
from .routes_answers import answers_router
from .routes_library import library_router
from .service import Assistant
from .text import describe_size

log = logging.getLogger("assistant.api")


def error_response(request: Request, status: int, message: str, headers: dict[str, str] | None = None
                   ) -> JSONResponse:
    """The one JSON error shape, with the request id the HTTP edge gave the request."""
    request_id = getattr(request.state, "request_id", None)
    return JSONResponse({"error": message, "status": status, "request_id": request_id}, status_code=status,
                        headers=headers)


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
    sign_in = SignIn(settings)
    appdata = AppData(settings.data_dir, retention_days=settings.retention_days, url=settings.database_url)
    if settings.workers > 1:
        share_cores(settings.workers)
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.role != "reader":  # a reader leaves corpus/ to the writer
            with contextlib.suppress(AssistantError, OSError):
                for message in await asyncio.to_thread(assistant.settle_corpus):
                    log.warning("corpus: %s", message)
        with contextlib.suppress(AssistantError):
            # a worker serves nobody until the model is loaded and the index open (or known to be missing)
            await asyncio.to_thread(assistant.warm_up)
        assistant.start_watching()
        yield
        assistant.stop_watching()

    app = FastAPI(title="Safeguarding case review assistant", version=__version__, docs_url=None, redoc_url=None,
                  description=("Answers from published child safeguarding case reviews, quoted and cited. "
                               f"Request bodies are limited to {describe_size(settings.max_body_bytes)} "
                               f"(uploads: {describe_size(settings.max_upload_bytes)}); every error is "
                               '`{"error", "status", "request_id"}`; answers are sent with Cache-Control: '
                               "no-store."),
                  lifespan=lifespan,
                  # no redirect from /path/ to /path: it would build its Location from the request's Host header
                  redirect_slashes=False)
    app.state.assistant = assistant
    app.state.sign_in = sign_in
    app.state.appdata = appdata
    templates = make_templates(settings)

    add_error_handlers(app, templates)

    def body_limit(path: str) -> int:
        """Uploads may be as large as a review file (and its multipart wrapping); everything else is small."""
        return settings.max_upload_bytes + 1024 * 1024 if path.startswith(ADMIN_PREFIX) else settings.max_body_bytes

    app.add_middleware(
        HttpEdge,
        limit_for=body_limit,
        gate=sign_in.check,
    )

    app.include_router(answers_router(settings, assistant, appdata))
    app.include_router(library_router(assistant))
    app.include_router(admin_router(settings, assistant, appdata, sign_in))
    add_pages(app, settings, assistant, templates)
    return app


def add_error_handlers(app: FastAPI, templates: Jinja2Templates) -> None:
    """One error path: every error the app raises becomes the JSON shape (or, for a browser, a page)."""

    def render_error(request: Request, status: int, message: str, headers: dict[str, str] | None = None
                     ) -> Response:
        """JSON for the API and for clients that ask for it; an HTML page for people in a browser."""
        wants_html = "text/html" in request.headers.get("accept", "")
        if request.url.path.startswith("/api/") or not wants_html:
            return error_response(request, status, message, headers)
        heading = {404: "Page not found", 409: "The assistant is busy", 503: "The assistant is not ready"}.get(
            status, "Something went wrong")
        return templates.TemplateResponse(request, "error.html", {"heading": heading, "message": message},
                                          status_code=status, headers=headers)

    @app.exception_handler(AssistantError)
    def handle_assistant_error(request: Request, error: AssistantError) -> Response:
        return render_error(request, error.status, error.message,
                            BEARER_CHALLENGE if error.status == 401 else None)

    @app.exception_handler(RequestValidationError)
    def handle_validation(request: Request, error: RequestValidationError) -> Response:
        return render_error(request, *_describe_validation(error))

    @app.exception_handler(StarletteHTTPException)
    def handle_http(request: Request, error: StarletteHTTPException) -> Response:
        message = {404: "not found", 405: "method not allowed"}.get(error.status_code, str(error.detail))
        if message == "There was an error parsing the body":
            message = "the request body could not be read"
        headers = dict(error.headers or {})
        if error.status_code == 405:
            headers["Allow"] = allowed_methods(app, request.url.path)
        return render_error(request, error.status_code, message, headers or None)

    @app.exception_handler(Exception)
    def handle_fault(request: Request, error: Exception) -> Response:
        request_id = getattr(request.state, "request_id", None)
        log.error("request %s failed", request_id, exc_info=error)
        return render_error(request, 500, f"the server failed; quote request id {request_id} when reporting it")


def allowed_methods(app: FastAPI, path: str) -> str:
    """The methods the routes at `path` answer (HEAD wherever GET is), for a 405's Allow header."""
    methods: set[str] = set()
    routes = list(app.routes)
    while routes:
        route = routes.pop()
        included = getattr(route, "original_router", None)  # an included router: look at its own routes
        if included is not None:
            routes.extend(included.routes)
            continue
        match, _ = route.matches({"type": "http", "path": path, "method": "OPTIONS", "root_path": ""})
        if match.name != "NONE":
            methods |= set(getattr(route, "methods", None) or ("GET",))  # a mount (static files) reads only
    if "GET" in methods:
        methods.add("HEAD")
    return ", ".join(sorted(methods))
