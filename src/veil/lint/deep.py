"""Run a function on a thread with a deep stack, for SQL nested hundreds of levels deep.

A 1,001-branch `UNION ALL` or subqueries nested 400 deep are valid SQL, and
sqlglot's parser, scoping and copying recurse once (or a few times) per
level: past Python's default limit of 1,000 frames they raise RecursionError.
`deeply(f, ...)` runs `f` on a fresh thread with a 512 MiB stack and a
recursion limit of 200,000 frames (restored afterwards), and returns its
result or raises its exception. The engine tries the ordinary call first and
goes deep only when it hit the limit, so ordinary files pay nothing.

>>> def depth(n):
...     return 0 if n == 0 else 1 + depth(n - 1)
>>> deeply(depth, 20_000)
20000
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
STACK_BYTES = 512 * 1024 * 1024
RECURSION_LIMIT = 200_000
_lock = threading.Lock()


def deeply(function: Callable[..., T], *args: object) -> T:
    """`function(*args)` on a deep-stack thread (one at a time: the limits are process-wide)."""
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["value"] = function(*args)
        except BaseException as exc:  # noqa: BLE001 - handed back to the caller's thread
            outcome["error"] = exc

    with _lock:
        previous_stack, previous_limit = threading.stack_size(), sys.getrecursionlimit()
        threading.stack_size(STACK_BYTES)
        sys.setrecursionlimit(max(previous_limit, RECURSION_LIMIT))
        try:
            worker = threading.Thread(target=run, name="veil-deep-sql")
            worker.start()
            worker.join()
        finally:
            threading.stack_size(previous_stack)
            sys.setrecursionlimit(previous_limit)
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]  # type: ignore[return-value]
