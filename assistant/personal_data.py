"""Personal data in what practitioners type: found, redacted before anything is stored, and warned about.

The patterns are written in the common subset of Python's and JavaScript's regular expressions: the chat
page receives them (`browser_rules`) and checks a question before sending it, with the same rule the
server applies (`identifies_someone`). Review pseudonyms ("Child Q", "Child LW") are not names.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from .text import visible_text

WARNING = ("This assistant answers from published reviews; please don't enter details that identify a child "
           "or family. Remove them and ask again.")

_MONTHS = ("January|February|March|April|May|June|July|August|September|October|November|December|"
           "Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec")
_DAY = r"(?:0?[1-9]|[12]\d|3[01])"
_NUMERIC_DATE = rf"{_DAY}[/.-](?:0?[1-9]|1[0-2])[/.-](?:19|20)?\d\d"
_WORDED_DATE = rf"{_DAY}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{_MONTHS})\.?,?\s+(?:19|20)\d\d"
_ISO_DATE = r"(?:19|20)\d\d-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])"
_DATE = rf"\b(?:{_NUMERIC_DATE}|{_WORDED_DATE}|{_ISO_DATE})\b"
# Words that follow "Child" or "Baby" in the field's own vocabulary, never a name.
_NOT_NAMES = ("Protection|Safeguarding|Practice|Sexual|Criminal|Death|Deaths|Exploitation|Abuse|Care|Mental|"
              "Health|Poverty|Development|Trafficking|Neglect|Panel|Review|Reviews|Services|Social|Looked|"
              "Friendly|Centred|Focused|Bonds|Box|Boxes|Clinic|Unit|Monitor|Monitors|Bank|Banks|Minding")
_HONORIFIC = r"\b(?:Mr|Mrs|Ms|Miss|Mx|Dr|Child|Baby|baby)\.?\s+"
_BIRTH_LABEL = r"(?:DOB|dob|D\.O\.B|d\.o\.b|born|date of birth)\b"
# Grace, O'Neill, Clarke-Davies, Maisie-Rose (not "A's": a pseudonym's possessive)
_NAME_WORD = r"[A-Z](?:[a-z]|['\u2019][A-Z])(?:[a-z'\u2019]|-[A-Z])*"
_STREET = ("Road|Rd|Street|St|Lane|Avenue|Ave|Close|Drive|Grove|Way|Court|Crescent|Place|Gardens|Terrace|Walk|"
           "Rise|Hill|Row|Square|Mews|Park|View|Green|Parade|Vale|Mount|Approach|Boulevard|Chase|Croft|Fold|Gate|"
           "Meadows?|Path|Quay|Wharf|Yard|Heights|Cottages|Walkway")


@dataclass(frozen=True)
class Pattern:
    kind: str  # what the match is, as redacted: "[NHS number]"
    label: str  # how it is described in a warning and in the redacted text
    source: str  # JavaScript-compatible
    ignore_case: bool = False
    group: int = 0  # the part to redact: the whole match, or (for names) the name after the honorific
    strong: bool = True  # identifies someone on its own; a weak match warns only with another weak one

    @property
    def compiled(self) -> re.Pattern[str]:
        return re.compile(self.source, re.IGNORECASE if self.ignore_case else 0)


# In priority order: where two overlap, the earlier one wins.
PATTERNS: tuple[Pattern, ...] = (
    Pattern("email", "email address", r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"),
    Pattern("ni_number", "National Insurance number",
            r"\b[A-Z]{2}[\s-]?\d{2}[\s-]?\d{2}[\s-]?\d{2}[\s-]?[A-D]\b", True),
    Pattern("phone", "phone number",
            r"(?:\+44\s?(?:\(0\)\s?)?|\(0|\b0)\d{2,4}\)?[\s-]?\d{3,4}[\s-]?\d{3,4}(?![\d])"),
    Pattern("nhs_number", "NHS number", r"\b[1-9](?:[\s./-]?\d){9}\b"),
    Pattern("postcode", "postcode", r"\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b", True),
    Pattern("date_of_birth", "date of birth",
            rf"\b(?:DOB|D\.O\.B\.?|date\s+of\s+birth|born(?:\s+on)?)\s*:?\s*{_DATE}", True, strong=False),
    Pattern("address", "address",
            rf"\b(?:Flat\s+\d+[A-Za-z]?,?\s+)?\d{{1,4}}[A-Za-z]?,?\s+(?:[A-Z][a-z]+\s+){{1,3}}(?:{_STREET})\b"),
    Pattern("address", "address", r"\b(?:lives|living|staying|stays|moved|resides)\s+(?:at|to|in)\s+"
            r"(\d{1,4}[a-z]?,?\s+[a-z]+(?:\s+[a-z]+){0,3})", True, group=1),
    Pattern("full_name", "name", rf"{_HONORIFIC}(?!(?:{_NOT_NAMES})\b)({_NAME_WORD}\s+{_NAME_WORD})", group=1),
    Pattern("full_name", "name", rf"\b({_NAME_WORD}(?:\s+{_NAME_WORD})+)(?=,?\s*\(?\s*{_BIRTH_LABEL})", group=1),
    Pattern("date", "date", _DATE, True, strong=False),
    Pattern("name", "name", rf"{_HONORIFIC}(?!(?:{_NOT_NAMES})\b)({_NAME_WORD})", group=1, strong=False),
)
_COMPILED = tuple((pattern, pattern.compiled) for pattern in PATTERNS)


@dataclass(frozen=True)
class Found:
    pattern: Pattern
    start: int
    end: int


def normalise(text: str) -> str:
    """The text as it is checked and stored: compatibility forms folded (full-width digits are digits),
    invisible characters removed, runs of spaces made one."""
    return visible_text(unicodedata.normalize("NFKC", text))


def find_personal_data(text: str) -> list[Found]:
    """Every identifier in the (normalised) text, without overlaps: the higher-priority pattern keeps a
    contested span."""
    taken: list[Found] = []
    for pattern, compiled in _COMPILED:
        for match in compiled.finditer(text):
            start, end = match.span(pattern.group)
            if not any(start < other.end and other.start < end for other in taken):
                taken.append(Found(pattern, start, end))
    return sorted(taken, key=lambda found: found.start)


def redact(text: str) -> str:
    """The text, normalised, with each identifier replaced by what it was: 'Mrs [name], DOB [date of birth]'."""
    text = normalise(text)
    for found in reversed(find_personal_data(text)):
        text = text[:found.start] + f"[{found.pattern.label}]" + text[found.end:]
    return text


def identifying_kinds(text: str) -> list[str]:
    """What makes the text identify a child or family, described for a warning; empty when it does not.

    Any strong identifier does (an NHS or National Insurance number, a phone number, an email, an address
    or postcode, a full name after Child/Baby/Mr/Mrs); weak ones (a single name, a date or date of birth)
    only together: two names, or a name and a date.
    """
    found = [f.pattern for f in find_personal_data(normalise(text))]
    names = sum(pattern.kind == "name" for pattern in found)
    dates = sum(pattern.kind in ("date", "date_of_birth") for pattern in found)
    warns = any(pattern.strong for pattern in found) or names >= 2 or (names > 0 and dates > 0)
    return list(dict.fromkeys(pattern.label for pattern in found)) if warns else []


def identifies_someone(text: str) -> bool:
    return bool(identifying_kinds(text))


def browser_rules() -> dict[str, Any]:
    """The patterns for the chat page's own check, which applies the rule of `identifying_kinds`."""
    return {"warning": WARNING,
            "patterns": [{"kind": p.kind, "label": p.label, "source": p.source,
                          "flags": "gi" if p.ignore_case else "g", "strong": p.strong} for p in PATTERNS]}
