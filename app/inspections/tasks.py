"""Inspection tasks: issuing one (a 500 receipt or an officer's order), who may see it, the officer's
queue, and what each step of a task leaves behind (timeline, audit chain, notices)."""

from __future__ import annotations

import secrets
from collections.abc import Collection, Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, contains_eager

from app.audit import service as audit
from app.common import clock
from app.common.pagination import Page, paginate, where_given
from app.declarations import service as declarations
from app.declarations import status as declaration_status
from app.declarations.models import BizStep, Declaration, DeclarationStatus, Disposition
from app.declarations.status import InvalidTransition
from app.errors import InvalidInput, NotFound
from app.i18n import N_, _
from app.inspections.models import InspectionMethod, InspectionTask, TaskSource, TaskStatus
from app.inspections.rules import INSPECTABLE, METHOD_LABELS, SHANGHAI, check_window
from app.inspections.sites import get_site
from app.notices import service as notices
from app.notices.models import NoticeKind
from app.notices.service import Message
from app.users.models import Role, User

T = TaskStatus
# What the officer's queue shows unless asked otherwise: tasks still to be inspected at the site.
QUEUE_STATUSES = (T.APPOINTED, T.GOODS_READY, T.IN_PROGRESS, T.RECHECK)
MAX_QUEUE_WINDOW = timedelta(days=1)
QUEUE_LIMIT = 500


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
    inspectable: Collection[DeclarationStatus] = INSPECTABLE,
    notify: bool = True,
    declaration_locked: bool = False,
) -> InspectionTask:
    """Open an inspection task and tell the declarant and the warehouse; returns the open one if there is one.

    `inspectable` widens the declaration statuses it may start from: an export parcel diverted at the X-ray line is
    rechecked whatever its list's status. `notify=False` leaves the task ISSUED and tells nobody yet: an officer
    rechecking at the bench starts it at once, and the parties hear of the result instead. `declaration_locked`: the
    caller holds the declaration's row lock already (customs' receipts lock their lists first)."""
    # Serialises two issues for one declaration (a 500 receipt and an officer at once); the
    # partial unique index would otherwise turn the loser into a 500 error.
    if not declaration_locked:
        session.execute(select(Declaration.id).where(Declaration.id == declaration.id).with_for_update())
    existing = find_open_task(session, declaration.id)
    if existing is not None:
        return existing
    if declaration.status not in inspectable:
        raise InvalidTransition(
            _(
                "Declaration %(id)s is %(status)s; it cannot be inspected from there.",
                id=declaration.id,
                status=declaration.status.value,
            )
        )
    task = InspectionTask(
        # The number embeds the row id, which only the INSERT yields; a random value holds the
        # unique column until then.
        task_no=secrets.token_hex(16),
        declaration=declaration,
        declaring_enterprise_id=declaration.declaring_enterprise_id,
        warehouse_enterprise_id=declaration.warehouse_enterprise_id,
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
    record_step(
        session,
        task,
        step="inspection_issued",
        title=f"海关下达查验指令（{METHOD_LABELS[method].zh}）",
        occurred_at=occurred_at,
        actor=actor,
        receipt_id=receipt_id,
        details={"source": source.value, "method": method.value, "reason": reason},
    )
    if not notify:
        return task
    number, label = declaration_number(declaration), METHOD_LABELS[method]
    notify_parties(
        session,
        task,
        NoticeKind.INSPECTION_ISSUED,
        source="issued",
        title=Message(N_("Inspection ordered: %(number)s"), number=number),
        body=Message(
            N_("Customs ordered a %(method)s of %(number)s (task %(task_no)s); please book a slot."),
            method=label,
            number=number,
            task_no=task.task_no,
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
        raise InvalidInput.of_field(
            "declaration_id", _("Declaration %(declaration_id)s does not exist.", declaration_id=declaration_id)
        )
    existing = find_open_task(session, declaration.id)
    if existing is not None:
        return existing
    if declaration.status not in INSPECTABLE:
        raise InvalidTransition(
            _(
                "Declaration %(id)s is %(status)s; it cannot be inspected from there.",
                id=declaration.id,
                status=declaration.status.value,
            )
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
        raise NotFound(_("Inspection task %(task_id)s does not exist.", task_id=task_id))
    return task


def lock_task_for(session: Session, task_id: int, *, viewer: User) -> InspectionTask:
    """A task `viewer` may see, locked until commit, or NotFound; every change to a task starts here."""
    # The row lock serialises a declarant and a warehouse operator booking the same task at once,
    # which would otherwise take two places.
    task = session.scalar(
        _visible_tasks(viewer)
        .where(InspectionTask.id == task_id)
        .with_for_update(of=InspectionTask)
        .execution_options(populate_existing=True)
    )
    if task is None:
        raise NotFound(_("Inspection task %(task_id)s does not exist.", task_id=task_id))
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
    check_window(since, until, MAX_QUEUE_WINDOW)
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


def record_step(
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
    """Put a step of the task on the declaration's timeline and on the audit chain."""
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


def notify_parties(
    session: Session, task: InspectionTask, kind: NoticeKind, *, source: str, title: Message, body: Message
) -> None:
    """Tell the declarant's and the warehouse's people about a step of the task."""
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


def declaration_number(declaration: Declaration) -> str:
    """The number people know the declaration by: customs' list number once it has one."""
    return declaration.invt_no or declaration.cop_no
