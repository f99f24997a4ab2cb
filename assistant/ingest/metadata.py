"""Metadata: read from the sidecar file a person edits, else extracted from the text itself."""

from __future__ import annotations

import re
import tomllib
from collections import Counter
from pathlib import Path

from ..access import parse_access
from ..errors import DocumentUnreadable
from ..models import DocumentMeta

SIDECAR_SUFFIX = ".meta.toml"

_MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
_DATED_YEAR = re.compile(rf"\b(?:{_MONTHS})\s+((?:19|20)\d\d)\b")
_YEAR = re.compile(r"\b((?:19|20)\d\d)\b")
_PARTNERSHIP = re.compile(
    r"\b((?:[A-Z][A-Za-z'-]+\s+(?:(?:and|&)\s+)?){1,5}?)"
    r"(?:Local\s+)?Safeguarding\s+(?:Children(?:'s)?\s+|Children\s+and\s+Young\s+People\s+)?(Board|Partnership)s?\b"
)
_AREA_STOPWORDS = {"The", "A", "An", "Local", "National", "Of", "Both", "And", "This", "Our", "By", "From"}
_REVIEW_TYPES = [
    (re.compile(r"child safeguarding practice review|\bCSPR\b", re.I), "Child safeguarding practice review"),
    (re.compile(r"serious case review|\bSCR\b"), "Serious case review"),
    (re.compile(r"7[- ]minute briefing|7[- ]point briefing", re.I), "7-minute briefing"),
    (re.compile(r"thematic", re.I), "Thematic review"),
    (re.compile(r"rapid review", re.I), "Rapid review"),
    (re.compile(r"domestic homicide review|\bDHR\b"), "Domestic homicide review"),
    (re.compile(r"learning review", re.I), "Learning review"),
]


def sidecar_path(document_path: Path) -> Path:
    return document_path.with_name(document_path.stem + SIDECAR_SUFFIX)


def read_sidecar(document_path: Path) -> dict[str, object]:
    path = sidecar_path(document_path)
    if not path.exists():
        return {}
    try:
        values = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise DocumentUnreadable(f"{path.name}: the metadata file is not valid TOML ({exc})") from None
    known = {"title", "area", "partnership", "year", "published", "review_type", "fictional", "access"}
    unknown = set(values) - known
    if unknown:
        raise DocumentUnreadable(f"{path.name}: unknown metadata field(s) {', '.join(sorted(unknown))}")
    if "year" in values and not isinstance(values["year"], int):
        raise DocumentUnreadable(f"{path.name}: year must be a whole number")
    if "fictional" in values and not isinstance(values["fictional"], bool):
        raise DocumentUnreadable(f"{path.name}: fictional must be true or false")
    if "access" in values:
        try:
            values["access"] = parse_access(values["access"], path.name)
        except ValueError as exc:
            raise DocumentUnreadable(str(exc)) from None
    return values


def extract_metadata(text: str, fallback_title: str) -> DocumentMeta:
    """Guess title, year, area and review type from the text of a review that arrived without metadata."""
    title = first_heading(text) or fallback_title
    partnership, area = find_partnership(text)
    return DocumentMeta(
        title=title,
        area=area,
        partnership=partnership,
        year=find_year(text, title),
        review_type=find_review_type(title + "\n" + text[:5000]),
    )


def merged_metadata(document_path: Path, text: str) -> DocumentMeta:
    """Extracted metadata with the sidecar's fields laid over it: the sidecar wins."""
    extracted = extract_metadata(text, fallback_title=document_path.stem.replace("-", " ").replace("_", " "))
    for key, value in read_sidecar(document_path).items():
        if key != "fictional":  # a marker for people (benchmark and test documents), not a reference field
            setattr(extracted, key, value)
    return extracted


def _clean_line(line: str) -> str:
    line = re.sub(r"<[^>]{1,20}>", "", line)
    line = re.sub(r"^#{1,6}\s*", "", line.strip())
    return line.replace("**", "").replace("__", "").strip(" *_:")


def first_heading(text: str) -> str | None:
    """The first markdown heading, else the first short line, as the title."""
    lines = [line for line in text.splitlines() if line.strip()]
    for line in lines[:40]:
        if re.match(r"^\s*#{1,6}\s", line):
            return _clean_line(line) or None
    for line in lines[:5]:
        cleaned = _clean_line(line)
        if 2 <= len(cleaned.split()) <= 25 and not cleaned.startswith(("http", "<")):
            return cleaned.rstrip(".")
    return None


def find_year(text: str, title: str) -> int | None:
    """Year in the title, else the latest 'Month YYYY' date, else the most frequent year."""
    in_title = _YEAR.findall(title)
    if in_title:
        return int(in_title[-1])
    cleaned = re.sub(r"<[^>]{1,20}>", "", text)
    dated = [int(year) for year in _DATED_YEAR.findall(cleaned)]
    if dated:
        return max(dated)
    years = Counter(int(year) for year in _YEAR.findall(cleaned))
    return years.most_common(1)[0][0] if years else None


def find_partnership(text: str) -> tuple[str | None, str | None]:
    """The first safeguarding board or partnership named, and the area it covers."""
    for match in _PARTNERSHIP.finditer(text):
        words = match.group(1).split()
        while words and words[0] in _AREA_STOPWORDS:
            words.pop(0)
        while words and words[-1] in {"and", "&"}:
            words.pop()
        if words:
            area = " ".join(words)
            return " ".join(match.group(0).split()), area
    return None, None


def find_review_type(text: str) -> str | None:
    for pattern, label in _REVIEW_TYPES:
        if pattern.search(text):
            return label
    return None
