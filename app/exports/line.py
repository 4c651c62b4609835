"""The X-ray line (上线查验): each parcel's scan is answered at once with pass or divert to open-box recheck.

The diverter stands a few metres down the belt, so the answer is on the hot path: one SELECT reads the parcel, its
list's status and whether a live target names it; one INSERT logs the scan; one UPDATE moves the parcel (on
PostgreSQL a single scan's INSERT and UPDATE go as one statement, the UPDATE in a data-modifying WITH: one round
trip fewer). A pass writes nothing else (the scan log is the record). A single scan's two statements are compiled once
and run on the driver's connection (app/infra/prepared.py), on PostgreSQL a pass's each as a transaction by itself:
no BEGIN or COMMIT round trip. A new divert also puts a step on the list's timeline, an entry on the audit trail
and notices to the declarants and the officers on duty, each kind of row as one plain INSERT (no entities, no unit
of work), on PostgreSQL one divert's three as one statement (app/exports/divert_writes.py). A batch (a controller
that buffers) is the same three statements for all its scans.

A parcel is diverted when the machine flags its image, when a live target (布控) names its list or its waybill, or
when its list is not RELEASED (the status that allows loading); an unknown waybill, or one never scanned in, is
diverted for a person to look at. A parcel released by an open-box recheck has been looked inside: the machine's
doubt no longer diverts it, nor a target older than the recheck. Stages only move between SCANNED_IN, PASSED and
DIVERTED here; a parcel awaiting its recheck stays diverted, and a bagged one keeps its bag (the answer still says
what the line must do).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, bindparam, exists, insert, or_, select, update
from sqlalchemy.orm import Session

from app.audit import service as audit
from app.common import clock
from app.declarations.models import BizStep, Declaration, DeclarationStatus, Disposition
from app.exports.divert_writes import write_diverts
from app.exports.intake import LIVE_PARCEL
from app.exports.models import DivertReason, ExportParcel, ExportTarget, LineDecision, LineScan, LineVerdict
from app.exports.models import ParcelStage as S
from app.i18n import N_
from app.infra.prepared import PreparedOne
from app.infra.statements import cached_statement
from app.notices import officers as on_duty
from app.notices import service as notices
from app.notices.batch import Fanout
from app.notices.models import NoticeKind
from app.notices.text import Message
from app.users.models import Role, User

# The list statuses whose parcels may go on to be bagged and loaded.
LOADABLE = frozenset({DeclarationStatus.RELEASED})
MAX_BATCH = 500
# Stages the line moves a parcel out of; any other stays as it is, whatever the answer.
_MOVABLE = (S.SCANNED_IN, S.PASSED)
_AWAITING_RECHECK = (S.DIVERTED, S.HELD)
_DECLARANTS = frozenset({Role.DECLARANT})

# What the line's display shows, by reason (None: pass).
MESSAGES: dict[DivertReason | None, str] = {
    None: "放行",
    DivertReason.MACHINE: "机检图像可疑，转开箱复验",
    DivertReason.TARGETED: "海关指令查验，转开箱复验",  # not 布控: targeting rules stay with customs
    DivertReason.LIST_STATUS: "清单未放行，转人工处理",
    DivertReason.UNKNOWN_WAYBILL: "运单号无记录，转人工处理",
    DivertReason.NOT_SCANNED_IN: "未扫码入库，转人工处理",
}
# Why a parcel was diverted, in its declarants' and officers' notices.
DIVERT_REASONS = {
    DivertReason.MACHINE: Message(N_("the X-ray image is suspect")),
    DivertReason.TARGETED: Message(N_("selected by customs")),
    DivertReason.LIST_STATUS: Message(N_("its list is not released")),
    DivertReason.NOT_SCANNED_IN: Message(N_("it was not scanned in")),
}


@dataclass(frozen=True)
class LineAnswer:
    scan_id: int
    waybill_no: str
    decision: LineDecision
    reason: DivertReason | None

    @property
    def message(self) -> str:
        return MESSAGES[self.reason]


@dataclass(frozen=True)
class _Decided:
    scan: dict[str, Any]  # the line's scan as posted
    row: Any  # the parcel as read, or None
    reason: DivertReason | None
    new_stage: S | None  # where the UPDATE moves the parcel, or None
    notify: bool  # a new divert: timeline, audit, notice


def decide(
    session: Session, *, line: User, waybill_no: str, line_id: str, verdict: LineVerdict, image_ref: str | None = None
) -> LineAnswer:
    """Answer one scan from the line: pass, or divert for open-box recheck, with the reason."""
    scan = {"waybill_no": waybill_no, "line_id": line_id, "verdict": verdict, "image_ref": image_ref}
    return decide_many(session, line=line, scans=[scan])[0]


def decide_many(session: Session, *, line: User, scans: Sequence[dict[str, Any]]) -> list[LineAnswer]:
    """Answer many scans from a line that buffers them, in their order, as one scan each would be answered."""
    now = clock.utcnow()
    # Core on the session's connection: the ORM's execution layer costs each statement a tenth of a millisecond.
    connection = session.connection()
    if len(scans) == 1:
        # The line's usual request: `waybill_no = :waybill` (at most one live parcel bears it), compiled once and run
        # on the driver's connection (app/infra/prepared.py says what that saves), a read by itself if nothing came
        # before it in the transaction.
        one = _LOOKUP_ONE.first(
            connection, by_itself=True, waybill=scans[0]["waybill_no"], warehouse_id=line.enterprise_id
        )
        rows = {} if one is None else {one.waybill_no: one}
    else:
        found = connection.execute(
            _lookup(), {"waybills": list({scan["waybill_no"] for scan in scans}), "warehouse_id": line.enterprise_id}
        )
        rows = {row.waybill_no: row for row in found}
    decided = []
    # Where this batch has left each parcel (stage, divert reason), for a waybill scanned twice in it.
    moved: dict[int, tuple[S, DivertReason | None]] = {}
    for scan in scans:
        row = rows.get(scan["waybill_no"])
        stage, standing = moved.get(row.id, (row.stage, row.divert_reason)) if row is not None else (None, None)
        item = _decide(scan, row, stage, standing)
        if item.new_stage is not None:
            moved[row.id] = (item.new_stage, item.reason)
        decided.append(item)
    if len(decided) == 1 and connection.dialect.name == "postgresql":
        # The line's usual request: its scan logged and its parcel moved in one statement, one round trip.
        scan_ids = [_log_and_move(connection, decided[0], now)]
    else:
        scan_ids = _log_scans(connection, decided, now)
        _move_parcels(connection, decided, now)
    diverts = [(item, scan_id) for item, scan_id in zip(decided, scan_ids, strict=True) if item.notify]
    if diverts:
        _record_diverts(session, line=line, diverts=diverts, at=now)
    return [
        LineAnswer(
            scan_id=scan_id,
            waybill_no=item.scan["waybill_no"],
            decision=LineDecision.PASS if item.reason is None else LineDecision.DIVERT,
            reason=item.reason,
        )
        for item, scan_id in zip(decided, scan_ids, strict=True)
    ]


def _decide(scan: dict[str, Any], row: Any, stage: S | None, standing: DivertReason | None) -> _Decided:
    if row is None:
        return _Decided(scan, None, DivertReason.UNKNOWN_WAYBILL, None, notify=False)
    if stage is S.DECLARED:
        return _Decided(scan, row, DivertReason.NOT_SCANNED_IN, None, notify=True)
    if stage in _AWAITING_RECHECK:
        # Back on the belt before its recheck: it goes to the recheck again, for the reason it went the first time.
        return _Decided(scan, row, standing or DivertReason.MACHINE, None, notify=False)
    rechecked = row.rechecked_at is not None
    if scan["verdict"] is LineVerdict.SUSPECT and not rechecked:
        reason: DivertReason | None = DivertReason.MACHINE
    elif row.targeted:
        reason = DivertReason.TARGETED
    elif row.status not in LOADABLE:
        reason = DivertReason.LIST_STATUS
    else:
        reason = None
    if stage in _MOVABLE:
        return _Decided(scan, row, reason, S.PASSED if reason is None else S.DIVERTED, notify=reason is not None)
    # Bagged or loaded: the bag is the loading flow's to reopen; the line only says what to do with the parcel.
    return _Decided(scan, row, reason, None, notify=reason is not None)


@cached_statement
def _lookup(*, many: bool = True) -> Select[Any]:
    """Each parcel of the line's warehouse by waybill, its list's status and numbers, and whether a live target names
    it (one made after the parcel's recheck, if it had one): the waybills in `waybills`, or (not `many`) `waybill`."""
    p, t = ExportParcel, ExportTarget
    since_recheck = or_(p.rechecked_at.is_(None), t.created_at > p.rechecked_at)
    targeted = or_(
        exists().where(t.declaration_id == p.declaration_id, t.active.is_(True), since_recheck),
        exists().where(t.waybill_no == p.waybill_no, t.active.is_(True), since_recheck),
    )
    return (
        select(
            p.id,
            p.waybill_no,
            p.stage,
            p.divert_reason,
            p.rechecked_at,
            p.declaration_id,
            Declaration.status,
            Declaration.declaring_enterprise_id,
            # What a divert's timeline step and notices name: a divert reads no more of its list.
            Declaration.invt_no,
            Declaration.cop_no,
            Declaration.customs_code,
            targeted.label("targeted"),
        )
        .join(Declaration, Declaration.id == p.declaration_id)
        .where(
            p.waybill_no.in_(bindparam("waybills", expanding=True)) if many else p.waybill_no == bindparam("waybill"),
            LIVE_PARCEL,
            Declaration.warehouse_enterprise_id == bindparam("warehouse_id"),
        )
    )


@cached_statement
def _insert_scan() -> Any:
    return insert(LineScan.__table__).returning(LineScan.id)


@cached_statement
def _insert_scans() -> Any:
    return insert(LineScan.__table__).returning(LineScan.id, sort_by_parameter_order=True)


@cached_statement
def _update_parcels(*, many: bool = True) -> Any:
    """The parcels in `parcel_ids`, or (not `many`) the one `moved_parcel_id`, moved to `to_stage`."""
    p = ExportParcel.__table__.c
    which = p.id.in_(bindparam("parcel_ids", expanding=True)) if many else p.id == bindparam("moved_parcel_id")
    return (
        update(ExportParcel.__table__)
        # Only from the stages the line moves: a parcel bagged meanwhile keeps its bag.
        .where(which, or_(p.stage == S.SCANNED_IN, p.stage == S.PASSED))
        .values(
            stage=bindparam("to_stage"),
            divert_reason=bindparam("to_reason"),
            line_scanned_at=bindparam("at"),
            updated_at=bindparam("at"),
        )
    )


@cached_statement
def _insert_scan_moving_parcel() -> Any:
    """PostgreSQL: the scan's INSERT with the parcel's UPDATE in a data-modifying WITH, both in one statement."""
    # Bound under names no column of the parcels has: a key named like one (waybill_no) would be SET by the UPDATE.
    return (
        insert(LineScan.__table__)
        .values({column: bindparam(f"scan_{column}") for column in _SCAN_COLUMNS})
        .returning(LineScan.id)
        .add_cte(_update_parcels(many=False).cte("moved"))
    )


# The single scan's two statements on the driver's connection: SQLAlchemy's execution of them (compiled-cache key,
# parameter and result processing, Row objects, events) was the largest share of a pass scan in a cProfile.
_LOOKUP_ONE = PreparedOne(lambda: _lookup(many=False))
_LOG_AND_MOVE = PreparedOne(_insert_scan_moving_parcel)

_SCAN_COLUMNS = ("parcel_id", "waybill_no", "line_id", "image_ref", "verdict", "decision", "reason", "scanned_at")


def _scan_row(item: _Decided, now: datetime) -> dict[str, Any]:
    return {
        "parcel_id": item.row.id if item.row is not None else None,
        "waybill_no": item.scan["waybill_no"],
        "line_id": item.scan["line_id"],
        "image_ref": item.scan.get("image_ref"),
        "verdict": item.scan["verdict"],
        "decision": LineDecision.PASS if item.reason is None else LineDecision.DIVERT,
        "reason": item.reason,
        "scanned_at": now,
    }


def _log_and_move(connection: Connection, item: _Decided, now: datetime) -> int:
    """One scan logged, and its parcel moved if the answer moves it, in one statement (PostgreSQL)."""
    if item.new_stage is None:
        return connection.scalar(_insert_scan(), _scan_row(item, now))
    row = {f"scan_{column}": value for column, value in _scan_row(item, now).items()}
    move = {"moved_parcel_id": item.row.id, "to_stage": item.new_stage, "to_reason": item.reason, "at": now}
    # A pass writes nothing else: its one statement may be a transaction by itself (no BEGIN, no COMMIT round trip)
    # when nothing came before it (no Idempotency-Key's lock, no key use to record). A new divert's writes follow.
    return _LOG_AND_MOVE.first(connection, by_itself=not item.notify, **row, **move).id


def _log_scans(connection: Connection, decided: list[_Decided], now: datetime) -> list[int]:
    rows = [_scan_row(item, now) for item in decided]
    if len(rows) == 1:
        # The line's usual request: one row needs none of the many-rows machinery.
        return [connection.scalar(_insert_scan(), rows[0])]
    return list(connection.scalars(_insert_scans(), rows))


def _move_parcels(connection: Connection, decided: list[_Decided], now: datetime) -> None:
    """One UPDATE per (stage, reason) the batch moves parcels to: passed, and diverted for each reason."""
    # The last scan of a parcel in the batch decides where it stays.
    last = {item.row.id: (item.new_stage, item.reason) for item in decided if item.new_stage is not None}
    groups: dict[tuple[S, DivertReason | None], list[int]] = {}
    for parcel_id, move in last.items():
        groups.setdefault(move, []).append(parcel_id)
    for (stage, reason), parcel_ids in groups.items():
        connection.execute(
            _update_parcels(), {"parcel_ids": parcel_ids, "to_stage": stage, "to_reason": reason, "at": now}
        )


def _record_diverts(session: Session, *, line: User, diverts: list[tuple[_Decided, int]], at: datetime) -> None:
    """What a new divert adds to the pass's writes: a timeline step, an audit entry and the declarants' and
    officers' notices, as plain rows (nothing here needs an entity back), on PostgreSQL one divert's all in one
    INSERT (app/exports/divert_writes.py)."""
    notices.prefetch_recipients(session, {item.row.declaring_enterprise_id for item, _ in diverts}, _DECLARANTS)
    steps, entries, fanouts = [], [], []
    for item, scan_id in diverts:
        row, reason = item.row, item.reason
        assert reason is not None
        details = {
            "waybill_no": row.waybill_no,
            "parcel_id": row.id,
            "scan_id": scan_id,
            "line_id": item.scan["line_id"],
            "verdict": item.scan["verdict"].value,
            "reason": reason.value,
        }
        steps.append(
            {
                "declaration_id": row.declaration_id,
                "status": row.status,
                "step": "line_diverted",
                "title": f"包裹 {row.waybill_no} {MESSAGES[reason]}",
                "occurred_at": at,
                "biz_step": BizStep.INSPECTING,
                # The image failed the check; otherwise the parcel is simply held for a look.
                "disposition": Disposition.NON_CONFORMANT
                if reason is DivertReason.MACHINE
                else Disposition.IN_PROGRESS,
                "actor_id": line.id,
                "place": row.customs_code,
                "details": details,
            }
        )
        entries.append(
            audit.prepare(
                action="export.parcel_diverted",
                actor=audit.by(line),
                target_type=ExportParcel.__tablename__,
                target_id=row.id,
                details={**details, "declaration_id": row.declaration_id},
            )
        )
        number = row.invt_no or row.cop_no
        body = Message(
            N_("Parcel %(waybill_no)s of list %(number)s was diverted at X-ray line %(line)s: %(reason)s."),
            waybill_no=row.waybill_no,
            number=number,
            line=item.scan["line_id"],
            reason=DIVERT_REASONS[reason],
        )
        link = f"/api/v1/export-lists/{row.declaration_id}"
        fanouts.append(
            Fanout(
                notices.enterprise_recipients(session, row.declaring_enterprise_id, _DECLARANTS),
                kind=NoticeKind.EXPORT_DIVERTED,
                title=Message(N_("Parcel %(waybill_no)s diverted for recheck"), waybill_no=row.waybill_no),
                body=body,
                # Per parcel and scan: each divert decision notifies once, a retried request not again.
                source_key=f"export-parcel/{row.id}/diverted/{scan_id}",
                declaration_id=row.declaration_id,
                link=link,
            )
        )
        # And the officers of the list's customs office: the parcel waits at the recheck bench for one of them.
        fanouts.append(
            Fanout(
                on_duty.officers_on_duty(session, row.customs_code),
                kind=NoticeKind.OFFICER_PARCEL_DIVERTED,
                title=Message(N_("Parcel %(waybill_no)s awaits a recheck"), waybill_no=row.waybill_no),
                body=body,
                source_key=f"officer/export-parcel/{row.id}/diverted/{scan_id}",
                declaration_id=row.declaration_id,
                link=link,
            )
        )
    write_diverts(session, steps=steps, entries=entries, fanouts=fanouts)
