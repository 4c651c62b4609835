"""A test client that fails any request leaving a database transaction or connection open after its response.

A view that hands a lazy iterator to a streamed response can keep reading after the request's teardown closed its
session: the iterator then opens a transaction nobody closes. On SQLite that transaction holds the write lock until
the process restarts; on PostgreSQL it leaves an "idle in transaction" connection. The guard reads every response
to its end (an event stream only at its close), closes it as a WSGI server does, and then checks that no session
that began during the request is still in a transaction and that the pool has every connection back.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker

EVENT_STREAM = "text/event-stream"


class OpenTransactions:
    """Per thread: the sessions of one app that began a transaction and the pooled connections checked out.

    The test client runs the app on the test's thread; other threads (racing requests, the scan writer, the
    notice hub) have their own lifecycles and are counted apart.
    """

    def __init__(self, sessions: sessionmaker[Session], engine: Engine) -> None:
        self._begun: weakref.WeakKeyDictionary[Session, int] = weakref.WeakKeyDictionary()
        self._checked_out: dict[int, int] = {}
        event.listen(sessions, "after_begin", self._on_begin)
        event.listen(engine, "checkout", self._on_checkout)
        event.listen(engine, "checkin", self._on_checkin)

    def _on_begin(self, session: Session, _transaction: Any, _connection: Any) -> None:
        self._begun[session] = threading.get_ident()

    def _on_checkout(self, _dbapi: Any, record: Any, _proxy: Any) -> None:
        self._checked_out[id(record)] = threading.get_ident()

    def _on_checkin(self, _dbapi: Any, record: Any) -> None:
        self._checked_out.pop(id(record), None)

    def mark(self) -> tuple[set[int], int]:
        return {id(session) for session in self._mine() if session.in_transaction()}, self._connections()

    def left_open(self, before: tuple[set[int], int]) -> tuple[list[Session], int]:
        sessions, connections = before
        leaked = [session for session in self._mine() if session.in_transaction() and id(session) not in sessions]
        return leaked, self._connections() - connections

    def _mine(self) -> list[Session]:
        me = threading.get_ident()
        return [session for session, thread in list(self._begun.items()) if thread == me]

    def _connections(self) -> int:
        me = threading.get_ident()
        return sum(1 for thread in list(self._checked_out.values()) if thread == me)


class GuardedClient(FlaskClient):
    """FlaskClient whose every request must hand back its transactions and connections."""

    def open(self, *args: Any, **kwargs: Any) -> Any:
        app: Flask = self.application  # type: ignore[assignment]
        tracker: OpenTransactions = app.extensions["open_transactions"]
        before = tracker.mark()
        response = super().open(*args, **kwargs)

        def check() -> None:
            sessions, connections = tracker.left_open(before)
            path = response.request.path
            assert not sessions, f"{path} left {len(sessions)} database transaction(s) open"
            assert connections <= 0, f"{path} kept {connections} pooled connection(s) checked out"

        if response.mimetype == EVENT_STREAM and not response.is_sequence:
            response.call_on_close(check)
            return response
        response.get_data()  # a streamed body runs to its end, as a client that downloads it drives it
        response.close()
        check()
        return response


def guard(app: Flask) -> Flask:
    """Make `app.test_client()` a GuardedClient."""
    app.extensions["open_transactions"] = OpenTransactions(app.extensions["sessionmaker"], app.extensions["engine"])
    app.test_client_class = GuardedClient
    return app
