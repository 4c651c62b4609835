"""Open-box recheck (开箱复验) of export parcels the X-ray line diverted, by a customs officer at the recheck bench.

A recheck belongs to its list's open inspection task (method open_box, source line_divert). The officer at the bench
opens it first (`open_bench_task`), so the photos go into it through the inspections' photo endpoint before the
result is known, then records each parcel's result; a result recorded without an open task opens one. Each recheck
has a result (normal or abnormal), notes and a disposal:

- release: the parcel is PASSED again and may be bagged;
- hold: the parcel is HELD and the task goes back to be booked for a 7×24 slot, through the inspections' booking
  flow (the declarant's and the warehouse's people are told as inspections tell them); the booked inspection ends
  with a second recheck of the held parcel, released or returned;
- return_to_shipper: the parcel is RETURNED; it never leaves for abroad.

When no parcel of the list is left diverted or held, the task closes with the rechecks' overall result. Each
recheck lands on the list's timeline (CBV inspecting, conformant or non_conformant), on the audit chain and in a
notice to the list's declarants, in the same transaction.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select, text
from sqlalchemy.orm import Session

from app.audit import service as audit
from app.common import clock
from app.common.pagination import Page, paginate
from app.declarations import service as declarations
from app.declarations.models import BizStep, Declaration, DeclarationStatus, Disposition
from app.declarations.status import InvalidTransition, record_event
from app.errors import InvalidInput, NotFound
from app.exports.lists import EXPORT, LIVE_STAGES
from app.exports.models import ExportParcel, ParcelStage, Recheck, RecheckDisposal
from app.i18n import N_, _
from app.infra.statements import cached_statement
from app.inspections import closing as inspection_closing
from app.inspections import tasks as inspection_tasks
from app.inspections.models import (
    Disposal,
    InspectionMethod,
    InspectionPhoto,
    InspectionResult,
    InspectionTask,
    TaskSource,
    TaskStatus,
)
from app.notices import service as notices
from app.notices.models import NoticeKind
from app.notices.service import Message
from app.notices.text import with_notes
from app.users.models import Role, User

P, T, D = ParcelStage, TaskStatus, RecheckDisposal
RECHECKABLE = frozenset({P.DIVERTED, P.HELD})
# A diverted parcel is at the bench whatever its list's status, and must be disposed of.
ANY_LIST_STATUS = frozenset(DeclarationStatus)
# The bench starts a task nobody has booked yet; a booked one is started by the inspections' own flow.
STARTABLE_AT_BENCH = frozenset({T.ISSUED, T.NOTIFIED})
# A task in these statuses already has (or is at) its slot: a hold leaves it as it is.
BOOKED = frozenset({T.NOTIFIED, T.APPOINTED, T.GOODS_READY})
STAGE_AFTER = {D.RELEASE: P.PASSED, D.HOLD: P.HELD, D.RETURN_TO_SHIPPER: P.RETURNED}
DISPOSAL_LABELS = {
    D.RELEASE: Message(N_("released")),
    D.HOLD: Message(N_("held for inspection")),
    D.RETURN_TO_SHIPPER: Message(N_("returned to the shipper")),
}


def open_bench_task(
    session: Session, declaration_id: int, *, officer: User, at: datetime | None = None
) -> InspectionTask:
    """The list's open-box recheck task, opened if needed and started at the bench so photos can be taken.

    `at` is when the officer opened it (at a bench without network, synced later); default now.
    """
    declaration = session.scalar(
        select(Declaration).where(
            Declaration.id == declaration_id, Declaration.kind == EXPORT, declarations.visible_to(officer)
        )
    )
    if declaration is None:
        raise NotFound(_("Export list %(declaration_id)s does not exist.", declaration_id=declaration_id))
    return _bench_task(session, declaration, officer=officer, at=at or clock.utcnow())


def _bench_task(session: Session, declaration: Declaration, *, officer: User, at: datetime) -> InspectionTask:
    # issue_task locks the declaration first, so two officers at the bench open one task between them.
    inspection_tasks.issue_task(
        session,
        declaration,
        source=TaskSource.LINE_DIVERT,
        occurred_at=at,
        actor=officer,
        method=InspectionMethod.OPEN_BOX,
        reason="X光机分流包裹开箱复验",
        inspectable=ANY_LIST_STATUS,
        notify=False,
    )
    task = inspection_tasks.find_open_task(session, declaration.id, lock=True)
    assert task is not None
    if task.status in STARTABLE_AT_BENCH and task.started_at is None:
        task.method = InspectionMethod.OPEN_BOX
        task.status = T.RECHECK
        task.officer_id = officer.id
        task.started_at = task.recheck_at = at
        inspection_tasks.record_step(
            session,
            task,
            step="inspection_recheck",
            title="开箱复验开始（X光机分流包裹）",
            occurred_at=at,
            actor=officer,
            details={"source": task.source.value, "method": task.method.value},
        )
    return task


def record(
    session: Session,
    *,
    officer: User,
    waybill_no: str,
    result: InspectionResult,
    disposal: RecheckDisposal,
    notes: str | None = None,
    at: datetime | None = None,
) -> Recheck:
    """Record an officer's open-box recheck of one diverted (or held) parcel and carry out its disposal.

    `at` is when the officer recorded it (offline, synced later); default now. The timeline counts the photos the
    list's task has when the recheck is applied, as an inspection's result does.
    """
    parcel = session.scalar(
        select(ExportParcel)
        .where(ExportParcel.waybill_no == waybill_no, ExportParcel.stage.in_(LIVE_STAGES))
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if parcel is None:
        raise InvalidInput.of_field(
            "waybill_no", _("No parcel in the park has waybill %(waybill_no)s.", waybill_no=waybill_no)
        )
    if parcel.stage not in RECHECKABLE:
        raise InvalidTransition(
            _(
                "Parcel %(waybill_no)s is %(stage)s; only a parcel diverted by the line, or held, is rechecked.",
                waybill_no=waybill_no,
                stage=parcel.stage.value,
            )
        )
    if parcel.stage is P.HELD and disposal is D.HOLD:
        raise InvalidTransition(
            _("Parcel %(waybill_no)s is held already; record the booked inspection's outcome.", waybill_no=waybill_no)
        )
    declaration = session.get_one(Declaration, parcel.declaration_id)
    now = at or clock.utcnow()
    task = _bench_task(session, declaration, officer=officer, at=now)
    recheck = Recheck(
        parcel_id=parcel.id,
        task_id=task.id,
        officer_id=officer.id,
        result=result.value,
        disposal=disposal,
        notes=notes,
        recorded_at=now,
    )
    session.add(recheck)
    parcel.stage = STAGE_AFTER[disposal]
    parcel.rechecked_at = now
    session.flush()
    photos = session.scalar(select(func.count()).where(InspectionPhoto.task_id == task.id)) or 0
    _record(session, declaration, recheck, parcel, task, officer=officer, photos=photos)
    if disposal is D.HOLD:
        _hold_for_booking(session, task, parcel, recheck)
    _close_when_done(session, task, at=now)
    return recheck


def _record(
    session: Session,
    declaration: Declaration,
    recheck: Recheck,
    parcel: ExportParcel,
    task: InspectionTask,
    *,
    officer: User,
    photos: int,
) -> None:
    """The recheck on the list's timeline, the audit chain and the declarants' notices."""
    normal = recheck.result == InspectionResult.NORMAL.value
    outcome = DISPOSAL_LABELS[recheck.disposal]
    verdict = Message(N_("normal")) if normal else Message(N_("abnormal"))
    details = {
        "recheck_id": recheck.id,
        "parcel_id": parcel.id,
        "waybill_no": parcel.waybill_no,
        "task_id": task.id,
        "task_no": task.task_no,
        "result": recheck.result,
        "disposal": recheck.disposal.value,
        "photos": photos,
    }
    record_event(
        session,
        declaration,
        step="rechecked",
        title=f"开箱复验 {parcel.waybill_no}：{verdict.zh}，{outcome.zh}",
        occurred_at=recheck.recorded_at,
        status_changed=False,
        biz_step=BizStep.INSPECTING,
        disposition=Disposition.CONFORMANT if normal else Disposition.NON_CONFORMANT,
        actor=officer,
        details=details,
    )
    audit.record(
        session,
        action="export.parcel_rechecked",
        actor=audit.by(officer),
        target=recheck,
        details={"declaration_id": declaration.id, **details, "notes": recheck.notes},
        flush=False,
    )
    number = inspection_tasks.declaration_number(declaration)
    notices.notify_enterprise(
        session,
        enterprise_id=declaration.declaring_enterprise_id,
        roles=[Role.DECLARANT],
        kind=NoticeKind.EXPORT_RECHECKED,
        title=Message(N_("Parcel rechecked: %(waybill_no)s"), waybill_no=parcel.waybill_no),
        body=with_notes(
            Message(
                N_("Parcel %(waybill_no)s of list %(number)s was opened and found %(verdict)s; %(outcome)s."),
                waybill_no=parcel.waybill_no,
                number=number,
                verdict=verdict,
                outcome=outcome,
            ),
            recheck.notes,
        ),
        source_key=f"export/recheck/{recheck.id}",
        declaration_id=declaration.id,
        link=f"/api/v1/export-lists/{declaration.id}",
    )


def _hold_for_booking(session: Session, task: InspectionTask, parcel: ExportParcel, recheck: Recheck) -> None:
    """A held parcel waits for a full inspection: the task goes back to be booked, as a 500's task is."""
    if task.status in BOOKED:
        return
    task.status = T.NOTIFIED
    task.notified_at = recheck.recorded_at
    inspection_tasks.record_step(
        session,
        task,
        step="inspection_held",
        title=f"包裹 {parcel.waybill_no} 扣留待查验，请预约查验时段",
        occurred_at=recheck.recorded_at,
        details={"recheck_id": recheck.id, "waybill_no": parcel.waybill_no},
    )
    number = inspection_tasks.declaration_number(task.declaration)
    inspection_tasks.notify_parties(
        session,
        task,
        NoticeKind.INSPECTION_ISSUED,
        source=f"held/{recheck.id}",
        title=Message(N_("Inspection to book: %(number)s"), number=number),
        body=Message(
            N_("Parcel %(waybill_no)s was held after its recheck (task %(task_no)s); please book a slot."),
            waybill_no=parcel.waybill_no,
            task_no=task.task_no,
        ),
    )


def _close_when_done(session: Session, task: InspectionTask, *, at: datetime) -> None:
    """No parcel of the list left diverted or held: the task closes with the overall result of its rechecks."""
    if task.source is not TaskSource.LINE_DIVERT:
        return  # customs' own inspection of the list (a 500) ends when customs concludes the list
    left = session.scalar(
        select(func.count()).where(
            ExportParcel.declaration_id == task.declaration_id, ExportParcel.stage.in_(RECHECKABLE)
        )
    )
    if left:
        return
    rechecks = session.execute(select(Recheck.result, Recheck.disposal).where(Recheck.task_id == task.id)).all()
    results = Counter(result for result, _ in rechecks)
    disposals = Counter(disposal.value for _, disposal in rechecks)
    if task.result is None:
        normal = set(results) == {InspectionResult.NORMAL.value}
        task.result = InspectionResult.NORMAL if normal else InspectionResult.ABNORMAL
        task.result_at = at
        task.disposal = Disposal.RELEASE if set(disposals) == {D.RELEASE.value} else None
        task.result_notes = "；".join(f"{name} {count}" for name, count in sorted(disposals.items()))[:2000]
    inspection_closing.close_task(
        session,
        task,
        occurred_at=at,
        title="分流包裹均已复验处置，查验任务结束",
        details={"rechecks": len(rechecks), "results": dict(results), "disposals": dict(disposals)},
    )


def list_rechecks(
    session: Session, declaration_id: int, *, viewer: User, cursor: int | None = None, limit: int
) -> Page[Recheck]:
    """The rechecks of an export list's parcels, newest first, as `viewer` may see the list."""
    visible = session.scalar(
        select(Declaration.id).where(
            Declaration.id == declaration_id, Declaration.kind == EXPORT, declarations.visible_to(viewer)
        )
    )
    if visible is None:
        raise NotFound(_("Export list %(declaration_id)s does not exist.", declaration_id=declaration_id))
    statement = select(Recheck).join(Recheck.parcel).where(ExportParcel.declaration_id == declaration_id)
    return paginate(session, statement, key=Recheck.id, cursor=cursor, limit=limit)


def find_parcel(session: Session, waybill_no: str) -> ExportParcel | None:
    """The newest parcel under this waybill number (one reused only after its parcel departed or returned)."""
    return session.scalar(
        select(ExportParcel).where(ExportParcel.waybill_no == waybill_no).order_by(ExportParcel.id.desc()).limit(1)
    )


def awaiting_recheck(session: Session) -> dict[ParcelStage, int]:
    """Parcels the officers still owe a recheck: diverted ones at the bench, held ones awaiting their inspection."""
    counts = dict.fromkeys(AWAITING_RECHECK, 0)
    counts.update({key: count for key, count in session.execute(_awaiting_counts())})
    return counts


AWAITING_RECHECK = (P.DIVERTED, P.HELD)
# As ix_export_parcels_awaiting_recheck is written: PostgreSQL keeps one generic plan using it (bound values would
# have it plan again on every execution, unable to prove they imply the index's predicate).
AWAITING_RECHECK_WHERE = text("export_parcels.stage IN ('diverted', 'held')")


# Every officer's home screen runs this: built once, not per request.
@cached_statement
def _awaiting_counts() -> Select[Any]:
    return select(ExportParcel.stage, func.count()).where(AWAITING_RECHECK_WHERE).group_by(ExportParcel.stage)
