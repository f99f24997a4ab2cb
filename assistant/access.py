"""Who is asking and what they may read: restricted reviews are seen only by their groups and by admins.

A review's sidecar may say `access = ["lscp-board", "review-panel"]` (those groups) or
`access = "restricted"` (admins only); without it the review is public. The web edge works out the
`Reader` of each request (see auth.py); the command line reads as the operator, who sees everything.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

RESTRICTED = "restricted"


@dataclass(frozen=True)
class Reader:
    """The person a request is answered for."""

    name: str | None = None  # None: nobody signed in (an open, single-machine install)
    groups: frozenset[str] = frozenset()
    is_admin: bool = False

    def may_read(self, access: frozenset[str] | None) -> bool:
        """Whether a review with this access (None: public; a set of groups, empty for admins only) is visible."""
        return access is None or self.is_admin or bool(access & self.groups)


ANONYMOUS = Reader()
OPERATOR = Reader(name="operator", is_admin=True)  # the command line: whoever can read the index files


def parse_access(value: object, source: str) -> tuple[str, ...] | None:
    """A sidecar's `access` value as the groups allowed (empty: admins only), or None for public.

    Raises ValueError with a message naming `source` when the value is neither a list of group names nor
    "restricted" / "public".
    """
    if value is None or value == "public":
        return None
    if value == RESTRICTED:
        return ()
    if isinstance(value, list) and value and all(isinstance(group, str) and group.strip() for group in value):
        return tuple(sorted({group.strip() for group in value}))
    raise ValueError(f'{source}: access must be a list of group names, "restricted" or "public"')


GROUP_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._@-]{0,99}$")


def access_from_form(value: str | None) -> tuple[str, ...] | None:
    """An admin's choice on the upload form: "public", "restricted" (admins only) or "group-a, group-b"."""
    text = (value or "public").strip()
    if text.lower() in ("public", ""):
        return None
    if text.lower() == RESTRICTED:
        return ()
    groups = tuple(sorted(groups_from_header(text)))
    if not groups:
        raise ValueError(f"{text!r} names no group")
    if {"public", RESTRICTED} & {group.lower() for group in groups}:
        raise ValueError('"public" and "restricted" stand alone, not among group names')
    bad = [group for group in groups if not GROUP_NAME.match(group)]
    if bad:
        raise ValueError(f"{bad[0]!r} is not a group name (letters, digits, spaces and . _ @ - only)")
    return groups


def access_to_json(access: tuple[str, ...] | None) -> str | None:
    return None if access is None else json.dumps(list(access))


def access_from_json(stored: str | None) -> frozenset[str] | None:
    return None if stored is None else frozenset(json.loads(stored))


def hidden_from(reader: Reader, restricted: Mapping[str, frozenset[str]]) -> frozenset[str]:
    """The ids of the restricted reviews this reader may not see (`restricted`: doc id -> groups)."""
    return frozenset(doc_id for doc_id, groups in restricted.items() if not reader.may_read(groups))


def groups_from_header(value: str | None) -> frozenset[str]:
    """'lscp-board, review-panel' -> {'lscp-board', 'review-panel'}."""
    return frozenset(part.strip() for part in (value or "").split(",") if part.strip())

