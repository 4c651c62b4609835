"""What a cached statement builder (``app.infra.statements.cached_statement``) saves: each builder timed both ways.

For every registered builder, with the arguments the app calls it with: building the statement and generating its
SQLAlchemy cache key (what a request pays when it builds its own statement: SQLAlchemy walks a fresh statement to
find its compiled form), against the cached statement's key (memoized on the object). Best of ``--repeat`` rounds of
``--number`` calls, in microseconds per call. Then the sum for one gate decision: the arrival builds three of the
gate's statements and the weighbridge decision one (both requests also run the sign-in check, and the decision the
notice recipients' statement, listed too).

No database is needed: nothing is executed. Run from the repository root with the venv's Python::

    .venv/bin/python scripts/bench_statements.py
"""

from __future__ import annotations

import argparse
import sys
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy.orm import configure_mappers

import app.models  # noqa: F401  (every mapper, as the app has them)
from app.auth import service as auth  # noqa: F401  (registers the sign-in check's builders)
from app.gates import arrival, decision, passage  # noqa: F401  (registers the gate builders)
from app.infra.statements import BUILDERS
from app.notices import service as notices  # noqa: F401  (registers the recipients' builder)
from app.users.models import Role

# The arguments each builder is called with; a builder not named here takes none.
CALLS: dict[str, list[tuple[object, ...]]] = {
    "_live_pass_by": [("plate",), ("ic_no",)],
    "_vehicle_by": [("plate",)],
    "_recipients_statement": [(frozenset({Role.DECLARANT}),)],
}
# What the gate's own statements of one arrival plus weighbridge decision build (a vehicle with a live pass, read by
# plate); each request also runs the sign-in check, and the decision the recipients' statement.
DECISION = ["_gate_with_open_lanes_statement", "_live_pass_by('plate',)", "_open_passage_statement",
            "_locked_passage_with_pass"]  # fmt: skip


def per_call_us(function, number: int, repeat: int) -> float:
    return min(timeit.repeat(function, number=number, repeat=repeat)) / number * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--number", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=7)
    options = parser.parse_args()
    configure_mappers()
    built: dict[str, float] = {}
    print(f"{'builder':62s} {'built, µs':>10s} {'cached, µs':>11s}")
    for builder in BUILDERS:
        for args in CALLS.get(builder.__name__, [()]):
            name = f"{builder.__name__}{args!r}" if args else builder.__name__
            raw = builder.__wrapped__  # type: ignore[attr-defined]
            built[name] = per_call_us(lambda: raw(*args)._generate_cache_key(), options.number, options.repeat)  # noqa: B023
            cached = per_call_us(lambda: builder(*args)._generate_cache_key(), options.number, options.repeat)  # noqa: B023
            print(f"{name:62s} {built[name]:10.1f} {cached:11.2f}")
    print(f"one decision (arrival + weight) builds per request: {sum(built[name] for name in DECISION):.0f} µs")


if __name__ == "__main__":
    main()
