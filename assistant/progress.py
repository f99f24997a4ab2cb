"""How long work shows its progress: a callable given the items, their number and a label, which yields the
items (the command line's shows a bar or log lines; the default shows nothing)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

T = TypeVar("T")
Progress = Callable[[Iterable[T], int, str], Iterable[T]]


def no_progress(items: Iterable[T], total: int, label: str) -> Iterable[T]:
    return items
