"""Remembering and replaying the answers to idempotent writes (draft-ietf-httpapi-idempotency-key-header)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.errors import Conflict, InvalidInput
from app.i18n import _, _l
from app.idempotency.models import IdempotentRequest

MAX_KEY_LENGTH = 100
# Headers a replay must not copy: the server sets them for each answer itself.
_NOT_STORED = frozenset({"content-length", "date", "set-cookie", "idempotent-replayed"})


class IdempotencyKeyReused(InvalidInput):
    code, title = "idempotency_key_reused", _l("Idempotency key reused")


class IdempotencyKeyInFlight(Conflict):
    code, title = "idempotency_key_in_flight", _l("Request with this idempotency key in progress")


def request_hash(method: str, path: str, body: bytes, *, extra: Iterable[bytes] = ()) -> str:
    """The request's fingerprint; `extra` (query, Accept, a form's parsed parts) is appended when present."""
    return hashlib.sha256(b"\n".join([method.encode(), path.encode(), body, *extra])).hexdigest()


def check_key(key: str) -> None:
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not key.isprintable():
        raise InvalidInput(
            _("The Idempotency-Key header must be 1 to 100 printable characters (a UUID is ideal)."),
            errors={"headers": {"Idempotency-Key": [_("1 to 100 printable characters.")]}},
        )


def _in_flight() -> IdempotencyKeyInFlight:
    return IdempotencyKeyInFlight(
        _("A request with this Idempotency-Key is still being processed; retry after it has answered."),
        headers={"Retry-After": "1"},
    )


def lock_key(session: Session, *, user_id: int, key: str) -> None:
    """Hold the key until this transaction ends; a twin already holding it is refused at once (409).

    PostgreSQL: a transaction-level advisory lock on a 64-bit digest of (user, key), so a twin in another worker
    never waits for the first. SQLite needs none: every write request holds the database's write lock from its
    first statement (BEGIN IMMEDIATE), so a twin runs only after the first has committed, and then replays it.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    digest = hashlib.sha256(f"idempotency\n{user_id}\n{key}".encode()).digest()
    if not session.scalar(select(func.pg_try_advisory_xact_lock(int.from_bytes(digest[:8], "big", signed=True)))):
        raise _in_flight()


def find_answer(session: Session, *, user_id: int, key: str, fingerprint: str) -> IdempotentRequest | None:
    """The stored answer for this key, or None; the key sent with a different request is refused."""
    stored = session.scalar(
        select(IdempotentRequest).where(IdempotentRequest.user_id == user_id, IdempotentRequest.key == key)
    )
    if stored is not None and stored.request_hash != fingerprint:
        raise IdempotencyKeyReused(
            _("This Idempotency-Key was already used for a different request; use a new key for a new request.")
        )
    return stored


def remember_answer(
    session: Session,
    *,
    user_id: int,
    key: str,
    fingerprint: str,
    status_code: int,
    headers: Iterable[tuple[str, str]],
    body: bytes,
) -> None:
    """Store a successful answer in the transaction of the work it answers.

    A twin that stored the key first (it cannot, while lock_key holds it) makes this one a conflict, and the
    transaction, work included, rolls back.
    """
    kept = [[name, value] for name, value in headers if name.lower() not in _NOT_STORED]
    try:
        with session.begin_nested():
            session.add(
                IdempotentRequest(
                    user_id=user_id,
                    key=key,
                    request_hash=fingerprint,
                    status_code=status_code,
                    response_headers=kept,
                    response_body=body,
                )
            )
    except IntegrityError as error:
        raise _in_flight() from error


def purge(session: Session, *, created_before: datetime) -> int:
    """Forget answers older than the retry window."""
    return session.execute(
        delete(IdempotentRequest)
        .where(IdempotentRequest.created_at < created_before)
        .execution_options(synchronize_session=False)
    ).rowcount
