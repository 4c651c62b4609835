"""What inspections wait on whom: the counts a home screen shows, each one GROUP BY over an index.

A declarant's tasks wait for a booking, a warehouse operator's for the goods to be staged; an officer's are the
day's queues at the sites (`tasks.officer_queue`, counted rather than listed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, false, func, select, true
from sqlalchemy.orm import Session

from app.common import clock
from app.inspections.models import InspectionSite, InspectionTask, TaskStatus
from app.inspections.rules import HOLDS_A_PLACE, SHANGHAI
from app.inspections.tasks import MAX_QUEUE_WINDOW, QUEUE_STATUSES
from app.users.models import Role, User

T = TaskStatus
# The step each party takes next: book a slot for a notified task, stage the goods for a booked one, inspect
# staged goods (or finish an inspection under way).
WAITING_ON = {
    Role.DECLARANT: frozenset({T.NOTIFIED}),
    Role.WAREHOUSE_OPERATOR: frozenset({T.APPOINTED}),
    Role.CUSTOMS_OFFICER: frozenset({T.GOODS_READY, T.IN_PROGRESS, T.RECHECK}),
}


def waiting_on(role: Role, by_status: dict[TaskStatus, int]) -> int:
    """How many of these tasks wait on someone of `role` to take the next step."""
    return sum(by_status.get(status, 0) for status in WAITING_ON.get(role, ()))


@dataclass
class OpenTasks:
    by_status: dict[TaskStatus, int] = field(default_factory=dict)
    next_appointment_at: datetime | None = None


@dataclass(frozen=True)
class SiteQueue:
    site_id: int
    code: str
    name: str
    by_status: dict[TaskStatus, int]


def tasks_visible_to(viewer: User) -> ColumnElement[bool]:
    """The tasks a user may see, as `declarations.visible_to` says of their lists, read off the task itself."""
    if viewer.role in (Role.ADMIN, Role.CUSTOMS_OFFICER):
        return true()
    if viewer.role is Role.DECLARANT and viewer.enterprise_id is not None:
        return InspectionTask.declaring_enterprise_id == viewer.enterprise_id
    if viewer.role is Role.WAREHOUSE_OPERATOR and viewer.enterprise_id is not None:
        return InspectionTask.warehouse_enterprise_id == viewer.enterprise_id
    return false()


def open_tasks(session: Session, *, viewer: User) -> OpenTasks:
    """The viewer's open tasks by status, and the next appointment still ahead of them."""
    now = clock.utcnow()
    # From a partial index of the party's open tasks alone (ix_inspection_tasks_open_*), no join with their lists.
    rows = session.execute(
        select(
            InspectionTask.status,
            func.count(),
            func.min(InspectionTask.appointment_at).filter(InspectionTask.appointment_at >= now),
        )
        .where(InspectionTask.status != T.CLOSED, tasks_visible_to(viewer))
        .group_by(InspectionTask.status)
    )
    found = OpenTasks()
    for status, count, next_at in rows:
        found.by_status[status] = count
        if status in HOLDS_A_PLACE and next_at is not None:
            found.next_appointment_at = min(filter(None, (found.next_appointment_at, next_at)))
    return found


def today_by_site(session: Session) -> list[SiteQueue]:
    """Each site's queue today in China (what `officer_queue` lists), counted by status; sites with none left out."""
    since = clock.utcnow().astimezone(SHANGHAI).replace(hour=0, minute=0, second=0, microsecond=0)
    # The sites' names come in the same statement: a handful of rows, no second round trip, no objects loaded.
    rows = session.execute(
        select(InspectionSite.id, InspectionSite.code, InspectionSite.name, InspectionTask.status, func.count())
        .join(InspectionSite, InspectionSite.id == InspectionTask.site_id)
        .where(
            InspectionTask.appointment_at >= since,
            InspectionTask.appointment_at < since + MAX_QUEUE_WINDOW,
            InspectionTask.status.in_(QUEUE_STATUSES),
        )
        .group_by(InspectionSite.id, InspectionSite.code, InspectionSite.name, InspectionTask.status)
    )
    queues: dict[int, SiteQueue] = {}
    for site_id, code, name, status, count in rows:
        queue = queues.setdefault(site_id, SiteQueue(site_id=site_id, code=code, name=name, by_status={}))
        queue.by_status[status] = count
    return sorted(queues.values(), key=lambda queue: queue.code)
