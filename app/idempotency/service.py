"""Remembering and replaying the answers to idempotent writes."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.errors import InvalidInput
from app.idempotency.models import IdempotentRequest

MAX_KEY_LENGTH = 100


class IdempotencyKeyReused(InvalidInput):
    code, title = "idempotency_key_reused", "Idempotency key reused"


def request_hash(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(b"\n".join([method.encode(), path.encode(), body])).hexdigest()


def check_key(key: str) -> None:
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not key.isprintable():
        raise InvalidInput(
            "The Idempotency-Key header must be 1 to 100 printable characters (a UUID is ideal).",
            errors={"headers": {"Idempotency-Key": ["1 to 100 printable characters."]}},
        )


def find_answer(session: Session, *, user_id: int, key: str, fingerprint: str) -> IdempotentRequest | None:
    """The stored answer for this key, or None; the key sent with a different request is refused."""
    stored = session.scalar(
        select(IdempotentRequest).where(IdempotentRequest.user_id == user_id, IdempotentRequest.key == key)
    )
    if stored is not None and stored.request_hash != fingerprint:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was already used for a different request; use a new key for a new request."
        )
    return stored


def remember_answer(session: Session, *, user_id: int, key: str, fingerprint: str, status_code: int, body: str) -> None:
    """Keep a successful answer; if a concurrent twin stored one first, theirs stands."""
    try:
        with session.begin_nested():
            session.add(
                IdempotentRequest(
                    user_id=user_id, key=key, request_hash=fingerprint, status_code=status_code, response_body=body
                )
            )
    except IntegrityError:
        pass


def purge(session: Session, *, created_before: datetime) -> int:
    """Forget answers older than the retry window."""
    return session.execute(
        delete(IdempotentRequest)
        .where(IdempotentRequest.created_at < created_before)
        .execution_options(synchronize_session=False)
    ).rowcount
