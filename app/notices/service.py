"""Notices: written with the decision, caught up by seq, acknowledged by the app.

The catch-up cursor, not a push, is what guarantees delivery: an app that was away asks for
everything after the last seq it saw and gets it in order, exactly once.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import event, func, select, text, update
from sqlalchemy.orm import Session

from app.common import clock
from app.errors import DomainError
from app.notices.models import Notice, NoticeKind, NoticePriority, NoticePurge
from app.users.models import Language, Role, User

# Kinds that ask someone to act at once; their notices are pushed again until acknowledged.
HIGH_PRIORITY = frozenset({NoticeKind.INSPECTION_ISSUED, NoticeKind.INSPECTION_SCHEDULED})
# Any constant works; it only has to be the same in every process writing notices.
_SEQ_LOCK_KEY = 0x4E07_1CE5


class CursorExpired(DomainError):
    status, code, title = 410, "cursor_expired", "Catch-up cursor expired"


@dataclass(frozen=True)
class Message:
    """A notice text in both languages; each recipient reads their own."""

    zh: str
    en: str

    def in_language(self, language: Language) -> str:
        return self.en if language is Language.EN else self.zh


@dataclass(frozen=True)
class Feed:
    items: list[Notice]
    next_after_seq: int
    has_more: bool


def notify_enterprise(
    session: Session,
    *,
    enterprise_id: int,
    roles: Iterable[Role],
    kind: NoticeKind,
    title: Message,
    body: Message,
    source_key: str,
    declaration_id: int | None = None,
    link: str | None = None,
) -> list[Notice]:
    """One notice for each active user of the enterprise who holds one of `roles`.

    `source_key` names the event the notice comes from; the same event never notifies a person
    twice. The notice links to `link`, or by default to the declaration.
    """
    if link is None and declaration_id:
        link = f"/api/v1/declarations/{declaration_id}"
    notices = [
        Notice(
            recipient_id=user_id,
            kind=kind,
            priority=NoticePriority.HIGH if kind in HIGH_PRIORITY else NoticePriority.NORMAL,
            source_key=source_key[:120],
            title=title.in_language(language)[:200],
            body=body.in_language(language)[:1000],
            link=link,
            declaration_id=declaration_id,
        )
        for user_id, language in _recipients(session, enterprise_id, frozenset(roles))
    ]
    session.add_all(notices)
    return notices


def _recipients(session: Session, enterprise_id: int, roles: frozenset[Role]) -> list[tuple[int, Language]]:
    # A receipt batch notifies the same few enterprises many times; ask the database once per transaction.
    cache: dict[Any, list[tuple[int, Language]]] = session.info.setdefault("notice_recipients", {})
    key = (session.get_transaction(), enterprise_id, roles)
    if key not in cache:
        cache[key] = [
            (user_id, language)
            for user_id, language in session.execute(
                select(User.id, User.language).where(
                    User.enterprise_id == enterprise_id, User.role.in_(roles), User.is_active.is_(True)
                )
            )
        ]
    return cache[key]


@event.listens_for(Session, "before_flush")
def _number_notices_in_commit_order(session: Session, _context: Any, _instances: Any) -> None:
    """Hold a lock from the first notice INSERT to commit, so seq order is commit order.

    A sequence hands out numbers at INSERT, not at COMMIT: a slow transaction could commit seq
    100 after a client had already caught up to 101, and the app would never see 100. SQLite
    serialises writers already (BEGIN IMMEDIATE); PostgreSQL needs the advisory lock.
    """
    if not any(isinstance(instance, Notice) for instance in session.new):
        return
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        return
    transaction = session.get_transaction()
    if session.info.get("notice_seq_locked") is transaction:
        return
    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SEQ_LOCK_KEY})
    session.info["notice_seq_locked"] = transaction


def catch_up(session: Session, *, recipient: User, after_seq: int, limit: int) -> Feed:
    """The recipient's notices after `after_seq`, oldest first."""
    purged_through = session.scalar(select(func.max(NoticePurge.purged_through_seq)))
    if after_seq and purged_through and after_seq < purged_through:
        raise CursorExpired(
            f"Notices up to {purged_through} were purged after retention; reload from after_seq=0 "
            "and refresh what the app shows."
        )
    rows = list(
        session.scalars(
            select(Notice)
            .where(Notice.recipient_id == recipient.id, Notice.id > after_seq)
            .order_by(Notice.id)
            .limit(limit + 1)
        )
    )
    items = rows[:limit]
    return Feed(items=items, next_after_seq=items[-1].id if items else after_seq, has_more=len(rows) > limit)


def acknowledge(session: Session, *, recipient: User, up_to_seq: int) -> int:
    """The app has everything up to `up_to_seq`; returns how many notices that newly covers."""
    return session.execute(
        update(Notice)
        .where(Notice.recipient_id == recipient.id, Notice.id <= up_to_seq, Notice.acknowledged_at.is_(None))
        .values(acknowledged_at=clock.utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount


def mark_read(session: Session, *, recipient: User, notice_ids: Sequence[uuid.UUID]) -> int:
    """The user opened these notices (read implies received)."""
    now = clock.utcnow()
    return session.execute(
        update(Notice)
        .where(Notice.recipient_id == recipient.id, Notice.notice_id.in_(notice_ids), Notice.read_at.is_(None))
        .values(read_at=now, acknowledged_at=func.coalesce(Notice.acknowledged_at, now))
        .execution_options(synchronize_session=False)
    ).rowcount


def purge(session: Session, *, created_before: datetime) -> NoticePurge | None:
    """Delete notices past retention and remember how far, so older cursors get 410."""
    through = session.scalar(select(func.max(Notice.id)).where(Notice.created_at < created_before))
    if through is None:
        return None
    deleted = session.execute(
        Notice.__table__.delete().where(Notice.id <= through).execution_options(synchronize_session=False)
    ).rowcount
    record = NoticePurge(purged_through_seq=through, purged_count=deleted)
    session.add(record)
    session.flush()
    return record
