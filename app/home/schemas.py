"""The home screen's answer: counts by status spelled out per status (zeros included), so the app never guesses."""

from __future__ import annotations

import enum
from collections.abc import Iterable

from marshmallow import Schema, fields

from app.common.fields import Integer, String
from app.declarations.models import IN_PLAY
from app.gates.models import PassStatus
from app.inspections.models import TaskStatus
from app.notices.schemas import NoticeRead
from app.risk.models import Severity
from app.users.models import Role


def counts_of(members: Iterable[enum.Enum], name: str, *, leave_out: tuple[enum.Enum, ...] = ()) -> type[Schema]:
    """A schema with one required count per member."""
    return Schema.from_dict(
        {member.value: Integer(required=True) for member in members if member not in leave_out}, name=name
    )


ListStatusCounts = counts_of(IN_PLAY, "HomeListStatusCounts")
# A task passes through result_abnormal inside one request; closed ones wait on nobody.
TaskStatusCounts = counts_of(
    TaskStatus, "HomeTaskStatusCounts", leave_out=(TaskStatus.RESULT_ABNORMAL, TaskStatus.CLOSED)
)
LivePassCounts = counts_of(PassStatus, "HomeGatePassCounts", leave_out=(PassStatus.PASSED, PassStatus.VOIDED))


class HomeNotices(Schema):
    unread = Integer(required=True, metadata={"description": "Notices you have not opened."})
    unacknowledged = Integer(required=True, metadata={"description": "Notices no app of yours has acknowledged."})
    latest = fields.List(fields.Nested(NoticeRead), required=True, metadata={"description": "Newest first."})


class HomeListCounts(Schema):
    total = Integer(
        required=True,
        metadata={
            "description": "Lists in play: with customs, or rejected or failed to send and back with the declarant. "
            "Released, closed, cancelled and shipped-back lists are history, in the list views."
        },
    )
    by_status = fields.Nested(ListStatusCounts, required=True)


HomeLists = Schema.from_dict(
    {
        "import": fields.Nested(HomeListCounts, required=True, metadata={"description": "Import inventory lists."}),
        "export": fields.Nested(HomeListCounts, required=True, metadata={"description": "Export lists."}),
    },
    name="HomeLists",
)


class HomeInspections(Schema):
    waiting_on_me = Integer(
        required=True,
        metadata={
            "description": "Declarant: tasks to book (notified). Warehouse operator: booked tasks whose goods "
            "are to be staged (appointed). Officer: today's tasks at the sites ready to inspect or under way "
            "(goods_ready, in_progress, recheck)."
        },
    )
    by_status = fields.Nested(
        TaskStatusCounts,
        required=True,
        metadata={"description": "Open tasks on your lists; for an officer, today's queues at every site."},
    )
    next_appointment_at = fields.DateTime(
        allow_none=True, required=True, metadata={"description": "The earliest booked appointment still ahead."}
    )


class HomeGatePasses(Schema):
    in_flight = Integer(required=True)
    by_status = fields.Nested(LivePassCounts, required=True)


class HomeSiteQueue(Schema):
    site_id = Integer(required=True)
    code = String(required=True)
    name = String(required=True)
    total = Integer(required=True)
    by_status = fields.Nested(TaskStatusCounts, required=True)


class HomeWarningCounts(Schema):
    open = Integer(required=True, metadata={"description": "Not taken by anyone yet."})
    taken_by_me = Integer(required=True, metadata={"description": "Taken by you, not resolved."})


WarningsBySeverity = Schema.from_dict(
    {severity.value: fields.Nested(HomeWarningCounts, required=True) for severity in Severity},
    name="HomeWarningsBySeverity",
)


class HomeExportParcels(Schema):
    diverted = Integer(required=True, metadata={"description": "At the recheck bench, awaiting an open-box recheck."})
    held = Integer(required=True, metadata={"description": "Held by a recheck, awaiting their booked inspection."})


class HomeOfficerQueues(Schema):
    tasks_today_by_site = fields.List(fields.Nested(HomeSiteQueue), required=True)
    warnings_by_severity = fields.Nested(WarningsBySeverity, required=True)
    export_parcels = fields.Nested(HomeExportParcels, required=True)


class HomeGateWaiting(Schema):
    gate_id = Integer(required=True)
    code = String(required=True)
    name = String(required=True)
    lane_assigned = Integer(required=True, metadata={"description": "Arrived, not yet weighed."})
    referred = Integer(required=True, metadata={"description": "Referred to a person for a decision."})


class HomeRead(Schema):
    role = fields.Enum(Role, by_value=True, required=True)
    as_of = fields.DateTime(required=True)
    notices = fields.Nested(HomeNotices, required=True)
    lists = fields.Nested(
        HomeLists,
        allow_none=True,
        required=True,
        metadata={"description": "The lists in play you may see, by status (null for a gate operator)."},
    )
    inspections = fields.Nested(
        HomeInspections, allow_none=True, required=True, metadata={"description": "null for a gate operator or admin."}
    )
    gate_passes = fields.Nested(
        HomeGatePasses,
        allow_none=True,
        required=True,
        metadata={"description": "Your enterprise's passes in play (declarants only)."},
    )
    officer = fields.Nested(
        HomeOfficerQueues, allow_none=True, required=True, metadata={"description": "Customs officers only."}
    )
    gates = fields.List(
        fields.Nested(HomeGateWaiting),
        allow_none=True,
        required=True,
        metadata={"description": "Vehicles waiting at each gate (gate operators only; gates with none left out)."},
    )
