"""The home screen: what the caller looks at first, composed from each domain's own counts in one transaction.

Each domain counts what it owns (one GROUP BY over an index each); this module only chooses, per role, which counts
a person of that role acts on, and shapes them with zeros filled in.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy.orm import Session

from app.common import clock
from app.declarations import service as declarations
from app.declarations.models import IN_PLAY, DeclarationKind, DeclarationStatus
from app.exports import recheck
from app.gates import passage, passes
from app.inspections import waiting
from app.inspections.models import TaskStatus
from app.notices import service as notices
from app.risk import service as risk
from app.users.models import Role, User

LATEST_NOTICES = 5
LIST_READERS = frozenset({Role.DECLARANT, Role.WAREHOUSE_OPERATOR, Role.CUSTOMS_OFFICER, Role.ADMIN})
# What the home shows for tasks; a closed task waits on nobody, result_abnormal lasts one request.
SHOWN_TASK_STATUSES = tuple(s for s in TaskStatus if s not in (TaskStatus.RESULT_ABNORMAL, TaskStatus.CLOSED))


def home_for(session: Session, user: User) -> dict[str, Any]:
    """Everything the caller's home screen shows, for their role."""
    home: dict[str, Any] = {
        "role": user.role,
        "as_of": clock.utcnow(),
        "notices": {
            **notices.counts_for(session, user),
            "latest": notices.latest_for(session, user, limit=LATEST_NOTICES),
        },
        "lists": _lists(session, user) if user.role in LIST_READERS else None,
        "inspections": None,
        "gate_passes": None,
        "officer": None,
        "gates": None,
    }
    if user.role in (Role.DECLARANT, Role.WAREHOUSE_OPERATOR):
        tasks = waiting.open_tasks(session, viewer=user)
        home["inspections"] = _inspections(user.role, tasks.by_status, tasks.next_appointment_at)
    if user.role is Role.DECLARANT:
        in_flight = passes.in_flight_by_status(session, viewer=user)
        home["gate_passes"] = {"in_flight": sum(in_flight.values()), "by_status": _filled(in_flight, in_flight)}
    if user.role is Role.CUSTOMS_OFFICER:
        home["inspections"], home["officer"] = _officer(session, user)
    if user.role is Role.GATE_OPERATOR:
        home["gates"] = passage.waiting_by_gate(session)
    return home


def _lists(session: Session, user: User) -> dict[str, Any]:
    counts = declarations.in_play_by_status(session, viewer=user)
    return {
        "import": _list_counts(counts[DeclarationKind.IMPORT_INVENTORY]),
        "export": _list_counts(counts[DeclarationKind.EXPORT_INVENTORY]),
    }


def _list_counts(by_status: Mapping[DeclarationStatus, int]) -> dict[str, Any]:
    return {"total": sum(by_status.values()), "by_status": _filled(IN_PLAY, by_status)}


def _inspections(role: Role, by_status: Mapping[TaskStatus, int], next_at: Any) -> dict[str, Any]:
    return {
        "waiting_on_me": waiting.waiting_on(role, dict(by_status)),
        "by_status": _filled(SHOWN_TASK_STATUSES, by_status),
        "next_appointment_at": next_at,
    }


def _officer(session: Session, officer: User) -> tuple[dict[str, Any], dict[str, Any]]:
    queues = waiting.today_by_site(session)
    today: dict[TaskStatus, int] = {}
    for queue in queues:
        for status, count in queue.by_status.items():
            today[status] = today.get(status, 0) + count
    parcels = recheck.awaiting_recheck(session)
    officer_queues = {
        "tasks_today_by_site": [
            {
                "site_id": queue.site_id,
                "code": queue.code,
                "name": queue.name,
                "total": sum(queue.by_status.values()),
                "by_status": _filled(SHOWN_TASK_STATUSES, queue.by_status),
            }
            for queue in queues
        ],
        "warnings_by_severity": {
            severity.value: counts for severity, counts in risk.unresolved_by_severity(session, officer=officer).items()
        },
        "export_parcels": {stage.value: count for stage, count in parcels.items()},
    }
    return _inspections(Role.CUSTOMS_OFFICER, today, None), officer_queues


def _filled(members: Iterable[enum.Enum], counts: Mapping[Any, int]) -> dict[str, int]:
    """One count per member, by value, zeros included."""
    return {member.value: counts.get(member, 0) for member in members}
