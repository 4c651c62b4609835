"""SQL statements built once per process instead of once per request, for the hot paths that run them.

What it saves, as measured (2026-12-06, the 2-core development VM, `scripts/bench_statements.py`): SQLAlchemy builds
a `select()` with its joins and loader options in Python, then walks the whole tree again for the key of its compiled
form. Per call that costs 40 µs for a one-column lookup up to 0.7 ms for the gate's locking query with its loader
options and open-warning column; the four statements of one gate decision (arrival and weight) 1.2 ms at a load
average near 1, 2.0-2.5 ms with the machine busy (load 11). A cached statement returns the same object with its key
memoized: 0.1 µs. End to end, 480 in-process decisions through the test client, rounds alternated, at load 11:
median 48 ms cached against 63 ms built per request on PostgreSQL, 37 against 46 ms on SQLite. The old comment's half
a millisecond per decision undersold it; the bypass keeps its place on the gate-decision target (p99 20 ms).

What it costs: the statement is built once per process and shared by every request, so it must not capture a
per-request value. Anything that varies goes in as a `bindparam()` and is passed at execution (`session.scalar(
statement, {"pass_id": pass_id})`). The builder's arguments only choose among a few fixed shapes (a column name, a set
of roles): they must be hashable, and every distinct argument tuple stays cached for the life of the process.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

Params = ParamSpec("Params")
Statement = TypeVar("Statement")

# Every cached builder, for scripts/bench_statements.py to time against an uncached build (`builder.__wrapped__`).
BUILDERS: list[Callable[..., object]] = []


def cached_statement(builder: Callable[Params, Statement]) -> Callable[Params, Statement]:
    """Build the statement once per distinct arguments and return that same object on every later call."""
    cached = functools.cache(builder)
    BUILDERS.append(cached)
    return cached  # type: ignore[return-value]  # functools.cache's wrapper keeps the signature
