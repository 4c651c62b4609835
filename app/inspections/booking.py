"""Booking a task into a slot, moving the booking, and returning missed appointments to be booked again."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.common import clock
from app.declarations.status import InvalidTransition
from app.errors import InvalidInput
from app.i18n import N_, _
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
            _(
                "Inspection task %(task_no)s is %(status)s; only a notified or appointed task can be booked.",
                task_no=task.task_no,
                status=task.status.value,
            )
        )
    if task.slot_id == slot_id:
        return task  # a retried request
    slot = session.get(InspectionSlot, slot_id)
    if slot is None:
        raise InvalidInput.of_field("slot_id", _("Inspection slot %(slot_id)s does not exist.", slot_id=slot_id))
    now = clock.utcnow()
    _check_bookable(task, slot, now)
    if not _take_place(session, slot):
        raise SlotFull(
            _(
                "The slot at %(local)s at %(code)s is fully booked; choose another.",
                local=_local(slot.starts_at),
                code=slot.site.code,
            )
        )
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
            N_("Inspection rebooked: %(number)s") if previous else N_("Inspection booked: %(number)s"), number=number
        ),
        body=Message(N_("Task %(task_no)s is booked for %(when)s (China time)."), task_no=task.task_no, when=when),
    )
    return task


def _check_bookable(task: InspectionTask, slot: InspectionSlot, now: datetime) -> None:
    site = slot.site
    if not site.is_active:
        raise SlotUnavailable(_("Inspection site %(code)s is closed for bookings.", code=site.code))
    if site.customs_code != task.declaration.customs_code:
        raise SlotUnavailable(
            _(
                "Inspection site %(code)s belongs to customs office %(customs_code)s; this declaration is under "
                "%(declaration_customs_code)s.",
                code=site.code,
                customs_code=site.customs_code,
                declaration_customs_code=task.declaration.customs_code,
            )
        )
    if slot.starts_at <= now:
        raise SlotUnavailable(
            _("The slot at %(local)s has already begun; choose a later one.", local=_local(slot.starts_at))
        )


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
            title=Message(N_("Inspection slot missed: %(number)s"), number=number),
            body=Message(
                N_(
                    "The slot at %(starts)s (China time) for task %(task_no)s ended before the goods were ready; "
                    "please book again."
                ),
                starts=starts,
                task_no=task.task_no,
            ),
        )
    return missed


def _local(moment: datetime, pattern: str = "%Y-%m-%d %H:%M") -> str:
    return moment.astimezone(SHANGHAI).strftime(pattern)
