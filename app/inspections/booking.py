"""Booking a task into a slot, moving the booking, and returning missed appointments to be booked again."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.common import clock
from app.declarations.status import InvalidTransition
from app.errors import InvalidInput
from app.inspections.models import InspectionSlot, InspectionTask, TaskStatus
from app.inspections.rules import BOOKABLE, SHANGHAI, SlotFull, SlotUnavailable
from app.inspections.tasks import declaration_number, lock_task_for, notify_parties, record_step
from app.notices.models import NoticeKind
from app.notices.service import Message
from app.users.models import User

T = TaskStatus
EXPIRE_BATCH = 500


def book(session: Session, task_id: int, *, slot_id: int, booker: User) -> InspectionTask:
    """Book a slot for a task, or move its booking to another slot (the old place is given back)."""
    task = lock_task_for(session, task_id, viewer=booker)
    if task.status not in BOOKABLE:
        raise InvalidTransition(
            f"Inspection task {task.task_no} is {task.status.value}; only a notified or appointed task can be booked."
        )
    if task.slot_id == slot_id:
        return task  # a retried request
    slot = session.get(InspectionSlot, slot_id)
    if slot is None:
        raise InvalidInput.of_field("slot_id", f"Inspection slot {slot_id} does not exist.")
    now = clock.utcnow()
    _check_bookable(task, slot, now)
    if not _take_place(session, slot):
        raise SlotFull(f"The slot at {_local(slot.starts_at)} at {slot.site.code} is fully booked; choose another.")
    previous = task.slot
    if previous is not None:
        give_back_place(session, previous)
    task.site = slot.site
    task.slot = slot
    task.appointment_at = slot.starts_at
    task.booked_by_id = booker.id
    task.appointed_at = now
    task.status = T.APPOINTED
    when = f"{slot.site.name}（{slot.site.code}）{_local(slot.starts_at)}–{_local(slot.ends_at, '%H:%M')}"
    record_step(
        session,
        task,
        step="inspection_rebooked" if previous else "inspection_booked",
        title=f"查验预约{'已变更' if previous else '成功'}：{when}",
        actor=booker,
        details={
            "slot_id": slot.id,
            "starts_at": slot.starts_at.isoformat(),
            "ends_at": slot.ends_at.isoformat(),
            "previous_slot_id": previous.id if previous else None,
        },
    )
    number = declaration_number(task.declaration)
    notify_parties(
        session,
        task,
        NoticeKind.INSPECTION_SCHEDULED,
        # Each booking is its own event, even back to a slot booked before.
        source=f"booked/{task.appointed_at.isoformat()}",
        title=Message(
            f"查验预约{'已变更' if previous else '成功'} {number}",
            f"Inspection {'rebooked' if previous else 'booked'}: {number}",
        ),
        body=Message(
            f"查验任务 {task.task_no} 预约在 {when}。", f"Task {task.task_no} is booked for {when} (China time)."
        ),
    )
    return task


def _check_bookable(task: InspectionTask, slot: InspectionSlot, now: datetime) -> None:
    site = slot.site
    if not site.is_active:
        raise SlotUnavailable(f"Inspection site {site.code} is closed for bookings.")
    if site.customs_code != task.declaration.customs_code:
        raise SlotUnavailable(
            f"Inspection site {site.code} belongs to customs office {site.customs_code}; "
            f"this declaration is under {task.declaration.customs_code}."
        )
    if slot.starts_at <= now:
        raise SlotUnavailable(f"The slot at {_local(slot.starts_at)} has already begun; choose a later one.")


def _take_place(session: Session, slot: InspectionSlot) -> bool:
    # One conditional UPDATE, not read-then-write: on PostgreSQL a concurrent booking waits for
    # the row lock and then re-checks `booked < capacity` against the committed count, so the
    # slot cannot overbook however many requests race for its last place.
    result = session.execute(
        update(InspectionSlot)
        .where(InspectionSlot.id == slot.id, InspectionSlot.booked < InspectionSlot.capacity)
        .values(booked=InspectionSlot.booked + 1)
        .execution_options(synchronize_session=False)
    )
    session.expire(slot, ["booked"])
    return result.rowcount == 1  # type: ignore[attr-defined]


def give_back_place(session: Session, slot: InspectionSlot) -> None:
    """Free the place a task held in `slot` (a moved booking, a missed appointment, a closed task)."""
    session.execute(
        update(InspectionSlot)
        .where(InspectionSlot.id == slot.id, InspectionSlot.booked > 0)
        .values(booked=InspectionSlot.booked - 1)
        .execution_options(synchronize_session=False)
    )
    session.expire(slot, ["booked"])


def expire_missed_appointments(session: Session, *, limit: int = EXPIRE_BATCH) -> list[InspectionTask]:
    """Appointed tasks whose slot ended without goods staged go back to be booked again."""
    now = clock.utcnow()
    missed = list(
        session.scalars(
            select(InspectionTask)
            .join(InspectionTask.slot)
            .where(
                InspectionTask.status == T.APPOINTED,
                InspectionTask.appointment_at < now,
                InspectionSlot.ends_at <= now,
            )
            .order_by(InspectionTask.appointment_at, InspectionTask.id)
            .limit(limit)
            # A task someone is changing right now is left for the next run.
            .with_for_update(of=InspectionTask, skip_locked=True)
        )
    )
    for task in missed:
        slot = task.slot
        assert slot is not None
        give_back_place(session, slot)
        task.no_show_count += 1
        record_step(
            session,
            task,
            step="appointment_missed",
            title=f"错过查验预约（{_local(slot.starts_at)}），请重新预约",
            occurred_at=slot.ends_at,
            details={"slot_id": slot.id, "starts_at": slot.starts_at.isoformat(), "no_show_count": task.no_show_count},
        )
        task.status = T.NOTIFIED
        task.site = None
        task.slot = None
        task.appointment_at = None
        number, starts = declaration_number(task.declaration), _local(slot.starts_at)
        notify_parties(
            session,
            task,
            NoticeKind.INSPECTION_SCHEDULED,
            source=f"missed/{task.no_show_count}",
            title=Message(f"查验预约已错过 {number}", f"Inspection slot missed: {number}"),
            body=Message(
                f"查验任务 {task.task_no} 的预约时段 {starts} 已结束，货物未备妥；请重新预约。",
                f"The slot at {starts} (China time) for task {task.task_no} ended before the goods were ready; "
                "please book again.",
            ),
        )
    return missed


def _local(moment: datetime, pattern: str = "%Y-%m-%d %H:%M") -> str:
    return moment.astimezone(SHANGHAI).strftime(pattern)
