"""Text handling shared by loaders, chunking, retrieval and answers: sentences, list markers, line joining,
words and slugs. One pattern for each, so every layer agrees on what a sentence or a list item is."""

from __future__ import annotations

import functools
import re
import unicodedata

_ABBREVIATIONS = {"e.g", "i.e", "etc", "mr", "mrs", "ms", "dr", "no", "pp", "vs", "cf", "st", "approx", "para"}
_SENTENCE_BREAK = re.compile(r"([.!?][\"”’)]?)\s+(?=[\"“‘(]?[A-Z0-9])")
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’&/-]*")


def word_count(text: str) -> int:
    return len(text.split())


def words(text: str) -> list[str]:
    return _WORD.findall(text)


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence in `text`; list lines and line breaks also end a sentence."""
    spans: list[tuple[int, int]] = []
    for line_match in re.finditer(r"[^\n]+", text):
        line, base = line_match.group(0), line_match.start()
        start = 0
        for match in _SENTENCE_BREAK.finditer(line):
            end = match.end(1)
            before = line[start:match.start(1)].rsplit(None, 1)
            last_word = before[-1].lower().rstrip(".") if before else ""
            if last_word in _ABBREVIATIONS or (len(last_word) == 1 and last_word.isalpha()):
                continue
            _add_span(spans, line, base, start, end)
            start = match.end()
        _add_span(spans, line, base, start, len(line))
    return spans


def _add_span(spans: list[tuple[int, int]], line: str, base: int, start: int, end: int) -> None:
    piece = line[start:end]
    stripped_left = len(piece) - len(piece.lstrip())
    stripped_right = len(piece.rstrip())
    if piece.strip():
        spans.append((base + start + stripped_left, base + start + stripped_right))


_SUFFIXES = ("ational", "ations", "ation", "ments", "ment", "ness", "ings", "ing", "ies", "ied", "ers", "ed",
             "es", "er", "ly", "s")


@functools.lru_cache(maxsize=65536)  # the same words come back passage after passage
def stem(word: str) -> str:
    """A crude suffix-stripping stem, enough to match 'engage', 'engaging' and 'engagement'."""
    word = word.lower().strip("'’")
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            word = word[: -len(suffix)]
            break
    return word.rstrip("e") if len(word) > 4 else word


# A list item's marker: a bullet symbol, '3.', '3)', 'a.', 'a)' or '(a)', followed by a space.
LIST_MARKER = re.compile(r"^\s*(?:[-*•●▪◦–]|\d{1,2}[.)]|\(?[a-z][.)])\s+")
# A line that ends a clause: a full stop, question or exclamation mark, colon, semicolon or closing quote.
CLAUSE_END = re.compile(r"[.!?:;\"”’)]\s*$")
# A whole sentence ends with a full stop, question or exclamation mark (and perhaps closing quotes).
SENTENCE_END = re.compile(r"[.!?][\"”’)]*$")


# A line that is only a page number: '12', 'Page 3', 'page 3 of 9'.
PAGE_FURNITURE = re.compile(r"^\s*(page\s+)?\d{1,4}(\s+of\s+\d{1,4})?\s*$", re.IGNORECASE)
# A protective marking printed on government documents (Government Security Classifications), with its caveat.
PROTECTIVE_MARKING = re.compile(
    r"(?<![\w-])(?:OFFICIAL(?:[- ]SENSITIVE)?|SECRET|TOP SECRET|RESTRICTED|PROTECT|NOT PROTECTIVELY MARKED)"
    r"(?:\s*[-–:]\s*(?:PERSONAL|COMMERCIAL|LOCSEN|PERSONAL DATA))?(?![\w-])")


# A review's own paragraph number in front of a paragraph: '4.13 ', '5.2.1 ', 'A2. '.
PARAGRAPH_NUMBER = re.compile(r"^\s*[A-Z]?\d{1,3}(?:\.\d{1,3})+\.?\s+|^\s*[A-Z]\d{1,3}\.\s+")


def paragraph_number(text: str) -> str | None:
    """The review's own number at the start of a paragraph ('5.12', '5.12.3', 'A2'), if it has one."""
    match = PARAGRAPH_NUMBER.match(text)
    return match.group(0).strip().rstrip(".") if match else None


def paragraph_span(numbers: list[str | None]) -> str | None:
    """'5.12' for one paragraph, '5.12-5.14' for a passage running over several; None when unnumbered."""
    known = [number for number in numbers if number]
    if not known:
        return None
    return known[0] if known[0] == known[-1] else f"{known[0]}-{known[-1]}"


def strip_paragraph_number(sentence: str) -> str:
    """A sentence without the paragraph number or list marker in front of it (for quoting)."""
    return strip_list_marker(PARAGRAPH_NUMBER.sub("", sentence.strip(), count=1))


def strip_list_marker(sentence: str) -> str:
    """A list item's text without its '-', '•', '3.' or '(a)' in front."""
    return LIST_MARKER.sub("", sentence.strip(), count=1)


def ends_clause(line: str) -> bool:
    return CLAUSE_END.search(line) is not None


def ends_sentence(text: str) -> bool:
    return SENTENCE_END.search(text) is not None


def join_lines(left: str, right: str) -> str:
    """Join a line broken inside a paragraph; a word hyphenated across the break is made whole."""
    if left.endswith("-") and right[:1].islower():
        return left[:-1] + right
    return f"{left} {right}"


def slug(text: str, *, max_chars: int = 200, default: str = "document") -> str:
    """Lower-case letters and digits joined by hyphens: safe in URLs and file names."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:max_chars].strip("-") or default


def describe_size(size: int) -> str:
    """'50 MB', '64 KB': a size as a person reads it."""
    return f"{size / (1024 * 1024):.0f} MB" if size >= 1024 * 1024 else f"{size / 1024:.0f} KB"


def visible_text(text: str) -> str:
    """The text without invisible and control characters (zero-width spaces, soft hyphens, bidi marks),
    its runs of spaces and line breaks made one space."""
    kept = "".join(char for char in text if unicodedata.category(char) not in ("Cf", "Cc", "Cs") or char in "\n\t")
    return " ".join(kept.split())


def is_valid_unicode(text: str) -> bool:
    """False for text holding lone surrogates (which JSON can carry but UTF-8 cannot)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
