"""How customs' conclusion of a declaration ends its inspection, as the clearance flow calls it: the check
that refuses an officer's in-app release before the result, and closing the open task."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.declarations.models import Declaration, DeclarationStatus, Disposition
from app.declarations.status import InvalidTransition
from app.i18n import _
from app.inspections.booking import give_back_place
from app.inspections.models import Disposal, InspectionResult, InspectionSlot, InspectionTask, TaskStatus
from app.inspections.rules import DISPOSAL_LABELS, HOLDS_A_PLACE
from app.inspections.tasks import find_open_task, record_step

T = TaskStatus


def refuse_release_before_result(session: Session, declaration: Declaration) -> None:
    """An officer may release in the app only once the inspection found the goods releasable."""
    task = find_open_task(session, declaration.id, lock=True)
    if task is None or task.status is T.RESULT_NORMAL:
        return
    if task.status is T.DISPOSED and task.disposal is Disposal.RELEASE:
        return
    if task.status is T.DISPOSED and task.disposal is not None:
        raise InvalidTransition(
            _(
                "Inspection task %(task_no)s found the goods abnormal (%(disposal)s); customs' receipt releases them "
                "once the disposal is done.",
                task_no=task.task_no,
                disposal=DISPOSAL_LABELS[task.disposal],
            )
        )
    raise InvalidTransition(
        _(
            "Inspection task %(task_no)s is %(status)s; record the inspection result before releasing.",
            task_no=task.task_no,
            status=task.status.value,
        )
    )


def lock_places_held_for(session: Session, declaration_ids: Sequence[int]) -> None:
    """Lock the slots whose places these declarations' open tasks hold, by slot id: one global order.

    Closing tasks one declaration at a time gives places back in a document's order; two documents closing tasks
    booked into the same slots in different orders would deadlock on `inspection_slots`.
    """
    if not declaration_ids:
        return
    held = select(InspectionTask.slot_id).where(
        InspectionTask.declaration_id.in_(declaration_ids), InspectionTask.status.in_(HOLDS_A_PLACE)
    )
    session.execute(
        select(InspectionSlot.id).where(InspectionSlot.id.in_(held)).order_by(InspectionSlot.id).with_for_update()
    ).all()


# Customs' conclusions that end an inspection, whatever stage it reached (customs has the last word).
CONCLUDING = {
    DeclarationStatus.RELEASED: "放行，查验任务结束",
    DeclarationStatus.DETAINED: "扣留，查验任务结束",
    DeclarationStatus.SHIPPED_BACK: "退运，查验任务结束",
    DeclarationStatus.REJECTED: "退单，查验任务结束",
    DeclarationStatus.CANCELLED: "撤单，查验任务结束",
}


def close_when_concluded(
    session: Session, concluded: Sequence[tuple[Declaration, DeclarationStatus, datetime]]
) -> None:
    """Release, detention, return, rejection or cancellation ends each declaration's open inspection.

    `concluded` lists (declaration, status it reached, when), in order. The slots whose places come back are
    locked first, by id (one global order), then the open tasks, all in two statements.
    """
    concluded = [(declaration, status, at) for declaration, status, at in concluded if status in CONCLUDING]
    if not concluded:
        return
    ids = sorted({declaration.id for declaration, _, _ in concluded})
    lock_places_held_for(session, ids)
    open_tasks = {
        task.declaration_id: task
        for task in session.scalars(
            select(InspectionTask)
            .where(InspectionTask.declaration_id.in_(ids), InspectionTask.status != T.CLOSED)
            .order_by(InspectionTask.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    }
    for declaration, status, occurred_at in concluded:
        task = open_tasks.pop(declaration.id, None)
        if task is not None:
            _close(
                session,
                task,
                occurred_at=occurred_at,
                title=CONCLUDING[status],
                details={
                    "declaration_status": status.value,
                    "release_source": getattr(declaration.release_source, "value", None),
                },
            )


def close_task(
    session: Session, task: InspectionTask, *, occurred_at: datetime, title: str, details: dict[str, Any] | None = None
) -> InspectionTask:
    """Close a task whose goods are done with before customs concludes the declaration (an export list's diverted
    parcels all rechecked and disposed of); a place it still holds in a slot is given back."""
    return _close(session, task, occurred_at=occurred_at, title=title, details=details)


def _close(
    session: Session, task: InspectionTask, *, occurred_at: datetime, title: str, details: dict[str, Any] | None
) -> InspectionTask:
    """Close a task because customs concluded its declaration; a place it still holds in a slot is given back."""
    if task.status in HOLDS_A_PLACE and task.slot is not None:
        give_back_place(session, task.slot)
    disposition = None  # the declaration's own (released, detained, ...) unless a result says more
    if task.result is not None:
        disposition = Disposition.CONFORMANT if task.result is InspectionResult.NORMAL else Disposition.NON_CONFORMANT
    task.status = T.CLOSED
    task.closed_at = occurred_at
    record_step(
        session,
        task,
        step="inspection_closed",
        title=title,
        occurred_at=occurred_at,
        disposition=disposition,
        details={"had_result": task.result is not None, **(details or {})},
    )
    return task
