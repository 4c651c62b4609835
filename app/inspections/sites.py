"""Inspection sites and their 7×24 slots: register and change a site, open slots, list what is free."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit import service as audit
from app.audit.service import Actor
from app.common import clock
from app.common.pagination import Page, paginate, where_given
from app.errors import InvalidInput, NotFound
from app.i18n import _
from app.inspections.models import InspectionSite, InspectionSlot
from app.inspections.rules import (
    MAX_SLOT_CAPACITY,
    MAX_SLOT_MINUTES,
    MIN_SLOT_MINUTES,
    SYSTEM_ACTOR,
    SiteCodeTaken,
    check_window,
)

MAX_SLOTS_PER_CALL = 1000
# Slots never overlap and last at least 15 minutes, so a week's window lists at most 673 of them.
MAX_SLOT_WINDOW = timedelta(days=7)


def get_site(session: Session, site_id: int) -> InspectionSite:
    """A site by id, or NotFound."""
    site = session.get(InspectionSite, site_id)
    if site is None:
        raise NotFound(_("Inspection site %(site_id)s does not exist.", site_id=site_id))
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
            _("An inspection site with code %(code)s already exists.", code=code),
            errors={"json": {"code": [_("Already registered.")]}},
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
        raise InvalidInput.of_field(
            "slot_minutes",
            _(
                "Between %(min_slot_minutes)s and %(max_slot_minutes)s minutes.",
                min_slot_minutes=MIN_SLOT_MINUTES,
                max_slot_minutes=MAX_SLOT_MINUTES,
            ),
        )
    if not 1 <= capacity <= MAX_SLOT_CAPACITY:
        raise InvalidInput.of_field(
            "capacity", _("Between 1 and %(max_slot_capacity)s.", max_slot_capacity=MAX_SLOT_CAPACITY)
        )
    length = timedelta(minutes=slot_minutes)
    count = (end - start) // length if end > start else 0
    if count < 1:
        raise InvalidInput.of_field("end", _("Leave room for at least one slot after start."))
    if count > MAX_SLOTS_PER_CALL:
        raise InvalidInput.of_field(
            "end",
            _(
                "At most %(max_slots_per_call)s slots per call; open a shorter range.",
                max_slots_per_call=MAX_SLOTS_PER_CALL,
            ),
        )
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
    check_window(since, until, MAX_SLOT_WINDOW)
    statement = select(InspectionSlot).where(
        InspectionSlot.site_id == site.id, InspectionSlot.starts_at >= since, InspectionSlot.starts_at < until
    )
    if available:
        statement = statement.where(InspectionSlot.starts_at > now, InspectionSlot.booked < InspectionSlot.capacity)
    return list(session.scalars(statement.order_by(InspectionSlot.starts_at)))
