"""HTML pages: the chat, the list of reviews, the source viewer and the API docs. Thin: the Assistant does the work."""

from __future__ import annotations

import hashlib
import importlib.resources
import itertools
import json
import re
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from . import __version__
from .auth import CurrentReader, admin_enabled
from .config import Settings
from .errors import Forbidden, NotFound
from .ingest.ocr import page_ranges
from .personal_data import browser_rules
from .service import Assistant

EXAMPLES = (
    "What should I do if a family won't engage with early help?",
    "Should I record DNA or WNB when a child misses an appointment?",
    "What does professional curiosity mean in practice?",
    "What did reviews learn about families facing eviction?",
)
DOC_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,199}$")


def _asset_versions(static_dir: Path) -> dict[str, str]:
    """A short content hash per static file, so browsers fetch a changed file at once."""
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()[:10]
        for path in static_dir.glob("*") if path.is_file()
    }


def _swagger_ui_folder() -> Path | None:
    """Swagger UI 5 (reads OpenAPI 3.1), shipped inside the fastapi-offline package: no CDN."""
    try:
        folder = Path(str(importlib.resources.files("fastapi_offline") / "static"))
    except ModuleNotFoundError:
        return None
    return folder if (folder / "swagger-ui-bundle.js").exists() else None


def make_templates(settings: Settings) -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(settings.templates_dir))
    versions = _asset_versions(settings.static_dir)

    def static(name: str) -> str:
        return f"/static/{name}?v={versions.get(name, '0')}"

    templates.env.globals["static"] = static
    templates.env.globals["version"] = __version__
    return templates


def add_pages(app: FastAPI, settings: Settings, assistant: Assistant, templates: Jinja2Templates) -> None:
    """Register the HTML routes and the static folders on the app."""
    app.mount("/static", StaticFiles(directory=settings.static_dir), name="static")
    swagger_ui = _swagger_ui_folder()
    if swagger_ui is not None:  # without it /docs shows no scripts; the API itself is unaffected
        app.mount("/vendor/swagger-ui", StaticFiles(directory=str(swagger_ui)), name="swagger-ui")

    def page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        return templates.TemplateResponse(request, template, context, status_code=status)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def chat(request: Request, reader: CurrentReader) -> HTMLResponse:
        return page(request, "index.html", active="ask", examples=EXAMPLES,
                    documents=len(assistant.documents(reader)), max_chars=settings.max_question_chars,
                    personal_data=json.dumps(browser_rules()))

    @app.get("/documents", response_class=HTMLResponse, include_in_schema=False)
    def documents(request: Request, reader: CurrentReader) -> HTMLResponse:
        return page(request, "documents.html", active="documents", documents=assistant.documents(reader))

    @app.get("/documents/{doc_id}", response_class=HTMLResponse, include_in_schema=False)
    def document(request: Request, doc_id: str, reader: CurrentReader) -> HTMLResponse:
        if not DOC_ID.match(doc_id):
            raise NotFound(f"no review with id {doc_id!r}")
        doc, chunks = assistant.document(doc_id, reader)
        sections = [(section, list(group)) for section, group in
                    itertools.groupby(chunks, key=lambda stored: stored.chunk.section)]
        ocr_pages = page_ranges(doc.ocr_pages) if doc.ocr_pages else None  # "pages 1-4": for the OCR note
        return page(request, "document.html", active="documents", document=doc, sections=sections,
                    ocr_pages=ocr_pages)

    @app.get("/extracts", response_class=HTMLResponse, include_in_schema=False)
    def extracts(request: Request, reader: CurrentReader) -> HTMLResponse:
        return page(request, "extracts.html", active="extracts", themes=assistant.themes,
                    facets=assistant.facets(reader), max_chars=settings.max_question_chars,
                    personal_data=json.dumps(browser_rules()))

    @app.get("/themes", response_class=HTMLResponse, include_in_schema=False)
    def themes(request: Request, reader: CurrentReader) -> HTMLResponse:
        summary = assistant.theme_summary(reader)
        groups: dict[str, list[dict[str, Any]]] = {}  # in the taxonomy's order; within each, most raised first
        for theme in summary:
            groups.setdefault(theme["group"] or "Other themes", []).append(theme)
        for members in groups.values():
            members.sort(key=lambda theme: (-theme["documents"], -theme["chunks"]))
        return page(request, "themes.html", active="themes", groups=list(groups.items()),
                    total=len(assistant.documents(reader)))

    @app.get("/admin", response_class=HTMLResponse, include_in_schema=False)
    def admin(request: Request, reader: CurrentReader) -> HTMLResponse:
        """The form and the lists come from the admin API, with the token typed here or the admin's sign-in."""
        if not admin_enabled(settings):
            raise NotFound("the admin page is disabled; set ASSISTANT_ADMIN_TOKEN (or ASSISTANT_ADMIN_GROUPS) "
                           "to enable it")
        if reader.name is not None and not reader.is_admin and not settings.admin_token:
            raise Forbidden(f"{reader.name} is not in an admin group")
        return page(request, "admin.html", max_mb=settings.max_upload_bytes // (1024 * 1024),
                    token_needed=not reader.is_admin, recording=settings.record_questions,
                    retention_days=settings.retention_days)

    @app.get("/docs", response_class=HTMLResponse, include_in_schema=False)
    def docs(request: Request) -> HTMLResponse:
        return page(request, "docs.html")
