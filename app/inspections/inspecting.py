"""Inspecting staged goods: goods ready, start, open-box recheck, and the result with its disposal."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.common import clock
from app.declarations.models import Disposition
from app.declarations.status import InvalidTransition
from app.errors import InvalidInput
from app.i18n import N_, _
from app.inspections.models import (
    Disposal,
    InspectionMethod,
    InspectionPhoto,
    InspectionResult,
    InspectionTask,
    TaskStatus,
)
from app.inspections.rules import DISPOSAL_LABELS, METHOD_LABELS
from app.inspections.tasks import declaration_number, lock_task_for, notify_parties, record_step
from app.notices.models import NoticeKind
from app.notices.service import Message
from app.notices.text import with_notes
from app.users.models import User

T = TaskStatus


def mark_goods_ready(session: Session, task_id: int, *, operator: User, at: datetime | None = None) -> InspectionTask:
    """The warehouse has staged the goods (or put the parcel on the X-ray line)."""
    task = lock_task_for(session, task_id, viewer=operator)
    if task.status is T.GOODS_READY:
        return task
    if task.status is not T.APPOINTED:
        raise InvalidTransition(
            _(
                "Inspection task %(task_no)s is %(status)s; goods are staged for a booked appointment.",
                task_no=task.task_no,
                status=task.status.value,
            )
        )
    task.status = T.GOODS_READY
    task.goods_ready_at = at or clock.utcnow()
    record_step(
        session,
        task,
        step="inspection_goods_ready",
        title="货物已备妥，等待查验",
        actor=operator,
        occurred_at=task.goods_ready_at,
    )
    return task


def start(session: Session, task_id: int, *, officer: User, at: datetime | None = None) -> InspectionTask:
    """An officer begins the inspection of staged goods."""
    task = lock_task_for(session, task_id, viewer=officer)
    if task.status is T.IN_PROGRESS and task.officer_id == officer.id:
        return task
    if task.status is not T.GOODS_READY:
        raise InvalidTransition(
            _(
                "Inspection task %(task_no)s is %(status)s; an inspection starts once the goods are ready.",
                task_no=task.task_no,
                status=task.status.value,
            )
        )
    task.status = T.IN_PROGRESS
    task.officer_id = officer.id
    task.started_at = at or clock.utcnow()
    record_step(
        session,
        task,
        step="inspection_started",
        title=f"查验开始（{METHOD_LABELS[task.method].zh}）",
        actor=officer,
        occurred_at=task.started_at,
        details={"method": task.method.value},
    )
    return task


def recheck(session: Session, task_id: int, *, officer: User, reason: str | None = None) -> InspectionTask:
    """A suspicious machine image sends the goods to open-box re-inspection."""
    task = lock_task_for(session, task_id, viewer=officer)
    if task.status is T.RECHECK:
        return task
    if task.status is not T.IN_PROGRESS or task.method is InspectionMethod.OPEN_BOX:
        raise InvalidTransition(
            _(
                "Inspection task %(task_no)s is %(status)s by %(method)s; only an inspection in progress by "
                "another method goes to open-box re-inspection.",
                task_no=task.task_no,
                status=task.status.value,
                method=task.method.value,
            )
        )
    previous = task.method
    task.method = InspectionMethod.OPEN_BOX
    task.status = T.RECHECK
    task.recheck_at = clock.utcnow()
    record_step(
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
    at: datetime | None = None,
) -> InspectionTask:
    """Record what the inspection found; an abnormal result comes with its disposal."""
    task = lock_task_for(session, task_id, viewer=officer)
    if task.result is result and task.disposal is disposal and task.result_notes == notes:
        return task  # a retried request
    if task.status not in (T.IN_PROGRESS, T.RECHECK):
        raise InvalidTransition(
            _(
                "Inspection task %(task_no)s is %(status)s; a result is recorded for an inspection under way.",
                task_no=task.task_no,
                status=task.status.value,
            )
        )
    if result is InspectionResult.ABNORMAL and disposal is None:
        raise InvalidInput.of_field("disposal", _("An abnormal result needs a disposal."))
    if result is InspectionResult.NORMAL and disposal not in (None, Disposal.RELEASE):
        raise InvalidInput.of_field("disposal", _("Goods found normal are released; leave the disposal out."))
    now = at or clock.utcnow()  # `at`: when an officer recorded it offline
    task.result = result
    task.result_notes = notes
    task.result_at = now
    task.disposal = disposal
    photos = session.scalar(select(func.count()).where(InspectionPhoto.task_id == task.id))
    normal = result is InspectionResult.NORMAL
    task.status = T.RESULT_NORMAL if normal else T.RESULT_ABNORMAL
    outcome = Message(N_("normal"))
    record_step(
        session,
        task,
        step="inspection_result",
        title="查验结果：正常" if normal else "查验结果：异常",
        actor=officer,
        occurred_at=now,
        disposition=Disposition.CONFORMANT if normal else Disposition.NON_CONFORMANT,
        details={"result": result.value, "photos": photos},
    )
    if not normal and disposal is not None:
        label = DISPOSAL_LABELS[disposal]
        outcome = Message(N_("abnormal, disposal: %(disposal)s"), disposal=label)
        task.status = T.DISPOSED
        task.disposed_at = now
        record_step(
            session,
            task,
            step="inspection_disposed",
            title=f"查验处置：{DISPOSAL_LABELS[disposal].zh}",
            actor=officer,
            occurred_at=now,
            disposition=Disposition.NON_CONFORMANT,
            details={"disposal": disposal.value},
        )
    number = declaration_number(task.declaration)
    notify_parties(
        session,
        task,
        NoticeKind.INSPECTION_RESULT,
        source="result",
        title=Message(N_("Inspection result for %(number)s: %(outcome)s"), number=number, outcome=outcome),
        body=with_notes(Message(N_("Task %(task_no)s: %(outcome)s."), task_no=task.task_no, outcome=outcome), notes),
    )
    return task
