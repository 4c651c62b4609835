"""The push outbox: delivery rows written with their notice, claimed and settled by the dispatcher.

A notice and its deliveries commit together, so a push can neither go out for a notice that
was rolled back nor be forgotten for one that committed. The dispatcher claims due rows by
moving them a lease ahead; a dispatcher that dies mid-send leaves them due again when the lease
runs out, and the phone gets the same notice id twice (the app drops the duplicate).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import column, func, select, table, update
from sqlalchemy.orm import Session

from app.common import clock
from app.devices.models import Device
from app.devices.service import active_devices, invalidate_token
from app.i18n import N_
from app.notices.models import (
    Delivery,
    DeliveryChannel,
    DeliveryPurpose,
    DeliveryState,
    Notice,
    NoticeKind,
    NoticePriority,
)
from app.notices.settings import push_at, settings_for
from app.notices.text import Message
from app.push.base import Failed, InvalidToken, Outcome, PushMessage, PushTarget, Retry, Sent
from app.users.models import User

# Notices sit below the declarations, whose service queues them: a push names its list by reading the table, not
# by importing the declarations' model.
_declarations = table("declarations", column("id"), column("invt_no"), column("cop_no"))


@dataclass(frozen=True)
class ReminderStep:
    after: timedelta
    channel: DeliveryChannel


# An urgent notice nobody acknowledged: push again at 2 and 5 minutes, then text the person.
REMINDER_STEPS = (
    ReminderStep(timedelta(minutes=2), DeliveryChannel.PUSH),
    ReminderStep(timedelta(minutes=5), DeliveryChannel.PUSH),
    ReminderStep(timedelta(minutes=10), DeliveryChannel.SMS),
)
MAX_ATTEMPTS = 8
FIRST_RETRY = timedelta(seconds=5)
LONGEST_RETRY = timedelta(minutes=15)
# Past this a push only wakes a phone to show old news; the catch-up API has it anyway.
PUSH_USEFUL_FOR = timedelta(hours=24)

# Push titles go through the providers' clouds: a label and the last digits of the number, nothing more.
PUSH_LABELS = {
    NoticeKind.DECLARATION_ACCEPTED: N_("Declaration accepted"),
    NoticeKind.DECLARATION_REJECTED: N_("Declaration rejected"),
    NoticeKind.INSPECTION_ISSUED: N_("Inspection notice"),
    NoticeKind.INSPECTION_SCHEDULED: N_("Inspection booking"),
    NoticeKind.INSPECTION_RESULT: N_("Inspection result"),
    NoticeKind.DECLARATION_RELEASED: N_("Release notice"),
    NoticeKind.DECLARATION_DETAINED: N_("Detention notice"),
    NoticeKind.GATE_PASSED: N_("Vehicle passed the gate"),
    NoticeKind.GATE_REFERRED: N_("Vehicle referred at the gate"),
    NoticeKind.GATE_HELD: N_("Gate pass on hold"),
    NoticeKind.EXPORT_DIVERTED: N_("Parcel diverted for recheck"),
    NoticeKind.EXPORT_RECHECKED: N_("Recheck result"),
    NoticeKind.EXPORT_LEFT_ZONE: N_("Export left the zone"),
    NoticeKind.EXPORT_DEPARTED: N_("Export departed"),
    NoticeKind.QUESTION_ASKED: N_("Customs requests information"),
    NoticeKind.OFFICER_RISK_WARNING: N_("High-risk warning"),
    NoticeKind.OFFICER_PARCEL_DIVERTED: N_("Parcel awaiting recheck"),
    NoticeKind.OFFICER_VEHICLE_HELD: N_("Vehicle held at the gate"),
}
PUSH_TITLE = N_("%(label)s …%(tail)s")
REMINDER_TITLE = N_("Reminder: %(label)s …%(tail)s")
SMS_TEXT = N_("[Smart Park] Unacknowledged %(label)s (number ending %(tail)s); please open the park app.")


@dataclass(frozen=True)
class Job:
    """A claimed delivery with what sending it needs, read before the claim commits."""

    delivery_id: int
    notice_pk: int
    channel: DeliveryChannel
    purpose: DeliveryPurpose
    attempts: int
    device_pk: int | None
    provider: str | None
    target: PushTarget | None
    phone: str | None
    message: PushMessage
    sms_text: str


@dataclass(frozen=True)
class Result:
    job: Job
    outcome: Outcome


def queue_pushes(
    session: Session,
    notices: Sequence[Notice],
    *,
    purpose: DeliveryPurpose,
    device_ids: Mapping[int, Sequence[int]] | None = None,
) -> int:
    """One delivery per active device of each recipient (`device_ids` by user, if the caller has them); how many."""
    if not notices:
        return 0
    if device_ids is None:
        by_user: dict[int, list[int]] = {}
        for device in active_devices(session, *{notice.recipient_id for notice in notices}):
            by_user.setdefault(device.user_id, []).append(device.id)
        device_ids = by_user
    now = clock.utcnow()
    chosen = settings_for(session, {notice.recipient_id for notice in notices})
    # Per notice: now, after the recipient's quiet hours, or never (a kind they switched off).
    due = {id(n): push_at(chosen.get(n.recipient_id), kind=n.kind, priority=n.priority, now=now) for n in notices}
    queued = [
        Delivery(
            notice=notice,
            device_id=device_id,
            channel=DeliveryChannel.PUSH,
            purpose=purpose,
            state=DeliveryState.PENDING,
            attempts=0,
            next_attempt_at=due[id(notice)],
            created_at=now,
        )
        for notice in notices
        if due[id(notice)] is not None
        for device_id in device_ids.get(notice.recipient_id, ())
    ]
    session.add_all(queued)
    return len(queued)


def queue_clears(session: Session, *, user: User, notice_pks: Iterable[int], read_on: str | None) -> int:
    """Tell the user's other phones to drop notices read on `read_on` (an app's device id) from their trays."""
    others = [device for device in active_devices(session, user.id) if device.device_id != read_on]
    rows = [
        {"notice_pk": pk, "device_id": device.id, "channel": DeliveryChannel.PUSH, "purpose": DeliveryPurpose.CLEAR}
        for pk in notice_pks
        for device in others
    ]
    insert_deliveries(session, rows)
    return len(rows)


def take_reminder_steps(session: Session, *, now: datetime) -> int:
    """Queue the reminders that are due for urgent notices nobody acknowledged; returns how many notices."""
    stepped = 0
    for index, step in enumerate(REMINDER_STEPS):
        due = select(Notice.id).where(
            Notice.priority == NoticePriority.HIGH,
            Notice.acknowledged_at.is_(None),
            Notice.reminders_sent == index,
            Notice.created_at <= now - step.after,
        )
        # Conditional on the step still being `index`, so two dispatchers never both take it.
        taken = list(
            session.scalars(
                update(Notice)
                .where(Notice.id.in_(due.limit(500).scalar_subquery()), Notice.reminders_sent == index)
                .values(reminders_sent=index + 1)
                .returning(Notice.id)
                .execution_options(synchronize_session=False)
            )
        )
        if not taken:
            continue
        stepped += len(taken)
        if step.channel is DeliveryChannel.SMS:
            insert_deliveries(
                session,
                [
                    {"notice_pk": pk, "channel": DeliveryChannel.SMS, "purpose": DeliveryPurpose.REMINDER}
                    for pk in taken
                ],
            )
        else:
            queue_pushes(
                session,
                list(session.scalars(select(Notice).where(Notice.id.in_(taken)))),
                purpose=DeliveryPurpose.REMINDER,
            )
    return stepped


def claim_due(session: Session, *, now: datetime, limit: int, lease: timedelta) -> list[Job]:
    """Claim up to `limit` due deliveries for one lease and describe how to send each."""
    due = (
        select(Delivery.id)
        .where(Delivery.state == DeliveryState.PENDING, Delivery.next_attempt_at <= now)
        .order_by(Delivery.next_attempt_at)
        .limit(limit)
        # Several dispatchers may run: each takes rows the others have not locked.
        .with_for_update(skip_locked=True)
    )
    claimed = list(
        session.scalars(
            update(Delivery)
            .where(Delivery.id.in_(due.scalar_subquery()))
            .values(next_attempt_at=now + lease, attempts=Delivery.attempts + 1)
            .returning(Delivery.id)
            .execution_options(synchronize_session=False)
        )
    )
    if not claimed:
        return []
    rows = session.execute(
        # The number customs gave it, or until then the enterprise's own.
        select(Delivery, Notice, User, Device, func.coalesce(_declarations.c.invt_no, _declarations.c.cop_no))
        .join(Notice, Notice.id == Delivery.notice_pk)
        .join(User, User.id == Notice.recipient_id)
        .outerjoin(Device, Device.id == Delivery.device_id)
        .outerjoin(_declarations, _declarations.c.id == Notice.declaration_id)
        .where(Delivery.id.in_(claimed))
        .order_by(Delivery.id)
    )
    jobs: list[Job] = []
    skipped: list[int] = []
    for delivery, notice, user, device, number in rows:
        if _no_longer_needed(delivery, notice, now) or _not_theirs_now(notice, user, device, now):
            skipped.append(delivery.id)
            continue
        jobs.append(_job(delivery, notice, user, device, number))
    if skipped:
        session.execute(
            update(Delivery)
            .where(Delivery.id.in_(skipped))
            .values(state=DeliveryState.SKIPPED)
            .execution_options(synchronize_session=False)
        )
    return jobs


def record_results(session: Session, results: Sequence[Result], *, now: datetime) -> None:
    """Settle each sent delivery: done, retry later, give up, or retire a dead token."""
    sent = [result for result in results if isinstance(result.outcome, Sent)]
    if sent:
        session.execute(
            update(Delivery),
            [
                {
                    "id": result.job.delivery_id,
                    "state": DeliveryState.SENT,
                    "sent_at": now,
                    "provider_message_id": result.outcome.provider_message_id,
                    "last_error": None,
                }
                for result in sent
                if isinstance(result.outcome, Sent)
            ],
        )
        session.execute(
            update(Notice)
            .where(
                Notice.id.in_(
                    {result.job.notice_pk for result in sent if result.job.purpose is not DeliveryPurpose.CLEAR}
                ),
                Notice.first_sent_at.is_(None),
            )
            .values(first_sent_at=now)
            .execution_options(synchronize_session=False)
        )
    for result in results:
        outcome = result.outcome
        if isinstance(outcome, Retry):
            if result.job.attempts >= MAX_ATTEMPTS:
                _fail(
                    session,
                    result.job,
                    DeliveryState.FAILED,
                    f"gave up after {result.job.attempts} tries: {outcome.reason}",
                )
            else:
                _retry_later(session, result.job, outcome, now=now)
        elif isinstance(outcome, InvalidToken):
            _fail(session, result.job, DeliveryState.INVALID_TOKEN, outcome.reason)
            if result.job.device_pk is not None and result.job.target is not None:
                invalidate_token(session, result.job.device_pk, reason=outcome.reason, token=result.job.target.token)
        elif isinstance(outcome, Failed):
            _fail(session, result.job, DeliveryState.FAILED, outcome.reason)


def depth(session: Session) -> tuple[int, float]:
    """How many deliveries are pending, and the age in seconds of the oldest of them (0 when none)."""
    count, oldest = session.execute(
        select(func.count(), func.min(Delivery.created_at)).where(Delivery.state == DeliveryState.PENDING)
    ).one()
    return count, (clock.utcnow() - oldest).total_seconds() if oldest is not None else 0.0


def retry_delay(attempts: int, retry_after: float | None) -> timedelta:
    """Exponential backoff with jitter, never sooner than the provider asked."""
    ceiling = min(FIRST_RETRY * 2 ** (attempts - 1), LONGEST_RETRY)
    # "Equal jitter": at least half the backoff, so retries spread out without collapsing to zero.
    delay = ceiling / 2 + ceiling / 2 * random.random()
    if retry_after is not None:
        delay = max(delay, timedelta(seconds=retry_after))
    return delay


def _no_longer_needed(delivery: Delivery, notice: Notice, now: datetime) -> bool:
    if delivery.purpose is DeliveryPurpose.CLEAR:
        return False
    # The app already has it (it acknowledged over the stream or the catch-up), or it is old news.
    return notice.acknowledged_at is not None or notice.created_at < now - PUSH_USEFUL_FOR


def _not_theirs_now(notice: Notice, user: User, device: Device | None, now: datetime) -> bool:
    # The device chosen at queuing (hours ago after quiet hours, or from the officers a process keeps for seconds,
    # app/notices/officers.py) may since have been removed, lost its permission or token, or gone to another user.
    if device is None:
        return False
    return not device.is_active(now) or device.user_id != notice.recipient_id or not user.is_active


def _job(delivery: Delivery, notice: Notice, user: User, device: Device | None, number: str | None) -> Job:
    tail = (number or notice.notice_id.hex)[-4:]
    label = Message(PUSH_LABELS[notice.kind])
    title = Message(
        REMINDER_TITLE if delivery.purpose is DeliveryPurpose.REMINDER else PUSH_TITLE, label=label, tail=tail
    )
    sms_text = Message(SMS_TEXT, label=label, tail=tail).in_language(user.language)
    family = notice.kind.value.split(".")[0]
    message = PushMessage(
        notice_id=str(notice.notice_id),
        title=title.in_language(user.language),
        # A rebooked inspection replaces the earlier push about the same declaration.
        collapse_key=f"{notice.declaration_id or notice.notice_id}:{family}",
        high_priority=notice.priority is NoticePriority.HIGH,
        clear=delivery.purpose is DeliveryPurpose.CLEAR,
    )
    target = None
    if device is not None:
        target = PushTarget(
            token=device.token,
            platform=device.platform,
            apns_environment=device.apns_environment,
            bundle_id=device.bundle_id,
        )
    return Job(
        delivery_id=delivery.id,
        notice_pk=notice.id,
        channel=delivery.channel,
        purpose=delivery.purpose,
        attempts=delivery.attempts,
        device_pk=device.id if device else None,
        provider=device.provider.value if device else None,
        target=target,
        phone=user.phone,
        message=message,
        sms_text=sms_text,
    )


def _retry_later(session: Session, job: Job, outcome: Retry, *, now: datetime) -> None:
    session.execute(
        update(Delivery)
        .where(Delivery.id == job.delivery_id)
        .values(next_attempt_at=now + retry_delay(job.attempts, outcome.after_seconds), last_error=outcome.reason[:300])
        .execution_options(synchronize_session=False)
    )


def _fail(session: Session, job: Job, state: DeliveryState, reason: str) -> None:
    session.execute(
        update(Delivery)
        .where(Delivery.id == job.delivery_id)
        .values(state=state, last_error=reason[:300])
        .execution_options(synchronize_session=False)
    )


def insert_deliveries(session: Session, rows: list[dict]) -> None:
    """Delivery rows in one INSERT: each names `notice_pk`, `channel` and `purpose`, and may name the rest."""
    if rows:
        now = clock.utcnow()
        defaults = {"device_id": None, "state": DeliveryState.PENDING, "attempts": 0, "next_attempt_at": now}
        session.execute(Delivery.__table__.insert(), [{**defaults, "created_at": now, **row} for row in rows])
