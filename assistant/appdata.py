"""The application's own database: feedback, recorded questions (insight) and the audit trail.

It lives apart from the index (`ASSISTANT_DATA_DIR`), so rebuilding the index never touches it. Its
schema is versioned: each migration runs once, in order, and `PRAGMA user_version` says how many have.
Nothing personal goes in: questions and comments are redacted before they are stored (personal_data.py),
and recorded questions and feedback are deleted once older than the retention limit.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from .errors import BadRequest, IndexUnavailable
from .export import safe_cell
from .personal_data import redact

FILE_NAME = "assistant.sqlite3"

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE feedback (
        id INTEGER PRIMARY KEY, created_at TEXT NOT NULL, kind TEXT NOT NULL, helpful INTEGER NOT NULL,
        comment TEXT, question TEXT NOT NULL, coverage TEXT, citations TEXT NOT NULL
    );
    CREATE INDEX feedback_by_time ON feedback (created_at);
    CREATE TABLE questions (
        id INTEGER PRIMARY KEY, created_at TEXT NOT NULL, question TEXT NOT NULL, outcome TEXT NOT NULL,
        themes TEXT NOT NULL
    );
    CREATE INDEX questions_by_time ON questions (created_at);
    CREATE TABLE audit (
        id INTEGER PRIMARY KEY, created_at TEXT NOT NULL, actor TEXT NOT NULL, address TEXT NOT NULL,
        action TEXT NOT NULL, target TEXT NOT NULL, detail TEXT NOT NULL
    );
    """,
)
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
    """Opens a connection per operation: safe from any thread and from several worker processes."""

    def __init__(self, directory: Path, *, retention_days: int = 90, clock: Callable[[], datetime] = now) -> None:
        if retention_days < 1:
            raise BadRequest("ASSISTANT_RETENTION_DAYS must be at least 1")
        self.path = directory / FILE_NAME
        self.retention = timedelta(days=retention_days)
        self.clock = clock
        self._migrated = False

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=10)
        except (OSError, sqlite3.Error) as exc:
            raise IndexUnavailable(f"the application database {self.path} cannot be opened ({exc})") from None
        db.row_factory = sqlite3.Row
        try:
            with db:
                if not self._migrated:
                    self._migrate(db)
                yield db
        except sqlite3.DatabaseError as exc:
            raise IndexUnavailable(f"the application database {self.path} cannot be used ({exc})") from None
        finally:
            db.close()

    def _migrate(self, db: sqlite3.Connection) -> None:
        db.execute("PRAGMA journal_mode=WAL")
        done = int(db.execute("PRAGMA user_version").fetchone()[0])
        if done > len(MIGRATIONS):
            raise IndexUnavailable(f"the application database {self.path} is from a newer version of the assistant")
        for number, script in enumerate(MIGRATIONS[done:], start=done + 1):
            for statement in filter(str.strip, script.split(";")):
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {number}")
        self._migrated = True

    @property
    def schema_version(self) -> int:
        with self._connect() as db:
            return int(db.execute("PRAGMA user_version").fetchone()[0])

    def enforce_retention(self) -> int:
        """Delete recorded questions and feedback past the retention limit; how many rows went."""
        cutoff = (self.clock() - self.retention).isoformat()
        with self._connect() as db:
            gone = db.execute("DELETE FROM questions WHERE created_at < ?", (cutoff,)).rowcount
            gone += db.execute("DELETE FROM feedback WHERE created_at < ?", (cutoff,)).rowcount
        return gone

    # --- feedback ------------------------------------------------------------------------------

    def add_feedback(self, *, kind: str, helpful: bool, question: str, comment: str | None = None,
                     coverage: str | None = None, citations: Sequence[str] = (), at: datetime | None = None) -> int:
        """Store one "was this helpful?" with its question and comment redacted; its id."""
        self.enforce_retention()
        with self._connect() as db:
            cursor = db.execute(
                "INSERT INTO feedback (created_at, kind, helpful, comment, question, coverage, citations) "
                "VALUES (?,?,?,?,?,?,?)",
                ((at or self.clock()).isoformat(), kind, int(helpful), redact(comment) if comment else None,
                 redact(question), coverage, json.dumps(list(citations))))
            return int(cursor.lastrowid or 0)

    def feedback(self, limit: int = 500) -> list[dict[str, Any]]:
        with self._connect() as db:
            rows = db.execute("SELECT * FROM feedback ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [{**dict(row), "helpful": bool(row["helpful"]), "citations": json.loads(row["citations"])}
                for row in rows]

    # --- recorded questions (insight) ----------------------------------------------------------

    def record_question(self, question: str, outcome: str, themes: Sequence[str], at: datetime | None = None) -> None:
        """Store a question, redacted, with its outcome and themes."""
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}")
        self.enforce_retention()
        with self._connect() as db:
            db.execute("INSERT INTO questions (created_at, question, outcome, themes) VALUES (?,?,?,?)",
                       ((at or self.clock()).isoformat(), redact(question), outcome, json.dumps(sorted(set(themes)))))

    def questions_by_theme_and_month(self) -> list[dict[str, Any]]:
        """How many questions each theme had each month, with how many were not answered directly."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT substr(q.created_at, 1, 7) AS month, COALESCE(t.value, '(no theme)') AS theme, "
                "COUNT(*) AS questions, SUM(q.outcome != 'direct') AS not_covered "
                "FROM questions q LEFT JOIN json_each(q.themes) t "
                "GROUP BY month, theme ORDER BY month DESC, questions DESC, theme").fetchall()
        return [dict(row) for row in rows]

    def library_gaps(self, limit: int = 50) -> list[dict[str, Any]]:
        """The most frequent questions the library could not answer directly: what to commission."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT lower(trim(question)) AS question, COUNT(*) AS times, MAX(created_at) AS last_asked, "
                "SUM(outcome = 'related') AS related FROM questions WHERE outcome != 'direct' "
                "GROUP BY lower(trim(question)) ORDER BY times DESC, last_asked DESC LIMIT ?", (limit,)).fetchall()
        return [dict(row) for row in rows]

    def questions_csv(self) -> str:
        """Every recorded question (already redacted) as CSV: time, question, outcome, themes."""
        with self._connect() as db:
            rows = db.execute("SELECT created_at, question, outcome, themes FROM questions ORDER BY id").fetchall()
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["asked_at", "question", "outcome", "themes"])
        for row in rows:
            writer.writerow([row["created_at"], safe_cell(row["question"]), row["outcome"],
                             "; ".join(json.loads(row["themes"]))])
        return out.getvalue()

    # --- audit trail -----------------------------------------------------------------------------

    def audit(self, *entries: AuditEntry, at: datetime | None = None) -> None:
        stamp = (at or self.clock()).isoformat()
        with self._connect() as db:
            db.executemany("INSERT INTO audit (created_at, actor, address, action, target, detail) "
                           "VALUES (?,?,?,?,?,?)",
                           [(stamp, e.actor, e.address, e.action, e.target, e.detail) for e in entries])

    def audit_trail(self, limit: int = 500) -> list[dict[str, Any]]:
        with self._connect() as db:
            rows = db.execute("SELECT * FROM audit ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [dict(row) for row in rows]
