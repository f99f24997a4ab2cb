"""The application's own database: feedback, recorded questions (insight) and the audit trail.

It lives apart from the index: embedded SQLite under `ASSISTANT_DATA_DIR` by default, or the PostgreSQL
database `ASSISTANT_DATABASE_URL` names, which several servers share; rebuilding the index never touches it.
Both go through SQLAlchemy Core, one set of statements. Its schema is versioned: each migration runs once, in
order (`PRAGMA user_version` on SQLite, the `assistant_schema` table on PostgreSQL says how many have).
Nothing personal goes in: questions and comments are redacted before they are stored (personal_data.py),
and recorded questions and feedback are deleted once older than the retention limit.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from .errors import BadRequest, IndexUnavailable
from .export import safe_cell
from .personal_data import redact

FILE_NAME = "assistant.sqlite3"

METADATA = sa.MetaData()
FEEDBACK = sa.Table(
    "feedback", METADATA,
    sa.Column("id", sa.Integer, primary_key=True), sa.Column("created_at", sa.Text, nullable=False, index=True),
    sa.Column("kind", sa.Text, nullable=False), sa.Column("helpful", sa.Integer, nullable=False),
    sa.Column("comment", sa.Text), sa.Column("question", sa.Text, nullable=False), sa.Column("coverage", sa.Text),
    sa.Column("citations", sa.Text, nullable=False),
)
QUESTIONS = sa.Table(
    "questions", METADATA,
    sa.Column("id", sa.Integer, primary_key=True), sa.Column("created_at", sa.Text, nullable=False, index=True),
    sa.Column("question", sa.Text, nullable=False), sa.Column("outcome", sa.Text, nullable=False),
    sa.Column("themes", sa.Text, nullable=False),
)
AUDIT = sa.Table(
    "audit", METADATA,
    sa.Column("id", sa.Integer, primary_key=True), sa.Column("created_at", sa.Text, nullable=False),
    sa.Column("actor", sa.Text, nullable=False), sa.Column("address", sa.Text, nullable=False),
    sa.Column("action", sa.Text, nullable=False), sa.Column("target", sa.Text, nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
)
# The schema's version on PostgreSQL (SQLite keeps it in PRAGMA user_version, as databases made before did).
SCHEMA = sa.Table("assistant_schema", sa.MetaData(), sa.Column("version", sa.Integer, nullable=False))


def _create_tables(db: sa.Connection) -> None:
    METADATA.create_all(db, checkfirst=True)


# Each migration runs once, in order, on SQLite and PostgreSQL alike.
MIGRATIONS: tuple[Callable[[sa.Connection], None], ...] = (_create_tables,)
OUTCOMES = ("direct", "related", "none")


def now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class AuditEntry:
    actor: str  # who: the signed-in user, "admin token" or the operating-system user of the command line
    address: str  # where from: the client's address, or "command line"
    action: str  # "add", "replace", "remove", "build", "update"
    target: str  # the review(s) acted on
    detail: str = ""


def audit_entries(added: Sequence[str], replaced: Sequence[str], removed: Sequence[str], *, actor: str,
                  address: str) -> list[AuditEntry]:
    """One audit line per review a change added, replaced or removed."""
    return [AuditEntry(actor, address, action, doc_id)
            for action, doc_ids in (("add", added), ("replace", replaced), ("remove", removed)) for doc_id in doc_ids]


class AppData:
    """The application's database: embedded SQLite under `directory` by default, or the database `url` names
    (`ASSISTANT_DATABASE_URL`, postgresql://...) that several servers share. Each operation takes a connection
    from a pool of its own process (a forked worker makes its own), so any thread or worker may call it."""

    def __init__(self, directory: Path, *, retention_days: int = 90, clock: Callable[[], datetime] = now,
                 url: str | None = None) -> None:
        if retention_days < 1:
            raise BadRequest("ASSISTANT_RETENTION_DAYS must be at least 1")
        self.path = directory / FILE_NAME
        self.url = url or f"sqlite:///{self.path}"
        try:
            self._where = sa.make_url(self.url).render_as_string(hide_password=True)
        except sa.exc.ArgumentError:
            raise BadRequest("ASSISTANT_DATABASE_URL is not a database URL such as "
                             "postgresql://user:password@host/database") from None
        self.retention = timedelta(days=retention_days)
        self.clock = clock
        self._migrated = False
        self._engine: tuple[int, sa.Engine] | None = None  # (the process it was made in, the engine)

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    def _pool(self) -> sa.Engine:
        pid = os.getpid()
        if self._engine is None or self._engine[0] != pid:
            if self.is_sqlite:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                engine = sa.create_engine(self.url, connect_args={"timeout": 10})
                sa.event.listen(engine, "connect", lambda connection, _: connection.execute("PRAGMA journal_mode=WAL"))
            else:
                engine = sa.create_engine(self.url, pool_pre_ping=True, pool_size=2, max_overflow=4)
            self._engine = (pid, engine)
        return self._engine[1]

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sa.Connection]:
        try:
            with self._pool().begin() as db:
                if not self._migrated:
                    self._migrate(db)
                yield db
        except (OSError, sa.exc.SQLAlchemyError) as exc:
            reason = getattr(exc, "orig", None) or exc
            raise IndexUnavailable(f"the application database {self._where} cannot be used "
                                   f"({str(reason).splitlines()[0]})") from None

    def _version(self, db: sa.Connection) -> int:
        if self.is_sqlite:
            return int(db.exec_driver_sql("PRAGMA user_version").scalar_one())
        SCHEMA.create(db, checkfirst=True)
        return int(db.execute(sa.select(sa.func.coalesce(sa.func.max(SCHEMA.c.version), 0))).scalar_one())

    def _set_version(self, db: sa.Connection, number: int) -> None:
        if self.is_sqlite:
            db.exec_driver_sql(f"PRAGMA user_version = {int(number)}")
        else:
            db.execute(SCHEMA.delete())
            db.execute(SCHEMA.insert().values(version=number))

    def _migrate(self, db: sa.Connection) -> None:
        if not self.is_sqlite:  # several servers may start together: one migrates, the others wait for it
            db.exec_driver_sql("SELECT pg_advisory_xact_lock(727274)")
        done = self._version(db)
        if done > len(MIGRATIONS):
            raise IndexUnavailable(f"the application database {self._where} is from a newer version of the "
                                   "assistant")
        for number, migration in enumerate(MIGRATIONS[done:], start=done + 1):
            migration(db)
            self._set_version(db, number)
        self._migrated = True

    @property
    def schema_version(self) -> int:
        with self._connect() as db:
            return self._version(db)

    def enforce_retention(self) -> int:
        """Delete recorded questions and feedback past the retention limit; how many rows went."""
        cutoff = (self.clock() - self.retention).isoformat()
        with self._connect() as db:
            gone = db.execute(QUESTIONS.delete().where(QUESTIONS.c.created_at < cutoff)).rowcount
            gone += db.execute(FEEDBACK.delete().where(FEEDBACK.c.created_at < cutoff)).rowcount
        return gone

    # --- feedback ------------------------------------------------------------------------------

    def add_feedback(self, *, kind: str, helpful: bool, question: str, comment: str | None = None,
                     coverage: str | None = None, citations: Sequence[str] = (), at: datetime | None = None) -> int:
        """Store one "was this helpful?" with its question and comment redacted; its id."""
        self.enforce_retention()
        with self._connect() as db:
            row = db.execute(FEEDBACK.insert().values(
                created_at=(at or self.clock()).isoformat(), kind=kind, helpful=int(helpful),
                comment=redact(comment) if comment else None, question=redact(question), coverage=coverage,
                citations=json.dumps(list(citations))).returning(FEEDBACK.c.id)).scalar_one()
            return int(row)

    def feedback(self, limit: int = 500) -> list[dict[str, Any]]:
        with self._connect() as db:
            rows = db.execute(FEEDBACK.select().order_by(FEEDBACK.c.id.desc()).limit(limit)).mappings().all()
        return [{**dict(row), "helpful": bool(row["helpful"]), "citations": json.loads(row["citations"])}
                for row in rows]

    # --- recorded questions (insight) ----------------------------------------------------------

    def record_question(self, question: str, outcome: str, themes: Sequence[str], at: datetime | None = None) -> None:
        """Store a question, redacted, with its outcome and themes."""
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}")
        self.enforce_retention()
        with self._connect() as db:
            db.execute(QUESTIONS.insert().values(created_at=(at or self.clock()).isoformat(),
                                                 question=redact(question), outcome=outcome,
                                                 themes=json.dumps(sorted(set(themes)))))

    def questions_by_theme_and_month(self) -> list[dict[str, Any]]:
        """How many questions each theme had each month, with how many were not answered directly (counted
        here rather than in SQL, the same on every database; the rows are those within the retention limit)."""
        with self._connect() as db:
            rows = db.execute(sa.select(QUESTIONS.c.created_at, QUESTIONS.c.outcome, QUESTIONS.c.themes)).all()
        counts: dict[tuple[str, str], list[int]] = {}
        for created_at, outcome, themes in rows:
            for theme in json.loads(themes) or ["(no theme)"]:
                tally = counts.setdefault((created_at[:7], theme), [0, 0])
                tally[0] += 1
                tally[1] += outcome != "direct"
        ordered = sorted(counts.items(), key=lambda item: (item[0][0], -item[1][0], item[0][1]))
        ordered.sort(key=lambda item: item[0][0], reverse=True)  # newest month first, stable within it
        return [{"month": month, "theme": theme, "questions": questions, "not_covered": not_covered}
                for (month, theme), (questions, not_covered) in ordered]

    def library_gaps(self, limit: int = 50) -> list[dict[str, Any]]:
        """The most frequent questions the library could not answer directly: what to commission."""
        question = sa.func.lower(sa.func.trim(QUESTIONS.c.question)).label("question")
        times = sa.func.count().label("times")
        last_asked = sa.func.max(QUESTIONS.c.created_at).label("last_asked")
        related = sa.func.sum(sa.case((QUESTIONS.c.outcome == "related", 1), else_=0)).label("related")
        statement = (sa.select(question, times, last_asked, related).where(QUESTIONS.c.outcome != "direct")
                     .group_by(question).order_by(times.desc(), last_asked.desc()).limit(limit))
        with self._connect() as db:
            return [dict(row) for row in db.execute(statement).mappings().all()]

    def questions_csv(self) -> str:
        """Every recorded question (already redacted) as CSV: time, question, outcome, themes."""
        with self._connect() as db:
            rows = db.execute(sa.select(QUESTIONS.c.created_at, QUESTIONS.c.question, QUESTIONS.c.outcome,
                                        QUESTIONS.c.themes).order_by(QUESTIONS.c.id)).all()
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["asked_at", "question", "outcome", "themes"])
        for created_at, question, outcome, themes in rows:
            writer.writerow([created_at, safe_cell(question), outcome, "; ".join(json.loads(themes))])
        return out.getvalue()

    # --- audit trail -----------------------------------------------------------------------------

    def audit(self, *entries: AuditEntry, at: datetime | None = None) -> None:
        if not entries:
            return
        stamp = (at or self.clock()).isoformat()
        with self._connect() as db:
            db.execute(AUDIT.insert(), [{"created_at": stamp, "actor": e.actor, "address": e.address,
                                         "action": e.action, "target": e.target, "detail": e.detail}
                                        for e in entries])

    def audit_trail(self, limit: int = 500) -> list[dict[str, Any]]:
        with self._connect() as db:
            rows = db.execute(AUDIT.select().order_by(AUDIT.c.id.desc()).limit(limit)).mappings().all()
        return [dict(row) for row in rows]
