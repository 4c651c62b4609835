"""The zone's intake of export parcels: the arriving vehicle's seal check (验封) and the scan-in (扫码入库).

One request per vehicle: its plate, its seal and the waybill numbers scanned off it (thousands, for a full truck).
The stock side's rule holds here too: a broken seal stops the scan-in, nothing moves, and customs gets a risk
warning about the vehicle. Otherwise each declared parcel of the operator's warehouse moves to SCANNED_IN in one
set-based UPDATE, each waybill gets an outcome the handheld shows, and each list touched gets one timeline step.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, bindparam, select, text, update
from sqlalchemy.orm import Session

from app.audit import service as audit
from app.common import clock
from app.declarations.models import BizStep, Declaration, DeclarationStatus, Disposition
from app.declarations.status import record_event
from app.errors import InvalidInput
from app.exports.models import ExportParcel, ParcelStage
from app.i18n import _
from app.infra.statements import cached_statement
from app.risk import service as risk
from app.risk.models import Severity, WarningSource
from app.stock.service import SealBroken
from app.users.models import User

# A parcel still in the park's hands, written as the partial unique index on waybill numbers is, so PostgreSQL
# uses that index even under a generic plan (a bound NOT IN list cannot be proven to imply its predicate).
LIVE_PARCEL = text("export_parcels.stage NOT IN ('departed', 'returned')")
# Customs refused these lists: their parcels stay out of the zone's flow.
REFUSED = frozenset({DeclarationStatus.REJECTED, DeclarationStatus.CANCELLED})
MAX_WAYBILLS = 5000


class ScanOutcome(enum.StrEnum):
    """What the handheld shows for one waybill it scanned off the vehicle."""

    SCANNED_IN = "scanned_in"
    ALREADY_SCANNED = "already_scanned"  # scanned in before (or further along)
    UNKNOWN_WAYBILL = "unknown_waybill"  # on no list of a parcel still in the park's hands
    NOT_YOUR_WAREHOUSE = "not_your_warehouse"  # its list names another in-zone warehouse
    LIST_REFUSED = "list_refused"  # customs rejected or cancelled its list
    REPEATED = "repeated"  # scanned twice in this request; the first scan has the outcome


class SealBrokenAtIntake(SealBroken):
    """The stock side's `seal_broken`, keeping the risk warning raised before the request is refused."""

    keeps_changes = True


@dataclass(frozen=True)
class ScanInItem:
    waybill_no: str
    outcome: ScanOutcome
    declaration_id: int | None = None


@dataclass
class ScanIn:
    plate: str
    seal_no: str
    items: list[ScanInItem]
    lists: list[dict[str, int]] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        return dict(Counter(item.outcome.value for item in self.items))

    @property
    def scanned_in(self) -> int:
        return sum(1 for item in self.items if item.outcome is ScanOutcome.SCANNED_IN)


def scan_in(
    session: Session,
    *,
    operator: User,
    plate: str,
    seal_no: str,
    seal_intact: bool,
    waybills: Sequence[str],
    at: datetime | None = None,
) -> ScanIn:
    """Check the vehicle's seal and scan its parcels into the operator's warehouse.

    `at` is when the scan was made (a handheld's offline scan synced later); default now.
    """
    warehouse_id = operator.enterprise_id
    if warehouse_id is None:
        raise InvalidInput(_("Only an operator of an in-zone warehouse can scan parcels in."))
    unique = list(dict.fromkeys(waybills))
    rows = {row.waybill_no: row for row in session.execute(_parcels(), {"waybills": unique})}
    if not seal_intact:
        _refuse_broken_seal(
            session, operator=operator, plate=plate, seal_no=seal_no, rows=rows.values(), count=len(unique)
        )
    candidates = [
        row.id
        for row in rows.values()
        if row.warehouse_enterprise_id == warehouse_id
        and row.status not in REFUSED
        and row.stage is ParcelStage.DECLARED
    ]
    now = clock.utcnow()
    at = at or now
    moved: set[int] = set()
    if candidates:
        # Guarded by the stage: a twin scan-in of the same vehicle moves each parcel once.
        moved = set(
            session.scalars(
                update(ExportParcel.__table__)
                .where(ExportParcel.id.in_(candidates), ExportParcel.stage == ParcelStage.DECLARED)
                .values(stage=ParcelStage.SCANNED_IN, scanned_in_at=at, updated_at=now)
                .returning(ExportParcel.id)
            )
        )
    result = ScanIn(plate=plate, seal_no=seal_no, items=[])
    seen: set[str] = set()
    for waybill in waybills:
        if waybill in seen:
            result.items.append(ScanInItem(waybill, ScanOutcome.REPEATED))
            continue
        seen.add(waybill)
        result.items.append(_outcome(waybill, rows.get(waybill), warehouse_id, moved))
    per_list = Counter(item.declaration_id for item in result.items if item.outcome is ScanOutcome.SCANNED_IN)
    result.lists = [{"declaration_id": key, "scanned_in": count} for key, count in sorted(per_list.items())]
    if per_list:
        _record(session, operator=operator, per_list=per_list, plate=plate, seal_no=seal_no, at=at)
    return result


@cached_statement
def _parcels() -> Select[Any]:
    return (
        select(
            ExportParcel.id,
            ExportParcel.waybill_no,
            ExportParcel.stage,
            ExportParcel.declaration_id,
            Declaration.warehouse_enterprise_id,
            Declaration.status,
        )
        .join(Declaration, Declaration.id == ExportParcel.declaration_id)
        .where(ExportParcel.waybill_no.in_(bindparam("waybills", expanding=True)), LIVE_PARCEL)
    )


def _outcome(waybill: str, row: Any, warehouse_id: int, moved: set[int]) -> ScanInItem:
    if row is None:
        return ScanInItem(waybill, ScanOutcome.UNKNOWN_WAYBILL)
    if row.warehouse_enterprise_id != warehouse_id:
        # Another warehouse's parcel: say so, but not whose list it is on.
        return ScanInItem(waybill, ScanOutcome.NOT_YOUR_WAREHOUSE)
    if row.status in REFUSED:
        return ScanInItem(waybill, ScanOutcome.LIST_REFUSED, row.declaration_id)
    if row.id in moved:
        return ScanInItem(waybill, ScanOutcome.SCANNED_IN, row.declaration_id)
    return ScanInItem(waybill, ScanOutcome.ALREADY_SCANNED, row.declaration_id)


def _refuse_broken_seal(session: Session, *, operator: User, plate: str, seal_no: str, rows: Any, count: int) -> None:
    """Warn customs about the vehicle, then refuse the scan-in; the warning is committed, nothing else moves."""
    lists = sorted({row.declaration_id for row in rows if row.warehouse_enterprise_id == operator.enterprise_id})
    risk.raise_warning(
        session,
        source=WarningSource.SEAL,
        subject_key=risk.vehicle_key(plate),
        severity=Severity.HIGH,
        title=f"验封异常：车辆 {plate} 封志 {seal_no} 不完整",
        details={"seal_no": seal_no, "waybills": count, "declaration_ids": lists[:50]},
        plate=plate,
        declaration_id=lists[0] if len(lists) == 1 else None,
        enterprise_id=operator.enterprise_id,
        actor=audit.by(operator),
    )
    raise SealBrokenAtIntake(
        _(
            "Seal %(seal_no)s of %(plate)s is not intact; nothing was scanned in. Hold the vehicle for customs.",
            seal_no=seal_no,
            plate=plate,
        ),
        errors={"json": {"seal_intact": [_("The seal must be intact.")]}},
    )


def _record(
    session: Session, *, operator: User, per_list: Counter[int | None], plate: str, seal_no: str, at: Any
) -> None:
    """One timeline step (CBV commissioning: the parcels enter the zone's custody) and one audit entry per list."""
    declarations = session.scalars(select(Declaration).where(Declaration.id.in_(list(per_list))))
    entries = []
    for declaration in sorted(declarations, key=lambda d: d.id):
        count = per_list[declaration.id]
        details = {"parcels": count, "plate": plate, "seal_no": seal_no}
        record_event(
            session,
            declaration,
            step="scanned_in",
            title=f"验封通过，{count} 件包裹扫码入库",
            occurred_at=at,
            status_changed=False,
            biz_step=BizStep.COMMISSIONING,
            disposition=Disposition.ACTIVE,
            actor=operator,
            details=details,
        )
        entries.append(
            audit.prepare(action="export.scanned_in", actor=audit.by(operator), target=declaration, details=details)
        )
    audit.record_all(session, entries)
