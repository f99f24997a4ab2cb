"""Routes that answer: ask, search and export of extracts."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from .answer import Turn, validate_question
from .appdata import AppData
from .auth import CurrentReader
from .config import Settings
from .errors import PersonalDataRefused
from .export import export_extracts
from .models import Answer, Citation
from .personal_data import WARNING, identifying_kinds
from .service import FIRST_YEAR, LAST_YEAR, Assistant
from .text import is_valid_unicode


class ErrorResponse(BaseModel):
    error: str
    status: int
    request_id: str | None = None


def refusals(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ErrorResponse} for status in statuses}


ERRORS = refusals(400, 413, 422, 503)
NOT_FOUND = refusals(404)


def _unicode(text: str) -> str:
    if not is_valid_unicode(text):
        raise ValueError("must be valid Unicode text")
    return text


Text = Annotated[str, AfterValidator(_unicode)]


class Strict(BaseModel):
    """Bodies are read strictly: no '5' for 5, no true for a year, no unknown fields."""

    model_config = ConfigDict(strict=True, extra="forbid")


class HistoryTurn(Strict):
    question: Text = Field(max_length=2_000)
    answer: Text = Field(default="", max_length=20_000)


class Filters(Strict):
    theme: Text | None = Field(default=None, max_length=100, description="A theme id from /api/themes.")
    area: Text | None = Field(default=None, max_length=200)
    type: Text | None = Field(default=None, max_length=200, description="The review type.")
    year_from: int | None = Field(default=None, ge=FIRST_YEAR, le=LAST_YEAR)
    year_to: int | None = Field(default=None, ge=FIRST_YEAR, le=LAST_YEAR)


class AskRequest(Strict):
    question: Text = Field(max_length=20_000, description="The practitioner's question, in their own words "
                           "(at most 2,000 characters once spaces are collapsed).")
    history: list[HistoryTurn] = Field(default_factory=list, max_length=20,
                                       description="Earlier turns of the conversation, oldest first.")
    filters: Filters | None = None
    k: int | None = Field(default=None, ge=1, le=50, description="How many passages to consider, 1-50.")


class SearchResponse(BaseModel):
    query: str
    filters: dict[str, Any]
    results: list[Citation]


class ExportRequest(Strict):
    chunk_ids: list[Annotated[Text, Field(max_length=220)]] = Field(
        description="Passage ids ('review-id#3'), in the order wanted.", min_length=1, max_length=200)
    format: Text = Field(max_length=10, description="md, csv or docx")


def _has_words(text: str) -> str:
    if not any(character.isalnum() for character in text):
        raise ValueError("must hold some words")
    return text


ChunkId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,199}#[0-9]{1,9}$")]


class FeedbackRequest(Strict):
    kind: Literal["answer", "extract"] = Field(description="Feedback on an answer, or on a search's extracts.")
    helpful: bool
    question: Annotated[Text, AfterValidator(_has_words)] = Field(
        max_length=2_000, description="The question or search it is about.")
    comment: Text | None = Field(default=None, max_length=2_000)
    coverage: Literal["direct", "related", "none"] | None = Field(default=None, description="The answer's coverage.")
    citations: list[ChunkId] = Field(default_factory=list, max_length=50,
                                     description="The passage ids ('review-id#3') that were shown.")


def refuse_personal_data(*texts: str) -> None:
    """A question (or an earlier turn sent with it) that looks like it identifies a child or family is not
    answered, nor logged."""
    kinds = list(dict.fromkeys(kind for text in texts for kind in identifying_kinds(text)))
    if kinds:
        raise PersonalDataRefused(f"{WARNING} (It looks like it holds: {', '.join(kinds)}.)")


def answers_router(settings: Settings, assistant: Assistant, appdata: AppData) -> APIRouter:
    router = APIRouter(prefix="/api", tags=["answers"])

    @router.post("/ask", response_model=Answer, responses=ERRORS)
    def ask(body: AskRequest, reader: CurrentReader) -> Answer:
        question = validate_question(body.question, max_chars=settings.max_question_chars)  # before any scan
        refuse_personal_data(question, *(turn.question for turn in body.history))
        history = [Turn(turn.question, turn.answer) for turn in body.history]
        answer = assistant.ask(body.question, history=history, k=body.k,
                               filters=body.filters.model_dump(exclude_none=True) if body.filters else None,
                               base_url=settings.link_base, reader=reader)
        if settings.record_questions:
            appdata.record_question(answer.question, answer.coverage, assistant.question_themes(answer))
        return answer

    @router.post("/feedback", responses=ERRORS, status_code=201)
    def feedback(body: FeedbackRequest) -> dict[str, Any]:
        """Was this answer (or extract) helpful? Stored with the question and comment redacted."""
        stored = appdata.add_feedback(kind=body.kind, helpful=body.helpful, question=body.question,
                                      comment=body.comment, coverage=body.coverage, citations=body.citations)
        return {"id": stored, "thanks": "Thank you: your feedback helps the partnership improve the library."}

    @router.get("/search", response_model=SearchResponse, responses=ERRORS)
    def search(
        reader: CurrentReader,
        q: str = Query(default="", max_length=2_000,
                       description="What to search for (may be empty when browsing a theme)."),
        k: int | None = Query(default=None, ge=1, le=50, description="How many passages, 1-50 (default 5)."),
        theme: str | None = Query(default=None, max_length=100, description="A theme id from /api/themes."),
        area: str | None = Query(default=None, max_length=200,
                                 description="The review's area, as in /api/documents."),
        type: str | None = Query(default=None, max_length=200, description="The review type, as in /api/documents."),
        year_from: int | None = Query(default=None, ge=FIRST_YEAR, le=LAST_YEAR),
        year_to: int | None = Query(default=None, ge=FIRST_YEAR, le=LAST_YEAR),
    ) -> SearchResponse:
        if q.strip():
            refuse_personal_data(validate_question(q, max_chars=settings.max_question_chars))
        filters = {"theme": theme, "area": area, "type": type, "year_from": year_from, "year_to": year_to}
        results = assistant.search(q, k=k, filters=filters, base_url=settings.link_base, reader=reader)
        return SearchResponse(query=q, filters={key: v for key, v in filters.items() if v is not None},
                              results=results)

    @router.post("/export", responses={**ERRORS, **NOT_FOUND}, response_class=Response)
    def export(body: ExportRequest, reader: CurrentReader) -> Response:
        extracts = assistant.extracts(body.chunk_ids, base_url=settings.link_base, reader=reader)
        exported = export_extracts(extracts, body.format, base_url=settings.link_base)
        return Response(exported.content, media_type=exported.media_type,
                        headers={"Content-Disposition": f'attachment; filename="{exported.file_name}"'})

    return router
