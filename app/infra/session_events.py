"""Acting on what a transaction wrote once it has committed: session events on the app's own session factory.

`after_commit(sessions, ...)` registers three listeners on one `sessionmaker`: after each flush it asks `collect`
what the flush wrote that matters (the recipients of new notices), keeps that in `session.info` under `key`, hands
the lot to `committed` when the transaction commits, and forgets it on a rollback. The notice hub rings the open
streams this way (app/notices/stream.py).

The listeners used to sit on SQLAlchemy's global `Session` class, so every session in the process paid for them
and a module's import decided whether they ran. On the factory they run for the sessions `create_app` makes (the
only sessions the app opens, the tests' rollback-bound ones included, since those come from the same factory
reconfigured), and each app made in one process (tests make many) has its own, bound to its own hub. Nothing
is saved per request: the same three calls run per transaction as before. The semantics are the same as long as
nobody opens a `Session(...)` outside the factory; such a session would not ring anyone, as it never could
(the hub was only ever reachable through the factory's `info`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

_T = TypeVar("_T")


def after_commit(
    sessions: sessionmaker[Session],
    *,
    key: str,
    collect: Callable[[Session], set[_T]],
    committed: Callable[[set[_T]], None],
) -> None:
    """Collect after each flush, hand over after the commit, forget on a rollback (see the module docstring)."""

    @event.listens_for(sessions, "after_flush")
    def remember(session: Session, _context: Any) -> None:
        found = collect(session)
        if found:
            session.info.setdefault(key, set()).update(found)

    @event.listens_for(sessions, "after_commit")
    def hand_over(session: Session) -> None:
        found = session.info.pop(key, None)
        if found:
            committed(found)

    @event.listens_for(sessions, "after_rollback")
    def forget(session: Session) -> None:
        session.info.pop(key, None)
