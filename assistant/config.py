"""Settings: every knob in one place, read from ASSISTANT_* environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from .errors import BadRequest, ReadOnlyServer
from .params import (
    DEFAULT_ANSWER,
    DEFAULT_CHUNKING,
    DEFAULT_OCR,
    DEFAULT_RANKING,
    DEFAULT_VECTORS,
    AnswerParams,
    ChunkingParams,
    OcrParams,
    RankingParams,
    VectorParams,
)

PACKAGE_DIR = Path(__file__).resolve().parent  # templates, static files and data ship inside the package
BUNDLED_MODEL = "bundled:all-MiniLM-L6-v2"
ENCODERS = ("auto", "torch", "onnx", "onnx-int8")
ROLES = ("all", "writer", "reader")  # how the model runs; see embedding.load_embedder
DEVICES = ("auto", "cpu", "cuda")
DATA_DIR = PACKAGE_DIR / "data"
DEFAULT_THEMES = DATA_DIR / "themes.json"


def home() -> Path:
    """Where the corpus and the index live unless set one by one: ASSISTANT_HOME, else the current folder."""
    return Path(os.environ.get("ASSISTANT_HOME") or ".").resolve()


def _env(name: str, default: str) -> str:
    return os.environ.get(f"ASSISTANT_{name}", default)


def _number(name: str, default: float, kind: type) -> Any:
    raw = _env(name, str(default))
    try:
        return kind(raw)
    except ValueError:
        raise BadRequest(f"ASSISTANT_{name} must be a number, not {raw!r}") from None


def _choice(name: str, default: str, allowed: tuple[str, ...]) -> str:
    value = _env(name, default).strip().lower()
    if value not in allowed:
        raise BadRequest(f"ASSISTANT_{name} must be one of {', '.join(allowed)}, not {value!r}")
    return value


def _list(name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    """A comma-separated setting: 'a, b' -> ('a', 'b')."""
    raw = os.environ.get(f"ASSISTANT_{name}")
    return default if raw is None else tuple(part.strip() for part in raw.split(",") if part.strip())


@dataclass(frozen=True)
class Settings:
    corpus_dir: Path = Path("corpus")  # under home(): see from_env
    index_dir: Path = Path("index")
    model: str = BUNDLED_MODEL
    # How the model runs: "auto" (a GPU with PyTorch when present, else ONNX Runtime on the CPU, else
    # PyTorch), "torch", "onnx" or "onnx-int8"; the device "auto", "cpu" or "cuda". See embedding.py.
    encoder: str = "auto"
    device: str = "auto"
    model_cache_dir: Path | None = None  # where ONNX exports are kept: ASSISTANT_MODEL_CACHE, else ~/.cache
    host: str = "127.0.0.1"
    port: int = 8000
    templates_dir: Path = PACKAGE_DIR / "web" / "templates"
    static_dir: Path = PACKAGE_DIR / "web" / "static"
    glossary_path: Path = DATA_DIR / "glossary.json"
    themes_path: Path = DEFAULT_THEMES
    # A partnership's own themes (ASSISTANT_THEMES): a JSON file of the same shape, added to the built-in ones.
    local_themes_path: Path | None = None
    max_question_chars: int = 2000
    default_k: int = 5
    max_k: int = 50
    batch_size: int = 32
    keep_versions: int = 2
    workers: int = 1
    # Admin routes (upload, delete) exist only when a token is set.
    admin_token: str | None = None
    # The address people reach the service at, for links in references and exports. Unset, it is
    # http://host:port/ from these settings; the request's own Host header is never trusted for it.
    public_url: str | None = None
    max_upload_bytes: int = 50 * 1024 * 1024
    # The application database (feedback, recorded questions, audit trail): unset, embedded SQLite in data_dir;
    # postgresql://user:password@host/database, one database that several servers share.
    database_url: str | None = None
    # "all" (serves and changes the index), "writer" (the one server that changes a shared index) or "reader"
    # (serves the published index from shared storage, refuses changes with a 409 naming writer_url).
    role: str = "all"
    writer_url: str | None = None
    # All OCR of one uploaded review may take this long (a larger scan is added with `assistant index add`).
    upload_ocr_seconds: float = 120.0
    # Any other request body (a question with its conversation, an export list) is refused past this size.
    max_body_bytes: int = 1024 * 1024
    # Sign-in: "open" (no sign-in; a single-machine install) or "proxy" (identity and groups from headers set
    # by the council's sign-in proxy, accepted only from the trusted proxy addresses; see auth.py).
    auth: str = "open"
    user_header: str = "X-Forwarded-User"
    groups_header: str = "X-Forwarded-Groups"
    trusted_proxies: tuple[str, ...] = ("127.0.0.1", "::1")  # addresses or networks (10.0.0.0/8)
    admin_groups: tuple[str, ...] = ()  # members of these groups are admins, as the token's holder is
    # Feedback, recorded questions and the audit trail: an SQLite file that survives index rebuilds.
    data_dir: Path = Path("appdata")
    record_questions: bool = False  # store each question (redacted) with its outcome, for insight
    retention_days: int = 90  # recorded questions and feedback older than this are deleted
    chunking: ChunkingParams = DEFAULT_CHUNKING
    ranking: RankingParams = DEFAULT_RANKING
    vectors: VectorParams = DEFAULT_VECTORS
    answer: AnswerParams = DEFAULT_ANSWER
    # Scanned PDF pages: the Tesseract program (ASSISTANT_TESSERACT) and resolution (ASSISTANT_OCR_DPI).
    ocr: OcrParams = DEFAULT_OCR

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        """Build settings from the environment; non-None keyword overrides (CLI flags) win."""
        base = cls()
        values: dict[str, object] = {
            "corpus_dir": Path(_env("CORPUS_DIR", str(home() / base.corpus_dir))),
            "index_dir": Path(_env("INDEX_DIR", str(home() / base.index_dir))),
            "model": _env("MODEL", base.model),
            "encoder": _choice("ENCODER", base.encoder, ENCODERS),
            "device": _choice("DEVICE", base.device, DEVICES),
            "host": _env("HOST", base.host),
            "port": _number("PORT", base.port, int),
            "workers": _number("WORKERS", base.workers, int),
            "admin_token": os.environ.get("ASSISTANT_ADMIN_TOKEN") or None,
            "public_url": os.environ.get("ASSISTANT_PUBLIC_URL") or None,
            "max_upload_bytes": _number("MAX_UPLOAD_MB", base.max_upload_bytes // (1024 * 1024), int) * 1024 * 1024,
            "auth": _choice("AUTH", base.auth, ("open", "proxy")),
            "user_header": _env("USER_HEADER", base.user_header),
            "groups_header": _env("GROUPS_HEADER", base.groups_header),
            "trusted_proxies": _list("TRUSTED_PROXIES", base.trusted_proxies),
            "admin_groups": _list("ADMIN_GROUPS", base.admin_groups),
            "data_dir": Path(_env("DATA_DIR", str(home() / base.data_dir))),
            "record_questions": _choice("RECORD_QUESTIONS", "false", ("true", "false", "1", "0", "yes", "no"))
            in ("true", "1", "yes"),
            "retention_days": _number("RETENTION_DAYS", base.retention_days, int),
            "database_url": os.environ.get("ASSISTANT_DATABASE_URL") or None,
            "role": _choice("ROLE", base.role, ROLES),
            "writer_url": os.environ.get("ASSISTANT_WRITER_URL") or None,
            "local_themes_path": Path(os.environ["ASSISTANT_THEMES"]) if os.environ.get("ASSISTANT_THEMES") else None,
        }
        ocr = replace(base.ocr, executable=_env("TESSERACT", base.ocr.executable),
                      dpi=_number("OCR_DPI", base.ocr.dpi, int),
                      max_pdf_pages=_number("MAX_PDF_PAGES", base.ocr.max_pdf_pages, int))
        if not 72 <= ocr.dpi <= 600:
            raise BadRequest(f"ASSISTANT_OCR_DPI must be between 72 and 600, not {ocr.dpi}")
        if ocr.max_pdf_pages < 1:
            raise BadRequest(f"ASSISTANT_MAX_PDF_PAGES must be at least 1, not {ocr.max_pdf_pages}")
        values["upload_ocr_seconds"] = _number("UPLOAD_OCR_SECONDS", base.upload_ocr_seconds, float)
        values["ocr"] = ocr
        names = {f.name for f in fields(cls)}
        for key, value in overrides.items():
            if key not in names:
                raise TypeError(f"unknown setting {key!r}")
            if value is not None:
                values[key] = Path(str(value)) if key.endswith("_dir") else value
        return replace(base, **values)  # type: ignore[arg-type]

    @property
    def themes_files(self) -> tuple[Path, ...]:
        """The built-in themes, then the partnership's own if it has any."""
        return (self.themes_path, *([self.local_themes_path] if self.local_themes_path else []))

    def refuse_changes_if_reader(self) -> None:
        """A reader never changes the index or the corpus: say where changes go instead."""
        if self.role == "reader":
            where = f" at {self.writer_url}" if self.writer_url else " (ASSISTANT_ROLE=writer)"
            raise ReadOnlyServer(f"this server only reads the published index (ASSISTANT_ROLE=reader); "
                                 f"send changes to the writer{where}")

    @property
    def link_base(self) -> str:
        """Where links in references and exports point."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/") + "/"
