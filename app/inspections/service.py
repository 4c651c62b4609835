"""Inspections (DOMAIN.md §3.2): issue and notify, book a 7×24 slot, stage the goods, inspect, record
the result with photos, and close when the declaration is released."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session, contains_eager

from app.audit import service as audit
from app.audit.service import Actor
from app.common import clock
from app.common.pagination import Page, paginate, where_given
from app.declarations import service as declarations
from app.declarations import status as declaration_status
from app.declarations.models import BizStep, Declaration, DeclarationStatus, Disposition
from app.declarations.status import InvalidTransition
from app.errors import Conflict, DomainError, InvalidInput, NotFound
from app.inspections.models import (
    Disposal,
    InspectionMethod,
    InspectionPhoto,
    InspectionResult,
    InspectionSite,
    InspectionSlot,
    InspectionTask,
    TaskSource,
    TaskStatus,
)
from app.notices import service as notices
from app.notices.models import NoticeKind
from app.notices.service import Message
from app.users.models import Role, User

T = TaskStatus
SHANGHAI = ZoneInfo("Asia/Shanghai")
SYSTEM_ACTOR = Actor(user=None, client_addr=None)

# Customs has the list and has not finished with it: the statuses an inspection can start from.
INSPECTABLE = frozenset(
    {
        DeclarationStatus.ACCEPTED,
        DeclarationStatus.MANUAL_REVIEW,
        DeclarationStatus.AUDITED,
        DeclarationStatus.INSPECTION,
        DeclarationStatus.DETAINED,
    }
)
BOOKABLE = frozenset({T.NOTIFIED, T.APPOINTED})
HOLDS_A_PLACE = frozenset({T.APPOINTED, T.GOODS_READY})
# What the officer's queue shows unless asked otherwise: tasks still to be inspected at the site.
QUEUE_STATUSES = (T.APPOINTED, T.GOODS_READY, T.IN_PROGRESS, T.RECHECK)

MIN_SLOT_MINUTES = 15
MAX_SLOT_MINUTES = 24 * 60
MAX_SLOT_CAPACITY = 1000
MAX_SLOTS_PER_CALL = 1000
# Slots never overlap and last at least 15 minutes, so a week's window lists at most 673 of them.
MAX_SLOT_WINDOW = timedelta(days=7)
MAX_QUEUE_WINDOW = timedelta(days=1)
QUEUE_LIMIT = 500
EXPIRE_BATCH = 500
MAX_PHOTOS_PER_TASK = 30
PHOTO_CHUNK = 64 * 1024
PHOTO_DIR = "inspections"
# File signatures: the client's Content-Type and file name prove nothing about the bytes.
PHOTO_SIGNATURES = ((b"\xff\xd8\xff", "image/jpeg", ".jpg"), (b"\x89PNG\r\n\x1a\n", "image/png", ".png"))

METHOD_LABELS = {
    InspectionMethod.MACHINE: Message("机检", "machine (X-ray) inspection"),
    InspectionMethod.OPEN_BOX: Message("开箱查验", "open-box inspection"),
    InspectionMethod.SEAL_CHECK: Message("验封", "seal check"),
    InspectionMethod.DOCUMENT: Message("单证审核", "document check"),
}
DISPOSAL_LABELS = {
    Disposal.RELEASE: Message("放行", "release"),
    Disposal.AMEND: Message("改单", "amend the declaration"),
    Disposal.TAX: Message("补税", "pay additional duty"),
    Disposal.SHIP_BACK: Message("退运", "ship back"),
    Disposal.DETAIN_TRANSFER: Message("扣留移交", "detain and transfer"),
}


class SlotFull(Conflict):
    code, title = "slot_full", "Inspection slot fully booked"


class SlotUnavailable(Conflict):
    code, title = "slot_unavailable", "Inspection slot cannot be booked"


class SiteCodeTaken(Conflict):
    code, title = "site_code_taken", "Inspection site code already registered"


class PhotoLimitReached(Conflict):
    code, title = "photo_limit_reached", "Too many photos for one inspection"


class UnsupportedPhoto(InvalidInput):
    code, title = "unsupported_photo", "Not a JPEG or PNG image"


class PhotoTooLarge(DomainError):
    status, code, title = 413, "photo_too_large", "Photo too large"


# Sites and slots


def get_site(session: Session, site_id: int) -> InspectionSite:
    """A site by id, or NotFound."""
    site = session.get(InspectionSite, site_id)
    if site is None:
        raise NotFound(f"Inspection site {site_id} does not exist.")
    return site


def find_site_by_code(session: Session, code: str) -> InspectionSite | None:
    """A site by its code, or None."""
    return session.scalar(select(InspectionSite).where(InspectionSite.code == code))


def list_sites(
    session: Session,
    *,
    customs_code: str | None = None,
    active: bool | None = None,
    cursor: int | None = None,
    limit: int,
) -> Page[InspectionSite]:
    """Inspection sites, newest first."""
    statement = where_given(
        select(InspectionSite), (InspectionSite.customs_code, customs_code), (InspectionSite.is_active, active)
    )
    return paginate(session, statement, key=InspectionSite.id, cursor=cursor, limit=limit)


def create_site(
    session: Session,
    *,
    code: str,
    name: str,
    customs_code: str,
    location: str | None = None,
    actor: Actor = SYSTEM_ACTOR,
) -> InspectionSite:
    """Register an inspection site under a customs office; its code must be new."""
    if find_site_by_code(session, code) is not None:
        raise SiteCodeTaken(
            f"An inspection site with code {code} already exists.", errors={"json": {"code": ["Already registered."]}}
        )
    site = InspectionSite(code=code, name=name, customs_code=customs_code, location=location)
    session.add(site)
    session.flush()
    audit.record(session, action="inspection.site_created", actor=actor, target=site, details=_site_snapshot(site))
    return site


def update_site(session: Session, site_id: int, *, actor: Actor, **changes: Any) -> InspectionSite:
    """Rename, move or close a site; a closed site takes no new bookings, booked ones stand."""
    site = get_site(session, site_id)
    before = _site_snapshot(site)
    if "active" in changes:
        site.is_active = changes.pop("active")
    for field, value in changes.items():
        setattr(site, field, value)
    session.flush()
    changed = audit.changes(before, _site_snapshot(site))
    if changed:
        audit.record(session, action="inspection.site_updated", actor=actor, target=site, details=changed)
    return site


def _site_snapshot(site: InspectionSite) -> dict[str, Any]:
    return {
        "code": site.code,
        "name": site.name,
        "customs_code": site.customs_code,
        "location": site.location,
        "active": site.is_active,
    }


def open_slots(
    session: Session,
    site: InspectionSite,
    *,
    start: datetime,
    end: datetime,
    slot_minutes: int,
    capacity: int,
    actor: Actor = SYSTEM_ACTOR,
) -> list[InspectionSlot]:
    """Fill [start, end) with back-to-back slots; times an existing slot covers are skipped, so it is safe to repeat."""
    if not MIN_SLOT_MINUTES <= slot_minutes <= MAX_SLOT_MINUTES:
        raise InvalidInput.of_field("slot_minutes", f"Between {MIN_SLOT_MINUTES} and {MAX_SLOT_MINUTES} minutes.")
    if not 1 <= capacity <= MAX_SLOT_CAPACITY:
        raise InvalidInput.of_field("capacity", f"Between 1 and {MAX_SLOT_CAPACITY}.")
    length = timedelta(minutes=slot_minutes)
    count = (end - start) // length if end > start else 0
    if count < 1:
        raise InvalidInput.of_field("end", "Leave room for at least one slot after start.")
    if count > MAX_SLOTS_PER_CALL:
        raise InvalidInput.of_field("end", f"At most {MAX_SLOTS_PER_CALL} slots per call; open a shorter range.")
    # Two openings of the same site at once could otherwise interleave overlapping slots.
    session.execute(select(InspectionSite.id).where(InspectionSite.id == site.id).with_for_update())
    existing = list(
        session.scalars(
            select(InspectionSlot)
            .where(InspectionSlot.site_id == site.id, InspectionSlot.starts_at < end, InspectionSlot.ends_at > start)
            .order_by(InspectionSlot.starts_at)
        )
    )
    created: list[InspectionSlot] = []
    position = 0
    for index in range(count):
        starts_at = start + index * length
        ends_at = starts_at + length
        # Existing slots never overlap each other, so they are sorted by end time as well.
        while position < len(existing) and existing[position].ends_at <= starts_at:
            position += 1
        if position < len(existing) and existing[position].starts_at < ends_at:
            continue
        created.append(
            InspectionSlot(site_id=site.id, starts_at=starts_at, ends_at=ends_at, capacity=capacity, booked=0)
        )
    session.add_all(created)
    session.flush()
    if created:
        audit.record(
            session,
            action="inspection.slots_opened",
            actor=actor,
            target=site,
            details={
                "start": start.isoformat(),
                "end": end.isoformat(),
                "slot_minutes": slot_minutes,
                "capacity": capacity,
                "created": len(created),
            },
        )
    return created


def list_slots(
    session: Session,
    site_id: int,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    available: bool = False,
) -> list[InspectionSlot]:
    """A site's slots starting in [since, until), by time; `available` keeps only future ones with room."""
    site = get_site(session, site_id)
    now = clock.utcnow()
    since = since or now
    until = until or since + timedelta(days=1)
    _check_window(since, until, MAX_SLOT_WINDOW)
    statement = select(InspectionSlot).where(
        InspectionSlot.site_id == site.id, InspectionSlot.starts_at >= since, InspectionSlot.starts_at < until
    )
    if available:
        statement = statement.where(InspectionSlot.starts_at > now, InspectionSlot.booked < InspectionSlot.capacity)
    return list(session.scalars(statement.order_by(InspectionSlot.starts_at)))


def _check_window(since: datetime, until: datetime, longest: timedelta) -> None:
    if until <= since:
        raise InvalidInput.of_field("until", "Must be after since.", location="query")
    if until - since > longest:
        raise InvalidInput.of_field("until", f"The window may span at most {_describe(longest)}.", location="query")


def _describe(span: timedelta) -> str:
    return f"{span.days} day{'s' if span.days != 1 else ''}"


# Issuing


def find_open_task(session: Session, declaration_id: int, *, lock: bool = False) -> InspectionTask | None:
    """The declaration's task that is not closed yet, or None; `lock` holds its row until commit."""
    statement = select(InspectionTask).where(
        InspectionTask.declaration_id == declaration_id, InspectionTask.status != T.CLOSED
    )
    if lock:
        statement = statement.with_for_update().execution_options(populate_existing=True)
    return session.scalar(statement)


def issue_task(
    session: Session,
    declaration: Declaration,
    *,
    source: TaskSource,
    occurred_at: datetime,
    actor: User | None = None,
    receipt_id: int | None = None,
    method: InspectionMethod = InspectionMethod.MACHINE,
    reason: str | None = None,
) -> InspectionTask:
    """Open an inspection task and tell the declarant and the warehouse; returns the open one if there is one."""
    # Serialises two issues for one declaration (a 500 receipt and an officer at once); the
    # partial unique index would otherwise turn the loser into a 500 error.
    session.execute(select(Declaration.id).where(Declaration.id == declaration.id).with_for_update())
    existing = find_open_task(session, declaration.id)
    if existing is not None:
        return existing
    if declaration.status not in INSPECTABLE:
        raise InvalidTransition(
            f"Declaration {declaration.id} is {declaration.status.value}; it cannot be inspected from there."
        )
    task = InspectionTask(
        # The number embeds the row id, which only the INSERT yields; a random value holds the
        # unique column until then.
        task_no=secrets.token_hex(16),
        declaration=declaration,
        source=source,
        method=method,
        reason=reason,
        receipt_id=receipt_id,
        issued_by_id=actor.id if actor else None,
        issued_at=occurred_at,
        status=T.ISSUED,
    )
    session.add(task)
    session.flush()
    task.task_no = _task_number(declaration, task)
    _record(
        session,
        task,
        step="inspection_issued",
        title=f"海关下达查验指令（{METHOD_LABELS[method].zh}）",
        occurred_at=occurred_at,
        actor=actor,
        receipt_id=receipt_id,
        details={"source": source.value, "method": method.value, "reason": reason},
    )
    number, label = _number(declaration), METHOD_LABELS[method]
    _notify(
        session,
        task,
        NoticeKind.INSPECTION_ISSUED,
        source="issued",
        title=Message(f"查验指令 {number}", f"Inspection ordered: {number}"),
        body=Message(
            f"海关对清单 {number} 下达{label.zh}指令（{task.task_no}），请预约查验时段。",
            f"Customs ordered a {label.en} of {number} (task {task.task_no}); please book a slot.",
        ),
    )
    # The notices are written in this transaction, so ISSUED → NOTIFIED happens at once.
    task.status = T.NOTIFIED
    task.notified_at = clock.utcnow()
    return task


def order_inspection(
    session: Session,
    *,
    declaration_id: int,
    officer: User,
    source: TaskSource = TaskSource.MANUAL,
    method: InspectionMethod = InspectionMethod.MACHINE,
    reason: str | None = None,
) -> InspectionTask:
    """An officer targets a declaration's goods (布控); the declaration moves to inspection."""
    # Locked first, so two officers ordering at once move the declaration and record it once.
    declaration = session.scalar(
        select(Declaration)
        .where(Declaration.id == declaration_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if declaration is None:
        raise InvalidInput.of_field("declaration_id", f"Declaration {declaration_id} does not exist.")
    existing = find_open_task(session, declaration.id)
    if existing is not None:
        return existing
    if declaration.status not in INSPECTABLE:
        raise InvalidTransition(
            f"Declaration {declaration.id} is {declaration.status.value}; it cannot be inspected from there."
        )
    now = clock.utcnow()
    if (
        declaration_status.STATUS_RANK[declaration.status]
        < declaration_status.STATUS_RANK[DeclarationStatus.INSPECTION]
    ):
        declaration_status.transition(
            session,
            declaration,
            DeclarationStatus.INSPECTION,
            step="officer_inspection_order",
            title="关员布控查验",
            occurred_at=now,
            actor=officer,
        )
    return issue_task(session, declaration, source=source, occurred_at=now, actor=officer, method=method, reason=reason)


def _task_number(declaration: Declaration, task: InspectionTask) -> str:
    # CY (查验) + customs office + issue date in China + row id: readable and unique without a counter.
    day = task.issued_at.astimezone(SHANGHAI).strftime("%Y%m%d")
    return f"CY{declaration.customs_code}{day}{task.id:08d}"


# Reading


def _visible_tasks(viewer: User) -> Select[Any]:
    return (
        select(InspectionTask)
        .join(InspectionTask.declaration)
        .where(declarations.visible_to(viewer))
        .options(contains_eager(InspectionTask.declaration))
    )


def get_task_for(session: Session, task_id: int, *, viewer: User) -> InspectionTask:
    """A task as `viewer` may see it: one on a declaration they cannot see is simply not there (404)."""
    task = session.scalar(_visible_tasks(viewer).where(InspectionTask.id == task_id))
    if task is None:
        raise NotFound(f"Inspection task {task_id} does not exist.")
    return task


def _lock_task_for(session: Session, task_id: int, *, viewer: User) -> InspectionTask:
    # Every change to a task starts here: the row lock serialises a declarant and a warehouse
    # operator booking the same task at once, which would otherwise take two places.
    task = session.scalar(
        _visible_tasks(viewer)
        .where(InspectionTask.id == task_id)
        .with_for_update(of=InspectionTask)
        .execution_options(populate_existing=True)
    )
    if task is None:
        raise NotFound(f"Inspection task {task_id} does not exist.")
    return task


def list_tasks(
    session: Session,
    *,
    viewer: User,
    status: TaskStatus | None = None,
    site_id: int | None = None,
    declaration_id: int | None = None,
    cursor: int | None = None,
    limit: int,
) -> Page[InspectionTask]:
    """Tasks on declarations the viewer may see, newest first."""
    statement = where_given(
        _visible_tasks(viewer),
        (InspectionTask.status, status),
        (InspectionTask.site_id, site_id),
        (InspectionTask.declaration_id, declaration_id),
    )
    return paginate(session, statement, key=InspectionTask.id, cursor=cursor, limit=limit)


def officer_queue(
    session: Session,
    site_id: int,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    status: Iterable[TaskStatus] | None = None,
) -> dict[str, Any]:
    """A site's tasks by appointment time within at most one day (default: today in China)."""
    site = get_site(session, site_id)
    since = since or clock.utcnow().astimezone(SHANGHAI).replace(hour=0, minute=0, second=0, microsecond=0)
    until = until or since + MAX_QUEUE_WINDOW
    _check_window(since, until, MAX_QUEUE_WINDOW)
    # Bounded by the capacity of a day's slots; the limit only guards against a misconfigured site.
    tasks = session.scalars(
        select(InspectionTask)
        .join(InspectionTask.declaration)
        .options(contains_eager(InspectionTask.declaration))
        .where(
            InspectionTask.site_id == site.id,
            InspectionTask.appointment_at >= since,
            InspectionTask.appointment_at < until,
            InspectionTask.status.in_(list(status or QUEUE_STATUSES)),
        )
        .order_by(InspectionTask.appointment_at, InspectionTask.id)
        .limit(QUEUE_LIMIT)
    )
    return {"site": site, "since": since, "until": until, "items": list(tasks)}


# Booking


def book(session: Session, task_id: int, *, slot_id: int, booker: User) -> InspectionTask:
    """Book a slot for a task, or move its booking to another slot (the old place is given back)."""
    task = _lock_task_for(session, task_id, viewer=booker)
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
        _give_back_place(session, previous)
    task.site = slot.site
    task.slot = slot
    task.appointment_at = slot.starts_at
    task.booked_by_id = booker.id
    task.appointed_at = now
    task.status = T.APPOINTED
    when = f"{slot.site.name}（{slot.site.code}）{_local(slot.starts_at)}–{_local(slot.ends_at, '%H:%M')}"
    _record(
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
    number = _number(task.declaration)
    _notify(
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


def _give_back_place(session: Session, slot: InspectionSlot) -> None:
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
        _give_back_place(session, slot)
        task.no_show_count += 1
        _record(
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
        number, starts = _number(task.declaration), _local(slot.starts_at)
        _notify(
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


# Inspecting


def mark_goods_ready(session: Session, task_id: int, *, operator: User) -> InspectionTask:
    """The warehouse has staged the goods (or put the parcel on the X-ray line)."""
    task = _lock_task_for(session, task_id, viewer=operator)
    if task.status is T.GOODS_READY:
        return task
    if task.status is not T.APPOINTED:
        raise InvalidTransition(
            f"Inspection task {task.task_no} is {task.status.value}; goods are staged for a booked appointment."
        )
    task.status = T.GOODS_READY
    task.goods_ready_at = clock.utcnow()
    _record(session, task, step="inspection_goods_ready", title="货物已备妥，等待查验", actor=operator)
    return task


def start(session: Session, task_id: int, *, officer: User) -> InspectionTask:
    """An officer begins the inspection of staged goods."""
    task = _lock_task_for(session, task_id, viewer=officer)
    if task.status is T.IN_PROGRESS and task.officer_id == officer.id:
        return task
    if task.status is not T.GOODS_READY:
        raise InvalidTransition(
            f"Inspection task {task.task_no} is {task.status.value}; an inspection starts once the goods are ready."
        )
    task.status = T.IN_PROGRESS
    task.officer_id = officer.id
    task.started_at = clock.utcnow()
    _record(
        session,
        task,
        step="inspection_started",
        title=f"查验开始（{METHOD_LABELS[task.method].zh}）",
        actor=officer,
        details={"method": task.method.value},
    )
    return task


def recheck(session: Session, task_id: int, *, officer: User, reason: str | None = None) -> InspectionTask:
    """A suspicious machine image sends the goods to open-box re-inspection."""
    task = _lock_task_for(session, task_id, viewer=officer)
    if task.status is T.RECHECK:
        return task
    if task.status is not T.IN_PROGRESS or task.method is InspectionMethod.OPEN_BOX:
        raise InvalidTransition(
            f"Inspection task {task.task_no} is {task.status.value} by {task.method.value}; "
            "only an inspection in progress by another method goes to open-box re-inspection."
        )
    previous = task.method
    task.method = InspectionMethod.OPEN_BOX
    task.status = T.RECHECK
    task.recheck_at = clock.utcnow()
    _record(
        session,
        task,
        step="inspection_recheck",
        title=f"{METHOD_LABELS[previous].zh}发现疑点，转开箱复验",
        actor=officer,
        details={"previous_method": previous.value, "reason": reason},
    )
    return task


def record_result(
    session: Session,
    task_id: int,
    *,
    officer: User,
    result: InspectionResult,
    notes: str | None = None,
    disposal: Disposal | None = None,
) -> InspectionTask:
    """Record what the inspection found; an abnormal result comes with its disposal."""
    task = _lock_task_for(session, task_id, viewer=officer)
    if task.result is result and task.disposal is disposal and task.result_notes == notes:
        return task  # a retried request
    if task.status not in (T.IN_PROGRESS, T.RECHECK):
        raise InvalidTransition(
            f"Inspection task {task.task_no} is {task.status.value}; a result is recorded for an inspection under way."
        )
    if result is InspectionResult.ABNORMAL and disposal is None:
        raise InvalidInput.of_field("disposal", "An abnormal result needs a disposal.")
    if result is InspectionResult.NORMAL and disposal not in (None, Disposal.RELEASE):
        raise InvalidInput.of_field("disposal", "Goods found normal are released; leave the disposal out.")
    now = clock.utcnow()
    task.result = result
    task.result_notes = notes
    task.result_at = now
    task.disposal = disposal
    photos = session.scalar(select(func.count()).where(InspectionPhoto.task_id == task.id))
    normal = result is InspectionResult.NORMAL
    task.status = T.RESULT_NORMAL if normal else T.RESULT_ABNORMAL
    outcome = Message("正常", "normal")
    _record(
        session,
        task,
        step="inspection_result",
        title="查验结果：正常" if normal else "查验结果：异常",
        actor=officer,
        disposition=Disposition.CONFORMANT if normal else Disposition.NON_CONFORMANT,
        details={"result": result.value, "photos": photos},
    )
    if not normal and disposal is not None:
        label = DISPOSAL_LABELS[disposal]
        outcome = Message(f"异常，处置：{label.zh}", f"abnormal, disposal: {label.en}")
        task.status = T.DISPOSED
        task.disposed_at = now
        _record(
            session,
            task,
            step="inspection_disposed",
            title=f"查验处置：{DISPOSAL_LABELS[disposal].zh}",
            actor=officer,
            disposition=Disposition.NON_CONFORMANT,
            details={"disposal": disposal.value},
        )
    number = _number(task.declaration)
    _notify(
        session,
        task,
        NoticeKind.INSPECTION_RESULT,
        source="result",
        title=Message(f"查验结果 {number}：{outcome.zh}", f"Inspection result for {number}: {outcome.en}"),
        body=Message(
            f"查验任务 {task.task_no} 查验结果：{outcome.zh}。" + (f" 备注：{notes}" if notes else ""),
            f"Task {task.task_no}: {outcome.en}." + (f" Notes: {notes}" if notes else ""),
        ),
    )
    return task


# Photos


def add_photo(
    session: Session,
    task_id: int,
    *,
    officer: User,
    stream: IO[bytes],
    upload_dir: Path,
    max_bytes: int,
) -> InspectionPhoto:
    """Store a JPEG or PNG photo of an inspection; the same photo sent twice is stored once."""
    task = _lock_task_for(session, task_id, viewer=officer)
    if task.started_at is None:
        raise InvalidTransition(f"Inspection task {task.task_no} has not started; photos come from the inspection.")
    head = stream.read(8)
    signature = next((found for found in PHOTO_SIGNATURES if head.startswith(found[0])), None)
    if signature is None:
        raise UnsupportedPhoto(
            "The file is not a JPEG or PNG image.", errors={"files": {"photo": ["Send a JPEG or PNG image."]}}
        )
    _, content_type, suffix = signature
    directory = upload_dir / PHOTO_DIR
    directory.mkdir(parents=True, exist_ok=True)
    stored_name = secrets.token_hex(16) + suffix
    partial = directory / f"{stored_name}.part"
    digest, size = hashlib.sha256(head), len(head)
    try:
        with partial.open("xb") as out:
            out.write(head)
            while chunk := stream.read(PHOTO_CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise PhotoTooLarge(f"A photo may be at most {max_bytes} bytes.")
                digest.update(chunk)
                out.write(chunk)
        sha256 = digest.hexdigest()
        existing = session.scalar(
            select(InspectionPhoto).where(InspectionPhoto.task_id == task.id, InspectionPhoto.sha256 == sha256)
        )
        if existing is not None:
            return existing
        taken = session.scalar(select(func.count()).where(InspectionPhoto.task_id == task.id)) or 0
        if taken >= MAX_PHOTOS_PER_TASK:
            raise PhotoLimitReached(f"Inspection task {task.task_no} already has {taken} photos, the most it keeps.")
        partial.replace(directory / stored_name)
    finally:
        partial.unlink(missing_ok=True)
    photo = InspectionPhoto(
        task_id=task.id,
        stored_name=stored_name,
        content_type=content_type,
        size=size,
        sha256=sha256,
        uploaded_by_id=officer.id,
    )
    session.add(photo)
    try:
        session.flush()
        audit.record(
            session,
            action="inspection.photo_added",
            actor=audit.by(officer),
            target=task,
            details={"photo_id": photo.id, "sha256": sha256, "size": size},
        )
    except BaseException:
        # A commit that fails later leaves an orphan file; harmless, and rarer than this.
        (directory / stored_name).unlink(missing_ok=True)
        raise
    return photo


def list_photos(session: Session, task_id: int, *, viewer: User) -> list[InspectionPhoto]:
    """A task's photos in upload order (at most MAX_PHOTOS_PER_TASK)."""
    task = get_task_for(session, task_id, viewer=viewer)
    return list(
        session.scalars(select(InspectionPhoto).where(InspectionPhoto.task_id == task.id).order_by(InspectionPhoto.id))
    )


def get_photo_for(session: Session, task_id: int, photo_id: int, *, viewer: User) -> InspectionPhoto:
    """A photo of a task `viewer` may see, or NotFound."""
    task = get_task_for(session, task_id, viewer=viewer)
    photo = session.get(InspectionPhoto, photo_id)
    if photo is None or photo.task_id != task.id:
        raise NotFound(f"Photo {photo_id} of inspection task {task_id} does not exist.")
    return photo


def photo_path(upload_dir: Path, photo: InspectionPhoto) -> Path:
    """Where the photo's file is stored."""
    return upload_dir / PHOTO_DIR / photo.stored_name


# Release


def refuse_release_before_result(session: Session, declaration: Declaration) -> None:
    """An officer may release in the app only once the inspection found the goods releasable."""
    task = find_open_task(session, declaration.id, lock=True)
    if task is None or task.status is T.RESULT_NORMAL:
        return
    if task.status is T.DISPOSED and task.disposal is Disposal.RELEASE:
        return
    if task.status is T.DISPOSED and task.disposal is not None:
        raise InvalidTransition(
            f"Inspection task {task.task_no} found the goods abnormal ({DISPOSAL_LABELS[task.disposal].en}); "
            "customs' receipt releases them once the disposal is done."
        )
    raise InvalidTransition(
        f"Inspection task {task.task_no} is {task.status.value}; record the inspection result before releasing."
    )


# Customs' conclusions that end an inspection, whatever stage it reached (customs has the last word).
CONCLUDING = {
    DeclarationStatus.RELEASED: "放行，查验任务结束",
    DeclarationStatus.DETAINED: "扣留，查验任务结束",
    DeclarationStatus.SHIPPED_BACK: "退运，查验任务结束",
    DeclarationStatus.REJECTED: "退单，查验任务结束",
    DeclarationStatus.CANCELLED: "撤单，查验任务结束",
}


def close_when_concluded(
    session: Session, declaration: Declaration, status: DeclarationStatus, *, occurred_at: datetime
) -> None:
    """Release, detention, return, rejection or cancellation ends the declaration's open inspection."""
    if status in CONCLUDING:
        close_open_task(
            session,
            declaration,
            occurred_at=occurred_at,
            title=CONCLUDING[status],
            details={
                "declaration_status": status.value,
                "release_source": getattr(declaration.release_source, "value", None),
            },
        )


def close_open_task(
    session: Session,
    declaration: Declaration,
    *,
    occurred_at: datetime,
    title: str,
    details: dict[str, Any] | None = None,
) -> InspectionTask | None:
    """Close the declaration's open task because customs concluded the declaration (release, detention,
    return); a place it still holds in a slot is given back."""
    task = find_open_task(session, declaration.id, lock=True)
    if task is None:
        return None
    if task.status in HOLDS_A_PLACE and task.slot is not None:
        _give_back_place(session, task.slot)
    disposition = None  # the declaration's own (released, detained, ...) unless a result says more
    if task.result is not None:
        disposition = Disposition.CONFORMANT if task.result is InspectionResult.NORMAL else Disposition.NON_CONFORMANT
    task.status = T.CLOSED
    task.closed_at = occurred_at
    _record(
        session,
        task,
        step="inspection_closed",
        title=title,
        occurred_at=occurred_at,
        disposition=disposition,
        details={"had_result": task.result is not None, **(details or {})},
    )
    return task


# Shared helpers


def _record(
    session: Session,
    task: InspectionTask,
    *,
    step: str,
    title: str,
    occurred_at: datetime | None = None,
    actor: User | None = None,
    receipt_id: int | None = None,
    disposition: Disposition | None = Disposition.IN_PROGRESS,
    details: dict[str, Any] | None = None,
) -> None:
    declaration_status.record_event(
        session,
        task.declaration,
        step=step,
        title=title,
        occurred_at=occurred_at,
        status_changed=False,
        biz_step=BizStep.INSPECTING,
        disposition=disposition,
        actor=actor,
        receipt_id=receipt_id,
        place=task.site.code if task.site else None,
        details={"task_id": task.id, "task_no": task.task_no, **(details or {})},
    )
    # Every step of a task passes here, so each one goes on the audit chain with its timeline entry.
    audit.record(
        session,
        action=f"inspection.{step.removeprefix('inspection_')}",
        actor=audit.by(actor),
        target=task,
        details={
            "declaration_id": task.declaration_id,
            "status": task.status.value,
            "receipt_id": receipt_id,
            **(details or {}),
        },
        flush=False,
    )


def _notify(
    session: Session, task: InspectionTask, kind: NoticeKind, *, source: str, title: Message, body: Message
) -> None:
    # Declarant and warehouse hear at the same time (the "serial → parallel" win of §3.2).
    declaration = task.declaration
    for enterprise_id, role in (
        (declaration.declaring_enterprise_id, Role.DECLARANT),
        (declaration.warehouse_enterprise_id, Role.WAREHOUSE_OPERATOR),
    ):
        notices.notify_enterprise(
            session,
            enterprise_id=enterprise_id,
            roles=[role],
            kind=kind,
            title=title,
            body=body,
            source_key=f"inspection/{task.id}/{source}",
            declaration_id=declaration.id,
            link=f"/api/v1/inspection-tasks/{task.id}",
        )


def _number(declaration: Declaration) -> str:
    return declaration.invt_no or declaration.cop_no


def _local(moment: datetime, pattern: str = "%Y-%m-%d %H:%M") -> str:
    return moment.astimezone(SHANGHAI).strftime(pattern)
