"""Risk warnings: raise (or count a repeat), list, take, resolve, and turn into an inspection.

Other domains raise warnings through `raise_warning`; the gate, the video analytics endpoint and
the trace-code clone alarm all land in the same queue.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Exists, Select, and_, bindparam, exists, func, literal, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.audit import service as audit
from app.audit.service import Actor
from app.common import clock
from app.common.pagination import Page, paginate, where_given
from app.declarations.models import Declaration
from app.declarations.status import InvalidTransition
from app.errors import Conflict, InvalidInput, NotFound
from app.i18n import N_, _, _l
from app.infra.statements import cached_statement
from app.inspections import tasks as inspection_tasks
from app.inspections.models import InspectionMethod, InspectionTask, TaskSource
from app.notices import officers as on_duty
from app.notices.models import NoticeKind
from app.notices.text import Message
from app.risk.models import (
    SEVERITY_RANK,
    Resolution,
    RiskWarning,
    Severity,
    VideoEventType,
    WarningSource,
    WarningStatus,
)
from app.users.models import User

SYSTEM_ACTOR = Actor(user=None, client_addr=None)
W = WarningStatus


V = VideoEventType
VIDEO_SEVERITY = {
    V.FENCE_INTRUSION: Severity.HIGH,
    V.TAILGATING: Severity.HIGH,
    V.PLATE_OBSCURED: Severity.MEDIUM,
    V.WRONG_WAY: Severity.MEDIUM,
    V.UNREGISTERED_VEHICLE: Severity.MEDIUM,
    V.LANE_VIOLATION: Severity.LOW,
    V.LOITERING: Severity.LOW,
}
VIDEO_TITLES = {
    V.FENCE_INTRUSION: "围网入侵",
    V.TAILGATING: "跟车闯卡",
    V.PLATE_OBSCURED: "车牌遮挡",
    V.WRONG_WAY: "逆行",
    V.UNREGISTERED_VEHICLE: "未备案车辆",
    V.LANE_VIOLATION: "未按车道行驶",
    V.LOITERING: "异常滞留",
}


# An enterprise whose goods were found abnormal this often within the window is worth a look.
SWEEP_BATCH = 500


class WarningTaken(Conflict):
    code, title = "warning_taken", _l("Warning taken by another officer")


VEHICLE_KEY_PREFIX = "vehicle:"


def vehicle_key(plate: str) -> str:
    """The subject key of warnings about a vehicle, whoever raises them."""
    return VEHICLE_KEY_PREFIX + plate


def open_warning_about_vehicle(plate: ColumnElement[str]) -> Exists:
    """In SQL: whether an unresolved warning about the vehicle whose plate `plate` holds exists."""
    return exists().where(_unresolved_about(literal(VEHICLE_KEY_PREFIX) + plate))


def raise_warning(
    session: Session,
    *,
    source: WarningSource,
    subject_key: str,
    severity: Severity,
    title: str,
    details: dict[str, Any] | None = None,
    plate: str | None = None,
    declaration_id: int | None = None,
    enterprise_id: int | None = None,
    gate_passage_id: int | None = None,
    occurred_at: datetime | None = None,
    actor: Actor = SYSTEM_ACTOR,
    count: int = 1,
    customs_code: str | None = None,
) -> RiskWarning:
    """Raise a warning about `subject_key`, or count a repeat on the unresolved one about it.

    A repeat raises the severity if it is higher, keeps the latest details and links, and is
    audited like the first raising. `count` is how many occurrences this call reports at once
    (a writer that batches them). A warning that becomes high-severity here (new, or raised to it) is pushed to the
    officers on duty for `customs_code` (else its list's office); repeats at high tell nobody again.
    """
    now = occurred_at or clock.utcnow()
    fields = {
        "plate": plate,
        "declaration_id": declaration_id,
        "enterprise_id": enterprise_id,
        "gate_passage_id": gate_passage_id,
    }
    was_high = False
    while True:
        warning = find_open_warning(session, subject_key, lock=True)
        if warning is not None:
            was_high = warning.severity is Severity.HIGH
            warning.occurrences += count
            warning.last_raised_at = max(warning.last_raised_at, now)
            if SEVERITY_RANK[severity] > SEVERITY_RANK[warning.severity]:
                warning.severity = severity
            warning.details = details or {}
            for name, value in fields.items():
                if value is not None:
                    setattr(warning, name, value)
            session.flush()
            break
        try:
            # Two raisers of a new subject at once: the unique index lets one in, the other
            # finds it on the next loop and counts its repeat there.
            with session.begin_nested():
                warning = RiskWarning(
                    source=source,
                    subject_key=subject_key,
                    severity=severity,
                    title=title[:200],
                    details=details or {},
                    first_raised_at=now,
                    last_raised_at=now,
                    occurrences=count,
                    **fields,
                )
                session.add(warning)
                session.flush()
        except IntegrityError:
            continue
        break
    if warning.severity is Severity.HIGH and not was_high:
        _tell_officers(session, warning, customs_code)
    audit.record(
        session,
        action="risk.warning_raised",
        actor=actor,
        target=warning,
        details={
            "source": source.value,
            "subject_key": subject_key,
            "severity": severity.value,
            "occurrence": warning.occurrences,
        },
    )
    return warning


def _tell_officers(session: Session, warning: RiskWarning, customs_code: str | None) -> None:
    """A warning new at high severity (or raised to it) is pushed to the officers on duty for its customs office."""
    if customs_code is None and warning.declaration_id is not None:
        customs_code = session.scalar(select(Declaration.customs_code).where(Declaration.id == warning.declaration_id))
    on_duty.notify_officers(
        session,
        customs_code=customs_code,
        kind=NoticeKind.OFFICER_RISK_WARNING,
        title=Message(N_("High-risk warning: %(warning)s"), warning=warning.title),
        body=Message("%(title)s", title=warning.title),
        # Once per warning: its repeats count on it and tell nobody again.
        source_key=f"officer/risk-warning/{warning.id}/high",
        declaration_id=warning.declaration_id,
        link=f"/api/v1/risk/warnings/{warning.id}",
    )


def report_video_event(
    session: Session,
    *,
    camera_id: str,
    occurred_at: datetime,
    event_type: VideoEventType,
    actor: Actor,
    plate: str | None = None,
    confidence: float | None = None,
) -> RiskWarning:
    """A camera system saw something: a warning about the vehicle if the plate was read, else about the camera."""
    subject = vehicle_key(plate) if plate else f"camera:{camera_id}:{event_type.value}"
    where = f"（{plate}）" if plate else ""
    return raise_warning(
        session,
        source=WarningSource.VIDEO,
        subject_key=subject,
        severity=VIDEO_SEVERITY[event_type],
        title=f"视频分析：{VIDEO_TITLES[event_type]}{where}，摄像机 {camera_id}",
        details={
            "camera_id": camera_id,
            "event_type": event_type.value,
            "occurred_at": occurred_at.isoformat(),
            "plate": plate,
            "confidence": confidence,
        },
        plate=plate,
        occurred_at=occurred_at,
        actor=actor,
    )


def find_open_warning(session: Session, subject_key: str, *, lock: bool = False) -> RiskWarning | None:
    """The unresolved warning about `subject_key`, or None."""
    statement = select(RiskWarning).where(_unresolved_about(subject_key))
    if lock:
        statement = statement.with_for_update().execution_options(populate_existing=True)
    return session.scalar(statement)


def has_open_warning(session: Session, subject_key: str) -> bool:
    """Whether an unresolved warning about `subject_key` exists (an index-only lookup)."""
    return session.scalar(select(RiskWarning.id).where(_unresolved_about(subject_key))) is not None


def _unresolved_about(subject_key: str | ColumnElement[str]) -> ColumnElement[bool]:
    return and_(RiskWarning.subject_key == subject_key, RiskWarning.status != W.RESOLVED)


def get_warning(session: Session, warning_id: int, *, lock: bool = False) -> RiskWarning:
    """A warning by id, or NotFound."""
    statement = select(RiskWarning).where(RiskWarning.id == warning_id)
    if lock:
        statement = statement.with_for_update().execution_options(populate_existing=True)
    warning = session.scalar(statement)
    if warning is None:
        raise NotFound(_("Risk warning %(warning_id)s does not exist.", warning_id=warning_id))
    return warning


def list_warnings(
    session: Session,
    *,
    status: WarningStatus | None = None,
    severity: Severity | None = None,
    source: WarningSource | None = None,
    assignee_id: int | None = None,
    plate: str | None = None,
    enterprise_id: int | None = None,
    declaration_id: int | None = None,
    cursor: int | None = None,
    limit: int,
) -> Page[RiskWarning]:
    """The officers' queue, newest first, filtered as asked."""
    statement = where_given(
        select(RiskWarning),
        (RiskWarning.status, status),
        (RiskWarning.severity, severity),
        (RiskWarning.source, source),
        (RiskWarning.assignee_id, assignee_id),
        (RiskWarning.plate, plate),
        (RiskWarning.enterprise_id, enterprise_id),
        (RiskWarning.declaration_id, declaration_id),
    )
    return paginate(session, statement, key=RiskWarning.id, cursor=cursor, limit=limit)


def unresolved_by_severity(session: Session, *, officer: User) -> dict[Severity, dict[str, int]]:
    """Per severity: the warnings nobody has taken yet, and those `officer` took and has not resolved."""
    counts = {severity: {"open": 0, "taken_by_me": 0} for severity in Severity}
    for severity, still_open, taken_by_me in session.execute(_unresolved_counts(), {"officer_id": officer.id}):
        counts[severity] = {"open": still_open, "taken_by_me": taken_by_me}
    return counts


# As uq_risk_warnings_open_subject is written: one generic plan uses it, not a plan per execution.
UNRESOLVED = text("risk_warnings.status != 'resolved'")


# Every officer's home screen runs this: built once, not per request.
@cached_statement
def _unresolved_counts() -> Select[Any]:
    return (
        select(
            RiskWarning.severity,
            func.count().filter(RiskWarning.status == W.OPEN),
            func.count().filter(RiskWarning.status == W.TAKEN, RiskWarning.assignee_id == bindparam("officer_id")),
        )
        .where(UNRESOLVED)
        .group_by(RiskWarning.severity)
    )


def take(session: Session, warning_id: int, *, officer: User, actor: Actor) -> RiskWarning:
    """An officer takes a warning to work on; someone else's is theirs until resolved."""
    warning = get_warning(session, warning_id, lock=True)
    if warning.status is W.RESOLVED:
        raise InvalidTransition(_("Risk warning %(warning_id)s is already resolved.", warning_id=warning_id))
    if warning.status is W.TAKEN:
        if warning.assignee_id == officer.id:
            return warning
        raise WarningTaken(
            _("Risk warning %(warning_id)s is being worked on by another officer.", warning_id=warning_id)
        )
    _assign(warning, officer)
    audit.record(session, action="risk.warning_taken", actor=actor, target=warning)
    return warning


def resolve(
    session: Session, warning_id: int, *, officer: User, resolution: Resolution, notes: str, actor: Actor
) -> RiskWarning:
    """Close a warning with what was found; the next warning about the subject opens a new one."""
    warning = get_warning(session, warning_id, lock=True)
    if warning.status is W.RESOLVED:
        if warning.resolved_by_id == officer.id and warning.resolution is resolution:
            return warning  # a retried request
        raise InvalidTransition(_("Risk warning %(warning_id)s is already resolved.", warning_id=warning_id))
    if warning.status is W.TAKEN and warning.assignee_id != officer.id:
        raise WarningTaken(
            _("Risk warning %(warning_id)s is being worked on by another officer.", warning_id=warning_id)
        )
    warning.status = W.RESOLVED
    warning.resolution = resolution
    warning.resolution_notes = notes
    warning.resolved_by_id = officer.id
    warning.resolved_at = clock.utcnow()
    audit.record(
        session,
        action="risk.warning_resolved",
        actor=actor,
        target=warning,
        details={"resolution": resolution.value, "notes": notes},
    )
    return warning


def order_inspection(
    session: Session,
    warning_id: int,
    *,
    officer: User,
    actor: Actor,
    declaration_id: int | None = None,
    method: InspectionMethod = InspectionMethod.MACHINE,
    reason: str | None = None,
) -> InspectionTask:
    """Turn a warning into an inspection task on the declaration it concerns (or one the officer names)."""
    warning = get_warning(session, warning_id, lock=True)
    if warning.status is W.RESOLVED:
        raise InvalidTransition(_("Risk warning %(warning_id)s is already resolved.", warning_id=warning_id))
    if warning.status is W.TAKEN and warning.assignee_id != officer.id:
        raise WarningTaken(
            _("Risk warning %(warning_id)s is being worked on by another officer.", warning_id=warning_id)
        )
    target = declaration_id or warning.declaration_id
    if target is None:
        message = _("This warning names no declaration; give the declaration to inspect.")
        raise InvalidInput(message, errors={"json": {"declaration_id": [message]}})
    task = inspection_tasks.order_inspection(
        session,
        declaration_id=target,
        officer=officer,
        source=TaskSource.RISK_ALERT,
        method=method,
        reason=reason or warning.title,
    )
    warning.inspection_task_id = task.id
    warning.declaration_id = target
    if warning.status is W.OPEN:
        _assign(warning, officer)
    audit.record(
        session,
        action="risk.warning_inspection_ordered",
        actor=actor,
        target=warning,
        details={"declaration_id": target, "task_id": task.id, "method": method.value},
    )
    return task


def _assign(warning: RiskWarning, officer: User) -> None:
    warning.status = W.TAKEN
    warning.assignee_id = officer.id
    warning.taken_at = clock.utcnow()
