"""What inspections wait on whom: the counts a home screen shows, each one GROUP BY over an index.

A declarant's tasks wait for a booking, a warehouse operator's for the goods to be staged; an officer's are the
day's queues at the sites (`tasks.officer_queue`, counted rather than listed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, bindparam, func, select, text
from sqlalchemy.orm import Session

from app.common import clock
from app.declarations import service as declarations
from app.infra.statements import cached_statement
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


def open_tasks(session: Session, *, viewer: User) -> OpenTasks:
    """The viewer's open tasks by status, and the next appointment still ahead of them."""
    params = {"enterprise_id": viewer.enterprise_id, "now": clock.utcnow()}
    found = OpenTasks()
    for status, count, next_at in session.execute(_open_counts(declarations.visible_as(viewer)), params):
        found.by_status[status] = count
        if status in HOLDS_A_PLACE and next_at is not None:
            found.next_appointment_at = min(filter(None, (found.next_appointment_at, next_at)))
    return found


def today_by_site(session: Session) -> list[SiteQueue]:
    """Each site's queue today in China (what `officer_queue` lists), counted by status; sites with none left out."""
    since = clock.utcnow().astimezone(SHANGHAI).replace(hour=0, minute=0, second=0, microsecond=0)
    queues: dict[int, SiteQueue] = {}
    for site_id, code, name, status, count in session.execute(
        _queue_counts(), {"since": since, "until": since + MAX_QUEUE_WINDOW}
    ):
        queue = queues.setdefault(site_id, SiteQueue(site_id=site_id, code=code, name=name, by_status={}))
        queue.by_status[status] = count
    return sorted(queues.values(), key=lambda queue: queue.code)


# The partial indexes' predicate as they write it: PostgreSQL keeps one generic plan that uses them, where a bound
# value would have it plan the statement again on every execution (it cannot prove the value implies the predicate).
OPEN_TASK = text("inspection_tasks.status != 'closed'")


# Every home screen runs one of these: built once (per party), not per request.
@cached_statement
def _open_counts(party: str) -> Select[Any]:
    # A task copies its list's parties: a partial index of the party's open tasks alone (ix_inspection_tasks_open_*)
    # serves the count, with no join to the tens of thousands of lists a large enterprise holds.
    return (
        select(
            InspectionTask.status,
            func.count(),
            func.min(InspectionTask.appointment_at).filter(InspectionTask.appointment_at >= bindparam("now")),
        )
        .where(OPEN_TASK, declarations.seen_as(InspectionTask, party, bindparam("enterprise_id")))
        .group_by(InspectionTask.status)
    )


@cached_statement
def _queue_counts() -> Select[Any]:
    # The sites' names come in the same statement: a handful of rows, no second round trip, no objects loaded.
    # The day's open tasks are read from ix_inspection_tasks_open_queue alone (an index-only scan of today's
    # window): with 1,500 open tasks, 1.8 ms of heap fetches through every open task became 0.25 ms.
    return (
        select(InspectionSite.id, InspectionSite.code, InspectionSite.name, InspectionTask.status, func.count())
        .join(InspectionSite, InspectionSite.id == InspectionTask.site_id)
        .where(
            OPEN_TASK,
            InspectionTask.appointment_at >= bindparam("since"),
            InspectionTask.appointment_at < bindparam("until"),
            InspectionTask.status.in_(QUEUE_STATUSES),
        )
        .group_by(InspectionSite.id, InspectionSite.code, InspectionSite.name, InspectionTask.status)
    )
