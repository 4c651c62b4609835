"""Thousands of values in one bind parameter on PostgreSQL: `column = ANY(:array)` for a membership test and
`unnest(:a, :b)` for a table of rows, where SQLAlchemy's portable forms (`IN (...)`, a VALUES list) send one
parameter per value.

What it saves, as measured on the loading benchmark (scripts/bench_loading.py: 10,000 parcels bagged and loaded in
one request): SQLAlchemy compiled the 10,000-parameter IN and the 20,000-parameter VALUES in about 1.4 s of the
request's 4.4 s (profiled), every time, since a statement with a different number of parameters is a different
statement to its cache; with arrays both compile once and are cached. What it gives up: the SQL differs by database.
SQLite has no arrays and keeps the portable forms (a VALUES list as a CTE: SQLite cannot parse
`FROM (VALUES ...) AS t(a, b)`); callers get the same rows on both.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ARRAY, ColumnElement, FromClause, any_, bindparam, column, func, values
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeEngine


def _postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def one_of(session: Session, target: ColumnElement[Any], items: Sequence[Any]) -> ColumnElement[bool]:
    """`target` is one of `items`: `= ANY(:array)` on PostgreSQL, `IN (...)` elsewhere."""
    if _postgresql(session):
        return target == any_(bindparam(None, list(items), type_=ARRAY(target.type)))
    return target.in_(list(items))


def rows_table(
    session: Session, name: str, columns: Sequence[tuple[str, TypeEngine[Any]]], rows: Sequence[Sequence[Any]]
) -> FromClause:
    """A table of `rows` to join a statement to: `unnest(:col1, :col2, ...)` on PostgreSQL, a VALUES CTE elsewhere."""
    if _postgresql(session):
        arrays = [
            bindparam(None, [row[index] for row in rows], type_=ARRAY(kind)) for index, (_, kind) in enumerate(columns)
        ]
        return func.unnest(*arrays).table_valued(*(label for label, _ in columns)).render_derived(name=name)
    listed = values(*(column(label, kind) for label, kind in columns), name=f"{name}_rows").data(list(rows))
    return listed.cte(name)
