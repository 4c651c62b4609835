"""Engine, declarative base, the request session and the one transaction boundary."""

from __future__ import annotations

import enum
import select
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, ClassVar

from flask import has_request_context
from sqlalchemy import (
    BigInteger,
    Connection,
    DateTime,
    Engine,
    Integer,
    MetaData,
    create_engine,
    event,
    exc,
)
from sqlalchemy import Enum as SAEnum
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from app.errors import DomainError
from app.infra import sqlite_times
from app.infra.context import the_app, the_g, the_request
from app.infra.sqlite_writes import WriteTurns

# Named constraints let Alembic drop and alter them, which SQLite's batch mode needs.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC; hands back aware datetimes on SQLite too, which returns naive ones.

    The naive and aware values are made with datetime.combine: `replace(tzinfo=...)` parses its keyword arguments
    for three times as long (Python 3.11), on every time a trace lookup and the scan writer bind or read."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        if value.tzinfo is not UTC:
            value = value.astimezone(UTC)
        return datetime.combine(value.date(), value.time()) if dialect.name == "sqlite" else value

    def bind_processor(self, dialect: Any) -> Any:
        # On SQLite, both steps as one C call (app/infra/sqlite_times.py says what that saves).
        processor = super().bind_processor(dialect)
        return sqlite_times.fused_or(processor) if dialect.name == "sqlite" else processor

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return datetime.combine(value.date(), value.time(), UTC) if value.tzinfo is None else value.astimezone(UTC)


def enum_type(enum_class: type[enum.Enum]) -> SAEnum:
    """Store an enum by value as a plain string, so adding a member needs no type migration."""
    return SAEnum(
        enum_class,
        native_enum=False,
        create_constraint=False,
        length=32,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime}


# Per process, when the settings name none: PostgreSQL's as before; SQLite keeps SQLAlchemy's (5 and 10).
POSTGRES_POOL_SIZE = 10
POSTGRES_MAX_OVERFLOW = 10


def make_engine(
    database_url: str,
    *,
    write_wait_seconds: float = 10.0,
    pool_size: int | None = None,
    max_overflow: int | None = None,
) -> Engine:
    """An engine with the connection settings each backend needs.

    `write_wait_seconds`: on SQLite, how long a writer waits for the write lock before it gets 503 `database_busy`.
    `pool_size`, `max_overflow`: connections the pool keeps, and may open beyond them under load (None: the default).
    """
    pool: dict[str, int] = {}
    if pool_size is not None:
        pool["pool_size"] = pool_size
    if max_overflow is not None:
        pool["max_overflow"] = max_overflow
    if database_url.startswith("sqlite"):
        turns = WriteTurns(wait_seconds=write_wait_seconds)
        engine = create_engine(database_url, connect_args={"timeout": turns.busy_timeout_ms / 1000}, **pool)
        _configure_sqlite(engine, turns)
        return engine
    pool.setdefault("pool_size", POSTGRES_POOL_SIZE)
    pool.setdefault("max_overflow", POSTGRES_MAX_OVERFLOW)
    engine = create_engine(database_url, **pool)
    _ping_idle_connections(engine)
    return engine


# A pooled connection idle this long is pinged before it is handed out: the server may have restarted or dropped
# it meanwhile. One in steady use is not (SQLAlchemy's pool_pre_ping cost every request a round trip); if the
# server goes away under load, the requests in flight fail and the pool drops all its older connections at once.
IDLE_PING_SECONDS = 10.0


def _ping_idle_connections(engine: Engine) -> None:
    @event.listens_for(engine, "checkin")
    def on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["checked_in_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        checked_in_at = record.info.get("checked_in_at")
        if checked_in_at is None:
            return
        if time.monotonic() - checked_in_at < IDLE_PING_SECONDS:
            if _server_hung_up(dbapi_connection, engine.dialect.loaded_dbapi.Error):
                # pg_terminate_backend, a failover or a restart: the next request gets a fresh connection, not a 500.
                raise exc.DisconnectionError("the server closed this pooled connection")
            return
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            raise exc.DisconnectionError(f"pooled connection is gone: {error}") from error
        if not alive:
            raise exc.DisconnectionError("pooled connection is gone")


def _server_hung_up(dbapi_connection: Any, driver_error: type[Exception]) -> bool:
    """Whether the server has written to (or closed) a connection nobody is using: what it sends an idle client is
    its goodbye ("terminating connection due to administrator command") and EOF. One poll, no round trip."""
    try:
        descriptor = dbapi_connection.fileno()
        if hasattr(select, "poll"):  # no FD_SETSIZE limit (a gevent worker holds thousands of streams)
            poller = select.poll()
            poller.register(descriptor, select.POLLIN)
            return bool(poller.poll(0))
        return bool(select.select([descriptor], [], [], 0)[0])
    except (OSError, ValueError, driver_error):
        return False  # cannot tell: the statement finds out, as before


def _configure_sqlite(engine: Engine, turns: WriteTurns) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # pysqlite's own transaction handling breaks SAVEPOINT; let SQLAlchemy emit BEGIN.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        # WAL lets readers run while one gunicorn thread writes.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={turns.busy_timeout_ms}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: Any) -> None:
        # Writers take the lock up front (IMMEDIATE): a deferred transaction that reads and
        # then writes fails with SQLITE_BUSY_SNAPSHOT when another writer got in between.
        # Readers stay DEFERRED, so in WAL mode they never wait for anyone.
        # None: no transaction at all (statement_read); pysqlite then runs each statement on its own.
        mode = connection.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        if mode is not None:
            turns.begin(connection, mode)

    if turns.cooperative:
        # Only gevent workers' writers take turns; elsewhere no listener runs at a transaction's end.
        event.listen(engine, "commit", turns.end)
        event.listen(engine, "rollback", turns.end)


def session_factory() -> sessionmaker[Session]:
    return the_app().extensions["sessionmaker"]


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def session() -> Session:
    """The session of the current app context, created on first use.

    Requests with a safe method read in a deferred transaction on SQLite, so readers never
    queue behind writers. A GET view that writes would need the write lock too; none does.
    """
    # `g` and `request` taken once, not read through their proxies (app/infra/context.py).
    context = the_g()
    db_session = context.get("db_session")
    if db_session is None:
        db_session = session_factory()()
        if has_request_context() and the_request().method in SAFE_METHODS:
            db_session.connection(execution_options={"sqlite_begin": "DEFERRED"})
        context.db_session = db_session
    return db_session


@contextmanager
def reading(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """A short read-only session outside any request (event streams, background pollers)."""
    with sessions() as db_session:
        db_session.connection(execution_options={"sqlite_begin": "DEFERRED"})
        yield db_session


@contextmanager
def statement_read() -> Iterator[Connection]:
    """A connection for reads outside the ORM session and any transaction: each statement is consistent by itself.

    For the hottest public read (a trace-code lookup is one statement), the session and the BEGIN and COMMIT
    around it cost a quarter of the request. Sessions bound to a connection (a transaction the caller holds,
    as the tests' rollback fixture does) read inside it instead.
    """
    bind = session_factory().kw["bind"]
    if isinstance(bind, Connection):
        yield bind
        return
    # Not AUTOCOMMIT on SQLite: handing the connection back resets pysqlite to its own implicit transactions.
    options = {"sqlite_begin": None} if bind.dialect.name == "sqlite" else {"isolation_level": "AUTOCOMMIT"}
    with bind.connect().execution_options(**options) as connection:
        yield connection


def close_session(_exc: BaseException | None = None) -> None:
    db_session = the_g().pop("db_session", None)
    if db_session is not None:
        db_session.close()


@contextmanager
def transaction(*, enclosing: bool = False) -> Iterator[Session]:
    """Commit on success, roll back on error; a DomainError that keeps its changes commits first.

    An `enclosing` transaction (the Idempotency-Key guard's) holds the commit: the view's own transaction()
    blocks inside it join it, so the work and the answer stored beside it commit together or not at all.
    """
    db_session = session()
    context = the_g()
    if context.get("db_transaction_held"):
        yield db_session
        return
    if enclosing:
        context.db_transaction_held = True
    try:
        yield db_session
    except DomainError as error:
        if error.keeps_changes:
            _commit(db_session)
        else:
            db_session.rollback()
        raise
    except BaseException:
        db_session.rollback()
        raise
    finally:
        if enclosing:
            context.pop("db_transaction_held", None)
    _commit(db_session)


def _commit(db_session: Session) -> None:
    # COMMIT can fail by itself (a deferred trigger's deadlock, a lost connection): roll back, so the session is
    # usable again for whatever runs next in the request (an error handler, `retries_conflicts`' next attempt).
    try:
        db_session.commit()
    except BaseException:
        db_session.rollback()
        raise
