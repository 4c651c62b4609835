"""Core statements compiled once per dialect and run straight on the DBAPI connection, with named columns.

What it saves, as measured (instructions per trace lookup, ``scripts/bench_instructions.py --anonymous`` on SQLite
with 10,000 codes, 2026-12-06; the scan writer's share included): 1.20 million with both, 1.80 million with the read
run through SQLAlchemy Core's normal path (``statement_read()``, ``execute``, ``mappings()``: +50%), and 1.23 million
with the writer's batches sent through the session's Connection (+1.4%). The lookup is still short of its 0.6x bare
Flask (docs/benchmarks.md), so both bypasses still earn their place. The X-ray line's pass scan (``PreparedOne``,
with its ``by_itself``; ``scripts/bench_line_cost.py --callgrind --requests 100`` on PostgreSQL, 2026-12-07):
3,276,934 instructions a scan before, 2,575,269 after, together with every route's schema made once and the request
plumbing's proxy reads (the commits of that day say which did what); the line's p99 target is still missed.

What it costs in semantics:

- no statement events (``before_cursor_execute``, so no statement logging or tracing hooks); a write runs in the
  session's transaction, which SQLAlchemy began (taking SQLite's write turn) before the driver sees the rows;
- a read runs outside any transaction (each statement is consistent by itself) unless the session factory is bound
  to a Connection (the tests' rollback fixture), whose transaction it then reads inside;
- values still convert as SQLAlchemy converts them (each parameter and result column through its type's own
  processor), but no ``Row`` objects: a read gives a named tuple whose fields are the statement's column names
  (distinct identifiers, checked when the statement is compiled), read by name, so adding a column cannot shift
  the others;
- DBAPI errors are wrapped as SQLAlchemy's ``DBAPIError`` and a dropped PostgreSQL connection is invalidated, as
  SQLAlchemy does; nothing is retried;
- on SQLite a read (``PreparedRead``) runs on a connection kept for reads beside the pool, not checked out of it:
  the pool's checkout and checkin (its queue and locks, the record and its weakref, the reset-on-return ROLLBACK)
  cost about five times the lookup's own statement (timeit: 68 µs against 10 µs for a ``SELECT 1``). Each is
  connected through the engine (its connect hooks run) and then detached from the pool, so none counts against
  ``pool_size`` and none holds a session's place; one stays per reader that ran at once (one per gevent worker,
  where a read never yields; up to one per thread under threads). ``engine.dispose()`` does not close them (they
  close with the process); one whose read raised is closed and not used again; a forked child drops its parent's.
  Measured on the realistic mix: see the commit that made it.
"""

from __future__ import annotations

import functools
import os
import weakref
from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, Insert, Select, exc, select
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.orm import Session, sessionmaker


def select_named(columns: Mapping[str, ColumnElement[Any]]) -> Select[Any]:
    """A SELECT of `columns`, each labelled with its name: rows of a PreparedRead are read by these names."""
    return select(*(column.label(name) for name, column in columns.items()))


class PreparedRead:
    """A Core SELECT run straight on a pooled DBAPI connection: its first row (fields named as its columns) or None."""

    def __init__(self, build: Callable[[], Select[Any]]) -> None:
        self._build = build
        self._prepared: dict[str, _Prepared] = {}

    def first(self, sessions: sessionmaker[Session], /, **params: Any) -> Any:
        """The first row for `params`, on the connection `sessions` are bound to (the app's db.session_factory())."""
        bind = sessions.kw["bind"]
        if isinstance(bind, Connection):
            return self._prepare(bind.dialect).run(bind.connection.driver_connection, params)
        prepared = self._prepare(bind.dialect)
        if bind.dialect.name == "sqlite":
            return _sqlite_reads(bind).read(prepared, params)
        pooled = bind.raw_connection()
        try:
            driver = pooled.driver_connection
            # One statement needs no transaction: autocommit spares PostgreSQL a BEGIN and the pool's ROLLBACK.
            driver.autocommit = True
            try:
                return prepared.run(driver, params)
            finally:
                driver.autocommit = False
        except bind.dialect.loaded_dbapi.Error as error:
            if bind.dialect.is_disconnect(error, driver, None):
                pooled.invalidate(error)
            raise exc.DBAPIError.instance(prepared.sql, params, error, bind.dialect.loaded_dbapi.Error) from error
        finally:
            pooled.close()

    def _prepare(self, dialect: Dialect) -> _Prepared:
        prepared = self._prepared.get(dialect.name)
        if prepared is None:
            prepared = self._prepared[dialect.name] = _Prepared(self._build(), dialect)
        return prepared


class _SQLiteReads:
    """DBAPI connections kept for one SQLite engine's prepared reads, beside its pool (see the module docstring).

    A read takes an idle one (or connects, through the engine, so its connect hooks run, and detaches it from the
    pool), runs its statement and puts it back: our SQLite connections are in autocommit (isolation_level None),
    so a statement whose cursor is closed leaves nothing open. A connection whose read raised is closed, not kept.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._idle: list[Any] = []

    def read(self, prepared: _Prepared, params: dict[str, Any]) -> Any:
        try:
            driver = self._idle.pop()  # atomic: each thread (or greenlet) gets a connection of its own
        except IndexError:
            pooled = self._engine.raw_connection()
            driver = pooled.driver_connection
            pooled.detach()  # no longer the pool's: it neither counts against pool_size nor goes back
        dbapi = self._engine.dialect.loaded_dbapi
        try:
            row = prepared.run(driver, params)
        except dbapi.Error as error:
            driver.close()
            raise exc.DBAPIError.instance(prepared.sql, params, error, dbapi.Error) from error
        self._idle.append(driver)
        return row

    def forget(self) -> None:
        """Drop the idle connections without using them (a forked child must not share its parent's)."""
        self._idle = []


_SQLITE_READS: weakref.WeakKeyDictionary[Engine, _SQLiteReads] = weakref.WeakKeyDictionary()


def _sqlite_reads(engine: Engine) -> _SQLiteReads:
    reads = _SQLITE_READS.get(engine)
    if reads is None:
        reads = _SQLITE_READS.setdefault(engine, _SQLiteReads(engine))
    return reads


def _after_fork() -> None:
    for reads in list(_SQLITE_READS.values()):
        reads.forget()


os.register_at_fork(after_in_child=_after_fork)


class PreparedWrite:
    """A Core INSERT (or upsert) of many rows run with the driver's executemany inside the session's transaction.

    `columns` are the keys every row (a dict) has.
    """

    def __init__(self, build: Callable[[Dialect], Insert], *, columns: Sequence[str]) -> None:
        self._build = build
        self._columns = list(columns)
        self._prepared: dict[str, _Prepared] = {}

    def run(self, session: Session, rows: Sequence[dict[str, Any]]) -> None:
        connection = session.connection()
        dialect = connection.dialect
        prepared = self._prepared.get(dialect.name)
        if prepared is None:
            prepared = self._prepared[dialect.name] = _Prepared(self._build(dialect), dialect, columns=self._columns)
        parameters = [prepared.parameters(row) for row in rows]
        cursor = connection.connection.driver_connection.cursor()
        try:
            cursor.executemany(prepared.sql, parameters)
        except dialect.loaded_dbapi.Error as error:
            raise exc.DBAPIError.instance(prepared.sql, parameters[:1], error, dialect.loaded_dbapi.Error) from error
        finally:
            cursor.close()


class PreparedOne:
    """A Core statement (a SELECT, or a write with RETURNING) run on a Connection's DBAPI connection, inside the
    transaction that Connection holds: its first row (fields named as its columns, or its RETURNING columns) or None.

    For a request's hot statements in its own transaction (the X-ray line's scan: the parcel's read, the scan's
    INSERT with the parcel's UPDATE); the costs in semantics are the module's: no statement events, no Row.

    `by_itself`: on PostgreSQL, while the transaction has sent nothing yet (the driver's connection is idle), the
    statement runs in autocommit, a transaction of its own, as a statement alone is atomic and (READ COMMITTED) reads
    its own snapshot either way. That spares the BEGIN and COMMIT round trips (the COMMIT later finds nothing to
    end). Only for a statement whose effect may stand alone: a read, or the request's last and only write. Once the
    transaction has sent anything (a lock, an earlier write), the statement runs inside it as usual.
    """

    def __init__(self, build: Callable[[], Select[Any] | Insert]) -> None:
        self._build = build
        self._prepared: dict[str, _Prepared] = {}

    def first(self, connection: Connection, /, *, by_itself: bool = False, **params: Any) -> Any:
        return self._run(connection, by_itself, params, every=False)

    def all(self, connection: Connection, /, **params: Any) -> list[Any]:
        """Every row, in the transaction the Connection holds: for a write whose RETURNING gives several. Also for a
        statement SQLAlchemy will not cache (its compiled form is then built on every execution), such as a
        multi-row VALUES of bound parameters."""
        return self._run(connection, False, params, every=True)

    def _run(self, connection: Connection, by_itself: bool, params: dict[str, Any], *, every: bool) -> Any:
        dialect = connection.dialect
        prepared = self._prepared.get(dialect.name)
        if prepared is None:
            prepared = self._prepared[dialect.name] = _Prepared(self._build(), dialect)
        driver = connection.connection.driver_connection
        try:
            if by_itself and dialect.name == "postgresql" and driver.info.transaction_status == _IDLE:
                driver.autocommit = True
                try:
                    return prepared.run(driver, params)
                finally:
                    driver.autocommit = False
            return prepared.run_all(driver, params) if every else prepared.run(driver, params)
        except dialect.loaded_dbapi.Error as error:
            wrapped = exc.DBAPIError.instance(prepared.sql, params, error, dialect.loaded_dbapi.Error)
            if dialect.is_disconnect(error, driver, None):
                connection.invalidate(wrapped)
            raise wrapped from error


# psycopg's TransactionStatus.IDLE (no transaction open on the server), without importing the driver here.
_IDLE = 0


class _Prepared:
    def __init__(self, statement: Select[Any] | Insert, dialect: Dialect, *, columns: list[str] | None = None) -> None:
        compiled = statement.compile(dialect=dialect, column_keys=columns)
        self.sql = compiled.string
        # qmark drivers (pysqlite) take the values in order; pyformat ones (psycopg) take them by name.
        self._order = list(compiled.positiontup or ()) if compiled.positional else None
        self._defaults = {name: bind.effective_value for name, bind in compiled.binds.items() if not bind.required}
        self._binds = {
            name: processor
            for name, bind in compiled.binds.items()
            if (processor := bind.type.dialect_impl(dialect).bind_processor(dialect)) is not None
        }
        # A SELECT's columns, or an INSERT's RETURNING ones (none without RETURNING).
        selected = list(statement.selected_columns if isinstance(statement, Select) else statement.exported_columns)
        names = [column.key for column in selected]
        if len(set(names)) != len(names):
            raise ValueError(f"A prepared read needs distinct column names, not {names}.")
        # A named tuple, read by attribute, built in C (tuple.__new__, not the Python-level _make): 0.3 µs a row
        # where a dict took 1.8 µs (timed, 25 columns).
        self._row = functools.partial(tuple.__new__, namedtuple("Row", names))
        # Only the columns whose type converts (times, enums): most come back from the driver as they are.
        self._converters = [
            (index, convert)
            for index, column in enumerate(selected)
            if (convert := column.type.dialect_impl(dialect).result_processor(dialect, None)) is not None
        ]

    def parameters(self, params: dict[str, Any]) -> dict[str, Any] | list[Any]:
        """The statement's parameters as its driver takes them, each converted as its type converts it."""
        values = {**self._defaults, **params}
        for name, processor in self._binds.items():
            values[name] = processor(values[name])
        return values if self._order is None else [values[name] for name in self._order]

    def run_all(self, driver: Any, params: dict[str, Any]) -> list[Any]:
        cursor = driver.cursor()
        try:
            cursor.execute(self.sql, self.parameters(params))
            found = cursor.fetchall()
        finally:
            cursor.close()
        rows = []
        for row in found:
            values = list(row)
            for index, convert in self._converters:
                values[index] = convert(values[index])
            rows.append(self._row(values))
        return rows

    def run(self, driver: Any, params: dict[str, Any]) -> Any:
        cursor = driver.cursor()
        try:
            cursor.execute(self.sql, self.parameters(params))
            row = cursor.fetchone()
        finally:
            cursor.close()
        if row is None:
            return None
        values = list(row)
        for index, convert in self._converters:
            values[index] = convert(values[index])
        return self._row(values)
