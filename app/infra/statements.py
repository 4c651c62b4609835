"""SQL statements built once per process instead of once per request, for the hot paths that run them.

What it saves, as measured: SQLAlchemy builds a `select()` with its joins and loader options in Python, then walks
the whole tree again to find the compiled form in its cache. Built per call, the gate's statements cost
FIGURES_PENDING. A builder decorated here is called once per distinct argument tuple; later calls return the same
statement object, whose cache key SQLAlchemy memoizes on it, so both costs vanish (under a microsecond).
`scripts/bench_statements.py` times every registered builder both ways.

What it costs: the statement is shared by every request of the process. It must not capture a per-request value:
anything that varies goes in as a `bindparam()` and is passed at execution (`session.scalar(statement, {"pass_id":
...})`). The builder's arguments choose among a few fixed shapes (a column name, a set of roles); they must be
hashable, and every distinct tuple stays cached for the life of the process.
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
