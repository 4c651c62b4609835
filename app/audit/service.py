"""Appending to and checking the hash-chained audit trail."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from app.audit.models import GENESIS_HASH, AuditEvent
from app.common import clock
from app.common.pagination import Page, paginate, where_given
from app.users.models import User

# Any constant works; it only has to be the same in every process appending to the chain.
_CHAIN_LOCK_KEY = 0x5A4B_A0D1


@dataclass(frozen=True)
class Actor:
    """Who did it and from where: what an audit row needs to know about the caller."""

    user: User | None
    client_addr: str | None


def record(
    session: Session,
    *,
    action: str,
    actor: Actor,
    target: object | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to the chain, inside the caller's transaction."""
    _lock_chain(session)
    previous = session.scalar(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1))
    event = AuditEvent(
        occurred_at=clock.utcnow(),
        actor_id=actor.user.id if actor.user else None,
        actor_username=actor.user.username if actor.user else None,
        action=action,
        target_type=_target_type(target),
        target_id=str(target.id) if target is not None else None,  # type: ignore[attr-defined]
        client_addr=actor.client_addr,
        details=details or {},
        prev_hash=previous or GENESIS_HASH,
    )
    event.hash = event.content_hash()
    session.add(event)
    session.flush()
    return event


def changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The fields that differ between two snapshots, as audit details: {field: {"from", "to"}}."""
    return {key: {"from": before[key], "to": after[key]} for key in after if before[key] != after[key]}


def _lock_chain(session: Session) -> None:
    # Two transactions reading the same tail would fork the chain. PostgreSQL serialises them
    # on an advisory lock held until commit; SQLite already does, through BEGIN IMMEDIATE.
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CHAIN_LOCK_KEY})


def _target_type(target: object | None) -> str | None:
    if target is None:
        return None
    return getattr(type(target), "__tablename__", type(target).__name__.lower())


def first_broken_event(session: Session, *, batch_size: int = 1000) -> AuditEvent | None:
    """The first row whose content or link no longer matches its hash; None when intact."""
    expected_prev = GENESIS_HASH
    events: Iterable[AuditEvent] = session.scalars(
        select(AuditEvent).order_by(AuditEvent.id).execution_options(yield_per=batch_size)
    )
    for event in events:
        if event.prev_hash != expected_prev or event.content_hash() != event.hash:
            return event
        expected_prev = event.hash
    return None


def list_events(
    session: Session,
    *,
    action: str | None = None,
    actor_id: int | None = None,
    target_type: str | None = None,
    target_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    cursor: int | None = None,
    limit: int,
) -> Page[AuditEvent]:
    """Audit events, newest first."""
    statement = where_given(
        select(AuditEvent),
        (AuditEvent.action, action),
        (AuditEvent.actor_id, actor_id),
        (AuditEvent.target_type, target_type),
        (AuditEvent.target_id, target_id),
    )
    if since:
        statement = statement.where(AuditEvent.occurred_at >= since)
    if until:
        statement = statement.where(AuditEvent.occurred_at < until)
    return paginate(session, statement, key=AuditEvent.id, cursor=cursor, limit=limit)
