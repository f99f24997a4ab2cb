"""Routes that answer: ask, search and export of extracts."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from .answer import Turn
from .export import export_extracts
from .models import Answer, Citation
from .service import Assistant


class ErrorResponse(BaseModel):
    error: str
    status: int


ERRORS: dict[int | str, dict[str, Any]] = {400: {"model": ErrorResponse}, 422: {"model": ErrorResponse}}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorResponse}}


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


def answers_router(assistant: Assistant) -> APIRouter:
    router = APIRouter(prefix="/api", tags=["answers"])

    @router.post("/ask", response_model=Answer, responses=ERRORS)
    def ask(request: Request, body: AskRequest) -> Answer:
        history = [Turn(turn.question, turn.answer) for turn in body.history]
        return assistant.ask(body.question, history=history, k=body.k, filters=body.filters,
                             base_url=str(request.base_url))

    @router.get("/search", response_model=SearchResponse, responses=ERRORS)
    def search(
        request: Request,
        q: str = Query(default="", description="What to search for (may be empty when browsing a theme)."),
        k: int | None = Query(default=None, description="How many passages, 1-50 (default 5)."),
        theme: str | None = Query(default=None, description="A theme id from /api/themes."),
        area: str | None = Query(default=None, description="The review's area, as in /api/documents."),
        type: str | None = Query(default=None, description="The review type, as in /api/documents."),
        year_from: int | None = Query(default=None), year_to: int | None = Query(default=None),
    ) -> SearchResponse:
        filters = {"theme": theme, "area": area, "type": type, "year_from": year_from, "year_to": year_to}
        results = assistant.search(q, k=k, filters=filters, base_url=str(request.base_url))
        return SearchResponse(query=q, filters={key: v for key, v in filters.items() if v is not None},
                              results=results)

    @router.post("/export", responses={**ERRORS, **NOT_FOUND}, response_class=Response)
    def export(request: Request, body: ExportRequest) -> Response:
        extracts = assistant.extracts(body.chunk_ids, base_url=str(request.base_url))
        exported = export_extracts(extracts, body.format, base_url=str(request.base_url))
        return Response(exported.content, media_type=exported.media_type,
                        headers={"Content-Disposition": f'attachment; filename="{exported.file_name}"'})

    return router
