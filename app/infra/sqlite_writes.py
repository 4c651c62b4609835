"""SQLite's one write lock, waited for without stopping a gevent worker: writers take turns.

SQLite lets one connection write at a time; the others wait in its busy handler, a C loop of sleeps that never
returns to gevent's hub. With two gevent workers and 20 concurrent writers, a worker whose request waited there
(up to the 15 s busy timeout) served nothing else, missed gunicorn's heartbeat and was killed with every stream on it;
the writers that ran out of time answered 500 `database is locked`.

Under gevent, therefore:

- the writers of one process queue for a gevent semaphore (FIFO, cooperative): one request per process at a time
  asks SQLite for the write lock, the others park like any greenlet waiting for I/O;
- SQLite's busy timeout is 0, so `BEGIN IMMEDIATE` answers at once; while another process holds the lock the turn's
  holder retries with gevent sleeps (1 ms doubling to 50 ms), and the hub serves everything else meanwhile;
- past `wait_seconds` the write is refused with 503 `database_busy` and `Retry-After` instead of a 500.

Costs: an uncontended write transaction takes and gives back a semaphore (1.4 µs, timed); every commit and rollback on
the engine (reads' included, not the prepared reads that bypass the Connection) calls one listener that compares
two references. Between processes SQLite does not queue: a writer of the other process polls, so under a sustained
write load one process may get several turns in a row (bounded by `wait_seconds`, after which the waiter gets a
503). A statement other than BEGIN IMMEDIATE that meets the lock (none should in WAL mode: readers never wait there,
and commits append to the WAL) fails at once instead of waiting. The turn ends with the Connection's commit or
rollback event, which SQLAlchemy fires on close too; a driver connection used past SQLAlchemy would keep it.

Without gevent (tests, the CLI, the dispatcher, gthread workers) a waiting thread blocks only itself: SQLite's own
busy handler waits, for up to `wait_seconds`, and then the write is refused with the same 503.
"""

from __future__ import annotations

import random
import sqlite3
import time
from typing import Any

from sqlalchemy import Connection, exc

from app.errors import DomainError
from app.i18n import _, _l
from app.infra.cooperative import sleep, under_gevent

_FIRST_RETRY, _LONGEST_RETRY = 0.001, 0.05


class DatabaseBusy(DomainError):
    status, code, title = 503, "database_busy", _l("Database busy")

    def __init__(self, waited: float) -> None:
        super().__init__(
            _(
                "Another write held the database for %(seconds)s s; nothing was changed. Try again shortly.",
                seconds=format(waited, ".1f"),
            ),
            headers={"Retry-After": "1"},
        )


def _busy(error: BaseException) -> bool:
    orig = error.orig if isinstance(error, exc.DBAPIError) else error
    # Extended codes (SQLITE_BUSY_RECOVERY, _SNAPSHOT, _TIMEOUT) keep SQLITE_BUSY in their low byte.
    return isinstance(orig, sqlite3.OperationalError) and getattr(orig, "sqlite_errorcode", 0) & 0xFF == 5


class WriteTurns:
    """Begins SQLite transactions for one engine; `IMMEDIATE` ones (writers) take turns as the module says."""

    def __init__(self, *, wait_seconds: float) -> None:
        self.wait_seconds = wait_seconds
        self.cooperative = under_gevent()
        self._turn: Any = None
        # The connection whose transaction has the turn (one at a time per process: the semaphore's one slot).
        self._holder: Connection | None = None
        if self.cooperative:
            from gevent.lock import Semaphore

            self._turn = Semaphore(1)

    @property
    def busy_timeout_ms(self) -> int:
        """For `PRAGMA busy_timeout`: 0 under gevent (the wait happens here), the whole wait otherwise."""
        return 0 if self.cooperative else int(self.wait_seconds * 1000)

    def begin(self, connection: Connection, mode: str) -> None:
        if mode != "IMMEDIATE":
            connection.exec_driver_sql(f"BEGIN {mode}")
        elif self.cooperative:
            self._begin_in_turn(connection)
        else:
            started = time.monotonic()
            try:
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            except exc.OperationalError as error:
                if not _busy(error):
                    raise
                raise DatabaseBusy(time.monotonic() - started) from None

    def _begin_in_turn(self, connection: Connection) -> None:
        started = time.monotonic()
        deadline = started + self.wait_seconds
        if not self._turn.acquire(timeout=self.wait_seconds):
            raise DatabaseBusy(time.monotonic() - started)
        try:
            retry = _FIRST_RETRY
            while True:
                try:
                    connection.exec_driver_sql("BEGIN IMMEDIATE")
                    break
                except exc.OperationalError as error:
                    if not _busy(error):
                        raise
                left = deadline - time.monotonic()
                if left <= 0:
                    raise DatabaseBusy(time.monotonic() - started)
                # Jitter, so the two workers' waiters do not poll in step.
                sleep(min(left, retry * random.uniform(0.5, 1.5)))
                retry = min(retry * 2, _LONGEST_RETRY)
        except BaseException:
            self._turn.release()
            raise
        self._holder = connection

    def end(self, connection: Connection) -> None:
        """The transaction ends (commit or rollback, fired just before it): the next writer may begin."""
        if connection is self._holder:
            self._holder = None
            self._turn.release()
