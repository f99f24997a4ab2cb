"""Feedback, recorded questions (insight), the audit trail and personal-data redaction and warnings."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy
from fastapi.testclient import TestClient

from assistant.api import create_app
from assistant.appdata import MIGRATIONS, AppData, AuditEntry
from assistant.build import build_index, scan_corpus
from assistant.config import Settings
from assistant.errors import BadRequest, IndexUnavailable
from assistant.personal_data import identifies_someone, identifying_kinds, redact
from assistant.service import Assistant

from .cluster import missing, postgres
from .helpers import HashEmbedder

EXAMPLES = json.loads((Path(__file__).parent / "data" / "personal_data_examples.json").read_text(encoding="utf-8"))
TOKEN = "admin-secret"


# --- redaction and the warning, on examples written apart from the code --------------------------


@pytest.mark.parametrize("example", EXAMPLES["identifying"], ids=lambda e: e["text"][:40])
def test_identifiers_do_not_survive_redaction(example: dict[str, Any]) -> None:
    redacted = redact(example["text"])
    assert [identifier for identifier in example["identifiers"] if identifier in redacted] == []
    assert identifies_someone(example["text"]) is example["warn"]


@pytest.mark.parametrize("example", EXAMPLES["clean"], ids=lambda e: e["text"][:40])
def test_questions_without_personal_data_are_left_alone(example: dict[str, Any]) -> None:
    assert redact(example["text"]) == example["text"]
    assert not identifies_someone(example["text"])


def test_there_are_enough_examples_of_each_kind() -> None:
    kinds = [kind for example in EXAMPLES["identifying"] for kind in example["kinds"]]
    assert len(EXAMPLES["identifying"]) >= 30 and len(EXAMPLES["clean"]) >= 20
    for kind in ("name", "date_of_birth", "nhs_number", "ni_number", "postcode", "phone", "email", "address"):
        assert kinds.count(kind) >= 3, kind


def test_redaction_says_what_was_removed() -> None:
    assert redact("Mrs Okafor, NHS 943 476 5919, lives at 14 Elm Grove, B15 2TT") == \
        "Mrs [name], NHS [NHS number], lives at [address], [postcode]"
    assert identifying_kinds("baby Kian born 03/07/2019") == ["name", "date of birth"]


# --- the application database ------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    lacking = missing()
    if lacking:
        pytest.fail(f"{lacking} is needed: `make cluster` installs it")
    with postgres() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[..., AppData]:
    """A factory of AppData on an empty database: embedded SQLite, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return lambda **options: AppData(tmp_path, **options)
    server = request.getfixturevalue("postgres_url")
    name = f"test_{uuid.uuid4().hex[:12]}"
    engine = sqlalchemy.create_engine(server, isolation_level="AUTOCOMMIT")
    with engine.connect() as db:
        db.exec_driver_sql(f"CREATE DATABASE {name}")
    engine.dispose()
    url = server.rsplit("/", 1)[0] + "/" + name
    return lambda **options: AppData(tmp_path, url=url, **options)


def stored(data: AppData) -> str:
    """Everything the database holds, as text: the files themselves for SQLite, every row for PostgreSQL."""
    if data.is_sqlite:  # the file and its write-ahead log, where recent writes wait for a checkpoint
        return "".join(path.read_bytes().decode("latin-1") for path in data.path.parent.glob(data.path.name + "*"))
    engine = sqlalchemy.create_engine(data.url)
    with engine.connect() as db:
        rows = [str(row) for table in ("feedback", "questions", "audit")
                for row in db.execute(sqlalchemy.text(f"SELECT * FROM {table}"))]
    engine.dispose()
    return "\n".join(rows)


def test_migrations_run_once_and_a_newer_database_is_refused(database: Callable[..., AppData]) -> None:
    data = database()
    assert data.schema_version == len(MIGRATIONS)
    data.add_feedback(kind="answer", helpful=True, question="what is neglect?")
    assert database().schema_version == len(MIGRATIONS)  # reopening does not migrate again
    assert len(database().feedback()) == 1
    engine = sqlalchemy.create_engine(data.url)
    with engine.begin() as db:
        if data.is_sqlite:
            db.exec_driver_sql(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
        else:
            db.exec_driver_sql(f"UPDATE assistant_schema SET version = {len(MIGRATIONS) + 1}")
    engine.dispose()
    with pytest.raises(IndexUnavailable, match="newer version"):
        database().feedback()


def test_a_retention_limit_below_one_day_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BadRequest, match="at least 1"):
        AppData(tmp_path, retention_days=0)


def test_an_unusable_database_url_is_one_clear_error_without_its_password(tmp_path: Path) -> None:
    with pytest.raises(BadRequest, match="not a database URL"):
        AppData(tmp_path, url="not a url")
    data = AppData(tmp_path, url="postgresql://someone:s3cret@127.0.0.1:1/nothing")
    with pytest.raises(IndexUnavailable, match="cannot be used") as raised:
        data.feedback()
    assert "s3cret" not in raised.value.message and "***" in raised.value.message


def test_old_questions_and_feedback_are_deleted(database: Callable[..., AppData]) -> None:
    data = database(retention_days=90)
    today = datetime.now(UTC)
    data.record_question("old question about neglect", "direct", ["Neglect"], at=today - timedelta(days=91))
    data.add_feedback(kind="answer", helpful=False, question="old", at=today - timedelta(days=100))
    data.record_question("new question about neglect", "none", ["Neglect"], at=today - timedelta(days=89))
    questions = [row[0] for row in csv.reader(io.StringIO(data.questions_csv()))][1:]
    assert questions == [(today - timedelta(days=89)).isoformat()]
    assert data.feedback() == []


def test_insight_counts_themes_per_month_and_the_gaps(database: Callable[..., AppData]) -> None:
    march = datetime(2026, 3, 5, tzinfo=UTC)
    data = database(clock=lambda: march + timedelta(days=45))
    for outcome in ("direct", "none", "none"):
        data.record_question("How do I support a family with no recourse to public funds?", outcome,
                             ["Poverty"], at=march)
    data.record_question("What is a strategy discussion?", "related", [], at=march + timedelta(days=30))
    by_month = data.questions_by_theme_and_month()
    assert {"month": "2026-03", "theme": "Poverty", "questions": 3, "not_covered": 2} in by_month
    assert {"month": "2026-04", "theme": "(no theme)", "questions": 1, "not_covered": 1} in by_month
    assert [row["month"] for row in by_month] == ["2026-04", "2026-03"]  # newest month first
    gaps = data.library_gaps()
    assert gaps[0]["question"] == "how do i support a family with no recourse to public funds?"
    assert gaps[0]["times"] == 2 and gaps[1]["related"] == 1


def test_stored_questions_are_redacted_and_csv_cells_cannot_run(database: Callable[..., AppData]) -> None:
    data = database()
    data.record_question("=HYPERLINK(\"x\") Mrs Grace Adeyemi, NHS 943 476 5919: who do I call?", "none", [])
    data.audit(AuditEntry("ade", "127.0.0.1", "add", "a-review"))
    raw = stored(data)
    assert "Adeyemi" not in raw and "943 476 5919" not in raw and "a-review" in raw
    row = list(csv.reader(io.StringIO(data.questions_csv())))[1]
    assert row[1].startswith("'=") and "[NHS number]" in row[1]
    assert data.audit_trail()[0]["target"] == "a-review"


# --- through the web service ---------------------------------------------------------------------


@pytest.fixture
def recording(built: Assistant) -> TestClient:
    settings = Settings.from_env(corpus_dir=built.settings.corpus_dir, index_dir=built.settings.index_dir,
                                 model=built.settings.model, admin_token=TOKEN, record_questions=True)
    return TestClient(create_app(settings, assistant=built))


def admin_get(client: TestClient, path: str) -> Any:
    response = client.get(path, headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.text
    return response.json() if path.endswith(("feedback", "insight", "audit")) else response.text


def test_feedback_is_stored_redacted_and_listed_for_admins(recording: TestClient) -> None:
    response = recording.post("/api/feedback", json={
        "kind": "answer", "helpful": False, "question": "What does neglect look like?", "coverage": "direct",
        "comment": "Call Mrs Ruth Baxter on 07700 900123 about this",
        "citations": ["2016-luton-child-f-scr-response#2"]})
    assert response.status_code == 201 and response.json()["id"] >= 1
    listed = admin_get(recording, "/api/admin/feedback")["feedback"]
    assert listed[0]["helpful"] is False and listed[0]["citations"] == ["2016-luton-child-f-scr-response#2"]
    assert listed[0]["comment"] == "Call Mrs [name] on [phone number] about this"
    assert recording.get("/api/admin/feedback").status_code == 401


@pytest.mark.parametrize("body", [
    {"kind": "answer", "helpful": "yes", "question": "q"},
    {"kind": "rating", "helpful": True, "question": "q"},
    {"kind": "answer", "helpful": True},
    {"kind": "answer", "helpful": True, "question": "q", "comment": "x" * 2001},
    {"kind": "answer", "helpful": True, "question": "q", "citations": ["a#1"] * 51},
])
def test_bad_feedback_is_refused(recording: TestClient, body: dict[str, Any]) -> None:
    response = recording.post("/api/feedback", json=body)
    assert response.status_code == 422 and "error" in response.json()


def test_questions_are_recorded_only_when_switched_on(built: Assistant, recording: TestClient) -> None:
    quiet = TestClient(create_app(Settings.from_env(corpus_dir=built.settings.corpus_dir,
                                                    index_dir=built.settings.index_dir, model=built.settings.model,
                                                    admin_token=TOKEN), assistant=built))
    quiet.post("/api/ask", json={"question": "What is neglect?"})
    assert admin_get(quiet, "/api/admin/insight")["by_theme_and_month"] == []
    assert admin_get(quiet, "/api/admin/insight")["recording"] is False
    answer = recording.post("/api/ask", json={"question": "What did reviews learn about neglect?"}).json()
    insight = admin_get(recording, "/api/admin/insight")
    assert insight["recording"] is True and insight["retention_days"] == 90
    assert sum(row["questions"] for row in insight["by_theme_and_month"]) >= 1
    assert any(row["theme"] == "Neglect" for row in insight["by_theme_and_month"])
    csv_text = admin_get(recording, "/api/admin/insight.csv")
    assert "What did reviews learn about neglect?" in csv_text and answer["coverage"] in csv_text


def test_a_question_that_identifies_a_child_is_refused_and_not_recorded(recording: TestClient) -> None:
    for path, call in (("/api/ask", lambda q: recording.post("/api/ask", json={"question": q})),
                       ("/api/search", lambda q: recording.get("/api/search", params={"q": q}))):
        response = call("Child Tyler Brown, DOB 03/07/2019, NHS 943 476 5919: what do reviews say about bruising?")
        assert response.status_code == 422, path
        error = response.json()["error"]
        assert "please don't enter details that identify a child or family" in error
        assert "NHS number" in error and "5919" not in error
    assert "Tyler" not in admin_get(recording, "/api/admin/insight.csv")
    assert recording.post("/api/ask", json={"question": "What did the Child Q review find?"}).status_code == 200


def test_feedback_insight_and_audit_survive_a_rebuild(built: Assistant, recording: TestClient,
                                                      embedder: HashEmbedder) -> None:
    recording.post("/api/feedback", json={"kind": "extract", "helpful": True, "question": "neglect"})
    recording.post("/api/ask", json={"question": "What is neglect?"})
    upload = recording.post("/api/admin/documents", headers={"Authorization": f"Bearer {TOKEN}"},
                            files={"file": ("baby-q.md", b"# Learning review: Baby Q\n\nPractitioners should ask "
                                                         b"to see where the baby sleeps at every visit.\n")})
    assert upload.status_code == 200
    build_index(files=scan_corpus(built.settings.corpus_dir), store=built.store, embedder=embedder)
    built.refresh()
    assert len(admin_get(recording, "/api/admin/feedback")["feedback"]) == 1
    assert admin_get(recording, "/api/admin/insight")["by_theme_and_month"]
    audit = admin_get(recording, "/api/admin/audit")["audit"]
    assert audit[0]["action"] == "add" and audit[0]["target"] == "baby-q"
    assert audit[0]["actor"] == "admin token" and audit[0]["address"] == "testclient"


@pytest.mark.parametrize("question", [
    "NHS ９４３４７６５９１９ bruising",  # full-width digits
    "NHS 943\u200b476\u200b5919 bruising",  # zero-width spaces between the groups
    "NHS 943.476.5919 bruising",
    "Jayden Smith DOB 03/04/2015 neglect",  # a name and a date of birth with no title before the name
    "she lives at 12 acacia avenue, is this neglect?",
    "NI number AB-12-34-56-C and benefits",
])
def test_disguised_identifiers_are_refused(recording: TestClient, question: str) -> None:
    assert recording.post("/api/ask", json={"question": question}).status_code == 422


def test_identifiers_in_an_earlier_turn_are_refused_too(recording: TestClient) -> None:
    response = recording.post("/api/ask", json={"question": "what about her?", "history": [
        {"question": "Mrs Jayden Smith NHS 943 476 5919 neglect", "answer": ""}]})
    assert response.status_code == 422 and "NHS number" in response.json()["error"]


def test_feedback_is_redacted_after_spaces_are_collapsed_and_citations_must_be_passage_ids(
        recording: TestClient) -> None:
    stored = recording.post("/api/feedback", json={"kind": "answer", "helpful": True, "question": "neglect",
                                                   "comment": "NHS  943  476  5919 and 943.476.5919"})
    assert stored.status_code == 201
    comment = admin_get(recording, "/api/admin/feedback")["feedback"][0]["comment"]
    assert comment == "NHS [NHS number] and [NHS number]"
    for citations in (["NHS 943 476 5919"], ["Mrs Jayden Smith"], ["x@example.com"]):
        refused = recording.post("/api/feedback", json={"kind": "answer", "helpful": True, "question": "neglect",
                                                        "citations": citations})
        assert refused.status_code == 422
    for blank in ("", "   ", "\u0000"):
        assert recording.post("/api/feedback", json={"kind": "answer", "helpful": True,
                                                     "question": blank}).status_code == 422
