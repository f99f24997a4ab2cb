"""Work run beside a question's encoding.

Encoding one short question keeps about one core busy, and the encoder, like SQLite, releases the GIL while
it works. So the searches and counts that need a question's words but not its vector (the keyword searches,
the word counts the answerability model weighs by) are handed to these threads before the encoding starts,
and collected after it.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

# As many as the questions a worker answers at once that could each hand work over (a worker's SQLite pool
# holds eight connections); more would only queue on the connections.
_THREADS = ThreadPoolExecutor(max_workers=8, thread_name_prefix="beside-encoding")


def beside_encoding(function: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
    """Start `function` on a background thread; `.result()` collects it (raising what it raised)."""
    return _THREADS.submit(function, *args, **kwargs)
