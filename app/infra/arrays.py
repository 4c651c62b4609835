"""Thousands of values in one bind parameter on PostgreSQL: `column = ANY(:array)` for a membership test and
`unnest(:a, :b)` for a table of rows, where SQLAlchemy's portable forms (`IN (...)`, a VALUES list) send one
parameter per value.

What it saves, as measured on the loading benchmark (scripts/bench_loading.py: 10,000 parcels bagged and loaded in
one request): SQLAlchemy compiled the 10,000-parameter IN and the 20,000-parameter VALUES in about 1.4 s of the
request's 4.4 s (profiled), every time, since a statement with a different number of parameters is a different
statement to its cache; with arrays both compile once and are cached. What it gives up: the SQL differs by database.
SQLite has no arrays and keeps the portable forms (a VALUES list as a CTE: SQLite cannot parse
`FROM (VALUES ...) AS t(a, b)`); callers get the same rows on both.

`insert_rows` does the same for a multi-row INSERT that returns something. SQLAlchemy sends one (an "insertmanyvalues"
batch) as a VALUES clause with a parameter per cell, whose text changes with the number of rows; psycopg converts a
statement over 4,096 characters or 50 parameters afresh each time, a regular expression over the whole text and a
Python step per placeholder (psycopg/_queries.py). A customs document of 100 receipts inserts ~200 notices and 100
receipts that way: 22 ms of conversion for 200 notice rows alone, and, in-process, a quarter of the document's CPU
went to such conversions (2026-12-07, scripts/bench_receipts_cost.py). As `unnest` of one array per column the
statement's text is the same for any number of rows, and psycopg and SQLAlchemy convert and compile it once. What it
gives up beyond the above: RETURNING gives the rows back in no promised order, so a caller that needs a row's new key
matches it by a unique value it supplied itself (a notice's notice_id, a receipt's fingerprint).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ARRAY, ColumnElement, FromClause, Insert, Row, Table, any_, bindparam, cast, column, func, select
from sqlalchemy import values as values_list
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeEngine

from app.infra.statements import cached_statement


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
    listed = values_list(*(column(label, kind) for label, kind in columns), name=f"{name}_rows").data(list(rows))
    return listed.cte(name)


def insert_rows(
    session: Session,
    table: Table,
    rows: Sequence[dict[str, Any]],
    *,
    returning: Sequence[str],
    skip_conflicts_on: str | None = None,
) -> list[Row[Any]]:
    """INSERT `rows` (each naming the same columns) and return the `returning` columns of the rows inserted.

    `skip_conflicts_on`: a uniquely indexed column; a row whose value is already taken is left out (ON CONFLICT DO
    NOTHING) and returns nothing. The rows come back in no promised order (see the module's docstring). Columns a
    row does not name take the table's defaults: a client-side default is filled in here, for every row alike.
    """
    if not rows:
        return []
    names = tuple(rows[0])
    missing = tuple(c.name for c in table.columns if c.name not in names and c.default is not None)
    if missing:
        rows = [{**row, **{name: _default(table.c[name]) for name in missing}} for row in rows]
        names += missing
    if session.get_bind().dialect.name == "postgresql":
        statement = _unnest_insert(table, names, tuple(returning), skip_conflicts_on)
        return list(session.execute(statement, {f"rows_{name}": [row[name] for row in rows] for name in names}))
    statement = sqlite.insert(table)
    if skip_conflicts_on is not None:
        statement = statement.on_conflict_do_nothing(index_elements=[skip_conflicts_on])
    return list(session.execute(statement.returning(*(table.c[name] for name in returning)), list(rows)))


def _default(target: Any) -> Any:
    default = target.default
    return default.arg if default.is_scalar else default.arg(None)


@cached_statement
def _unnest_insert(table: Table, names: tuple[str, ...], returning: tuple[str, ...], conflict: str | None) -> Insert:
    # One array per column, each typed as its column so SQLAlchemy processes every value as it would a single one.
    arrays = [bindparam(f"rows_{name}", type_=ARRAY(table.c[name].type)) for name in names]
    unnested = func.unnest(*arrays).table_valued(*names, with_ordinality="row_number").render_derived(name="new_rows")
    # In the rows' order, so ids from a sequence follow it as they would in a VALUES list.
    source = select(*(cast(unnested.c[name], table.c[name].type) for name in names)).order_by(unnested.c.row_number)
    statement = postgresql.insert(table).from_select(list(names), source)
    if conflict is not None:
        statement = statement.on_conflict_do_nothing(index_elements=[conflict])
    return statement.returning(*(table.c[name] for name in returning))
