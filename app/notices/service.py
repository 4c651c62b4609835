"""Notices: written with the decision, caught up by seq, acknowledged by the app.

The catch-up cursor, not a push, is what guarantees delivery: an app that was away asks for
everything after the last seq it saw and gets it in order, exactly once.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, bindparam, delete, func, or_, select, update
from sqlalchemy.orm import Session

from app.auth.service import signed_in_user
from app.common import clock
from app.common.figures import percentile
from app.devices import service as devices
from app.devices.models import Device
from app.errors import DomainError, Unauthorized
from app.i18n import _, _l
from app.infra.statements import cached_statement
from app.notices import outbox
from app.notices.models import (
    Delivery,
    DeliveryPurpose,
    DeliveryState,
    Notice,
    NoticeKind,
    NoticePriority,
    NoticePurge,
    NotificationSettings,
    StreamTicket,
)
from app.notices.settings import RULE_COLUMNS, PushRules, remember_rules, rules_from
from app.notices.text import Message
from app.users.models import Language, Role, User

# Kinds that ask someone to act at once; their notices are pushed again until acknowledged.
HIGH_PRIORITY = frozenset({NoticeKind.INSPECTION_ISSUED, NoticeKind.INSPECTION_SCHEDULED})


class CursorExpired(DomainError):
    status, code, title = 410, "cursor_expired", _l("Catch-up cursor expired")


class StreamTicketInvalid(Unauthorized):
    code, title = "stream_ticket_invalid", _l("Stream ticket not valid")


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
    return notify_recipients(
        session,
        enterprise_recipients(session, enterprise_id, frozenset(roles)),
        kind=kind,
        title=title,
        body=body,
        source_key=source_key,
        declaration_id=declaration_id,
        link=link,
    )


def notify_recipients(
    session: Session,
    recipients: Sequence[Recipient],
    *,
    kind: NoticeKind,
    title: Message,
    body: Message,
    source_key: str,
    declaration_id: int | None = None,
    link: str | None = None,
) -> list[Notice]:
    """One notice for each recipient in their language, its pushes queued in the same transaction."""
    about = {"kind": kind, "title": title, "body": body, "source_key": source_key, "declaration_id": declaration_id}
    notices = [Notice(**notice_fields(recipient, **about, link=link)) for recipient in recipients]
    session.add_all(notices)
    outbox.queue_pushes(
        session,
        notices,
        purpose=DeliveryPurpose.NOTICE,
        device_ids={recipient.user_id: recipient.device_ids for recipient in recipients},
    )
    return notices


def notice_fields(
    recipient: Recipient,
    *,
    kind: NoticeKind,
    title: Message,
    body: Message,
    source_key: str,
    declaration_id: int | None,
    link: str | None,
) -> dict[str, Any]:
    """A notice's columns for one recipient, in their language (the rest are the table's defaults)."""
    return {
        "recipient_id": recipient.user_id,
        "kind": kind,
        "priority": NoticePriority.HIGH if kind in HIGH_PRIORITY else NoticePriority.NORMAL,
        "source_key": source_key[:120],
        "title": title.in_language(recipient.language)[:200],
        "body": body.in_language(recipient.language)[:1000],
        "link": link if link is not None or not declaration_id else f"/api/v1/declarations/{declaration_id}",
        "declaration_id": declaration_id,
    }


@dataclass(frozen=True)
class Recipient:
    """Who a notice goes to, in what language, and the ids of the devices its pushes go to (read with them)."""

    user_id: int
    language: Language
    device_ids: tuple[int, ...]


def prefetch_recipients(session: Session, enterprise_ids: Iterable[int], roles: Iterable[Role]) -> None:
    """Read the recipients of many enterprises in one query, for a batch about to notify them all.

    A customs document notifies the declarants of dozens of enterprises; one query each was a tenth of its time.
    """
    _load_recipients(session, set(enterprise_ids), frozenset(roles))


def enterprise_recipients(session: Session, enterprise_id: int, roles: frozenset[Role]) -> list[Recipient]:
    """The enterprise's active users in `roles`, with the devices their pushes go to, in one query.

    A receipt batch notifies the same few enterprises many times; ask the database once per transaction.
    """
    return _load_recipients(session, {enterprise_id}, roles)[enterprise_id]


def _load_recipients(session: Session, enterprise_ids: set[int], roles: frozenset[Role]) -> dict[int, list[Recipient]]:
    cache: dict[Any, list[Recipient]] = session.info.setdefault("notice_recipients", {})
    transaction = session.get_transaction()
    wanted = sorted(e for e in enterprise_ids if (transaction, e, roles) not in cache)
    if wanted:
        found: dict[int, dict[int, tuple[Language, list[int]]]] = {enterprise_id: {} for enterprise_id in wanted}
        rules: dict[int, PushRules | None] = {}
        rows = session.execute(
            _recipients_statement(roles),
            {"enterprise_ids": wanted, "seen_since": devices.seen_since(clock.utcnow())},
        )
        # Their notification settings in the same query: queuing each decision's pushes then reads none.
        for enterprise_id, user_id, language, device_id, *settings in rows:
            _language, device_ids = found[enterprise_id].setdefault(user_id, (language, []))
            if device_id is not None:
                device_ids.append(device_id)
            rules[user_id] = rules_from(*settings)
        for enterprise_id, users in found.items():
            cache[(transaction, enterprise_id, roles)] = [
                Recipient(user_id, language, tuple(device_ids)) for user_id, (language, device_ids) in users.items()
            ]
        remember_rules(session, rules)
    return {enterprise_id: cache[(transaction, enterprise_id, roles)] for enterprise_id in enterprise_ids}


# Built once per set of roles: a gate decision notifies with it, and building it cost a tenth of a millisecond.
@cached_statement
def _recipients_statement(roles: frozenset[Role]) -> Select[Any]:
    return (
        select(User.enterprise_id, User.id, User.language, Device.id, *RULE_COLUMNS)
        .outerjoin(Device, and_(Device.user_id == User.id, *devices.deliverable(bindparam("seen_since"))))
        .outerjoin(NotificationSettings, NotificationSettings.user_id == User.id)
        .where(
            User.enterprise_id.in_(bindparam("enterprise_ids", expanding=True)),
            User.role.in_(roles),
            User.is_active.is_(True),
        )
        .order_by(User.id, Device.id)
    )


def ensure_cursor_kept(session: Session, *, after_seq: int) -> None:
    """Refuse a cursor from before a retention purge: what it missed is gone, the app must reload."""
    purged_through = session.scalar(select(func.max(NoticePurge.purged_through_seq)))
    if after_seq and purged_through and after_seq < purged_through:
        raise CursorExpired(
            _(
                "Notices up to %(purged_through)s were purged after retention; reload from after_seq=0 and refresh "
                "what the app shows.",
                purged_through=purged_through,
            )
        )


def catch_up(session: Session, *, recipient: User, after_seq: int, limit: int) -> Feed:
    """The recipient's notices after `after_seq`, oldest first; 410 for a cursor from before a purge."""
    ensure_cursor_kept(session, after_seq=after_seq)
    return notices_after(session, recipient=recipient, after_seq=after_seq, limit=limit)


def notices_after(session: Session, *, recipient: User, after_seq: int, limit: int) -> Feed:
    """The next page of the recipient's notices after a cursor already known to be kept."""
    rows = list(
        session.scalars(
            select(Notice)
            .where(Notice.recipient_id == recipient.id, Notice.seq > after_seq)
            .order_by(Notice.seq)
            .limit(limit + 1)
        )
    )
    items = rows[:limit]
    return Feed(items=items, next_after_seq=items[-1].seq if items else after_seq, has_more=len(rows) > limit)


def counts_for(session: Session, recipient: User) -> dict[str, int]:
    """How many of the recipient's notices are unread, and how many no app has acknowledged yet."""
    unread, unacknowledged = session.execute(_unread_counts(), {"recipient_id": recipient.id}).one()
    return {"unread": unread, "unacknowledged": unacknowledged}


def latest_for(session: Session, recipient: User, *, limit: int) -> list[Notice]:
    """The recipient's newest committed notices, newest first."""
    return list(session.scalars(_latest(limit), {"recipient_id": recipient.id}))


# Every home screen runs these two: built once, not per request.
@cached_statement
def _unread_counts() -> Select[Any]:
    # Reading acknowledges (mark_read), so the unacknowledged are among the unread: one partial index has both.
    return select(func.count(), func.count().filter(Notice.acknowledged_at.is_(None))).where(
        Notice.recipient_id == bindparam("recipient_id"), Notice.read_at.is_(None)
    )


@cached_statement
def _latest(limit: int) -> Select[tuple[Notice]]:
    return (
        select(Notice)
        .where(Notice.recipient_id == bindparam("recipient_id"), Notice.seq.is_not(None))
        .order_by(Notice.seq.desc())
        .limit(limit)
    )


def acknowledge(session: Session, *, recipient: User, up_to_seq: int) -> int:
    """The app has everything up to `up_to_seq`; returns how many notices that newly covers."""
    return session.execute(
        update(Notice)
        .where(Notice.recipient_id == recipient.id, Notice.seq <= up_to_seq, Notice.acknowledged_at.is_(None))
        .values(acknowledged_at=clock.utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount


def mark_read(
    session: Session, *, recipient: User, notice_ids: Sequence[uuid.UUID], device_id: str | None = None
) -> int:
    """The user opened these notices (read implies received) on `device_id`; their other phones clear them."""
    now = clock.utcnow()
    newly_read = list(
        session.scalars(
            update(Notice)
            .where(Notice.recipient_id == recipient.id, Notice.notice_id.in_(notice_ids), Notice.read_at.is_(None))
            .values(read_at=now, acknowledged_at=func.coalesce(Notice.acknowledged_at, now))
            .returning(Notice.id)
            .execution_options(synchronize_session=False)
        )
    )
    outbox.queue_clears(session, user=recipient, notice_pks=newly_read, read_on=device_id)
    return len(newly_read)


def purge(session: Session, *, created_before: datetime) -> NoticePurge | None:
    """Delete notices past retention and remember how far, so older cursors get 410."""
    through = session.scalar(select(func.max(Notice.seq)).where(Notice.created_at < created_before))
    if through is None:
        return None
    deleted = session.execute(
        Notice.__table__.delete().where(Notice.seq <= through).execution_options(synchronize_session=False)
    ).rowcount
    record = NoticePurge(purged_through_seq=through, purged_count=deleted)
    session.add(record)
    session.flush()
    return record


def issue_stream_ticket(session: Session, *, auth_session_id: uuid.UUID, ttl: timedelta) -> str:
    """A single-use ticket that opens one event stream for this sign-in within `ttl`."""
    ticket = secrets.token_urlsafe(32)
    session.add(
        StreamTicket(ticket_hash=_ticket_hash(ticket), auth_session_id=auth_session_id, expires_at=clock.utcnow() + ttl)
    )
    return ticket


def redeem_stream_ticket(session: Session, ticket: str) -> tuple[User, uuid.UUID]:
    """The signed-in user a ticket was issued to; the ticket is spent, even if the stream fails later."""
    now = clock.utcnow()
    # One atomic UPDATE: two connections presenting the same ticket cannot both win it.
    auth_session_id = session.scalar(
        update(StreamTicket)
        .where(
            StreamTicket.ticket_hash == _ticket_hash(ticket),
            StreamTicket.used_at.is_(None),
            StreamTicket.expires_at > now,
        )
        .values(used_at=now)
        .returning(StreamTicket.auth_session_id)
    )
    if auth_session_id is None:
        raise StreamTicketInvalid(_("This stream ticket is unknown, expired or already used; ask for a new one."))
    return signed_in_user(session, session_id=auth_session_id), auth_session_id


def purge_stream_tickets(session: Session) -> int:
    """Drop spent and expired tickets."""
    return session.execute(
        delete(StreamTicket)
        .where(or_(StreamTicket.used_at.is_not(None), StreamTicket.expires_at <= clock.utcnow()))
        .execution_options(synchronize_session=False)
    ).rowcount


def _ticket_hash(ticket: str) -> bytes:
    return hashlib.sha256(ticket.encode()).digest()


# An inspection notice still unacknowledged after this long is one the figures call out.
OVERDUE_AFTER = timedelta(minutes=5)


def delivery_figures(session: Session, *, since: datetime, until: datetime) -> dict[str, Any]:
    """How fast notices created in [since, until) reached the people: decision → pushed → in the app."""
    in_range = (Notice.created_at >= since, Notice.created_at < until)
    times = session.execute(
        select(Notice.created_at, Notice.first_sent_at, Notice.acknowledged_at).where(*in_range)
    ).all()
    deliveries = dict(
        session.execute(
            select(Delivery.state, func.count())
            .join(Notice, Notice.id == Delivery.notice_pk)
            .where(*in_range)
            .group_by(Delivery.state)
        ).all()
    )
    overdue = session.scalar(
        select(func.count()).where(
            Notice.kind == NoticeKind.INSPECTION_ISSUED,
            Notice.acknowledged_at.is_(None),
            Notice.created_at < clock.utcnow() - OVERDUE_AFTER,
            *in_range,
        )
    )
    return {
        "since": since,
        "until": until,
        "notices": len(times),
        "decision_to_push": _latency([(created, sent) for created, sent, _ in times if sent]),
        "decision_to_app": _latency([(created, acknowledged) for created, _, acknowledged in times if acknowledged]),
        "unacknowledged_inspection_notices": overdue,
        "deliveries": {state.value: deliveries.get(state, 0) for state in DeliveryState},
    }


def _latency(pairs: list[tuple[datetime, datetime]]) -> dict[str, Any]:
    milliseconds = sorted((end - start).total_seconds() * 1000 for start, end in pairs)
    return {
        "count": len(milliseconds),
        "median_ms": percentile(milliseconds, 0.5),
        "p99_ms": percentile(milliseconds, 0.99),
    }
