"""Departure (离境, CEB509 sent by the logistics company, CEB510 customs' receipt of it): the flight or train left.

The customs gateway hands over the departure document of a master waybill (billNo) and voyage, as filed, with
customs' receipt status when it has one. Every container loaded under that bill (and voyage) that left the zone
departs: container → DEPARTED, its parcels → DEPARTED, and each list whose parcels have all departed or been
returned closes (结关) through the clearance flow (step "departed", CBV departing), its export head stamped with the
departure time. The lists' declarants get a notice each. A document sent again finds its containers departed and
changes nothing (outcome already_departed); a receipt that refuses the document (100, or a negative status) or has
not reached customs yet (1-3) moves nothing.
"""

from __future__ import annotations

import enum
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.audit import service as audit
from app.clearance.flows import Decisions
from app.common import clock
from app.declarations import status as declaration_status
from app.declarations.models import BizStep, Declaration, DeclarationStatus, Disposition
from app.declarations.status import InvalidTransition
from app.errors import NotFound
from app.exports.models import ContainerStatus, ExportContainer, ExportList, ExportParcel, MasterBag, ParcelStage
from app.i18n import N_, N_plural, _
from app.infra import arrays
from app.notices import service as notices
from app.notices.models import NoticeKind
from app.notices.service import Message
from app.users.models import Role, User

C, P = ContainerStatus, ParcelStage
DONE = (P.DEPARTED, P.RETURNED)
# CEB510 returnStatus: 1-3 still on its way to customs; 4 failed to send; 100 refused; negative a processing error.
NOT_YET = frozenset({1, 2, 3})


class DepartureOutcome(enum.StrEnum):
    DEPARTED = "departed"
    ALREADY_DEPARTED = "already_departed"
    PENDING = "pending"  # customs has not taken the document yet
    REFUSED = "refused"  # customs refused it


@dataclass
class DepartureResult:
    outcome: DepartureOutcome
    bill_no: str
    voyage_no: str | None
    containers: list[ExportContainer]
    parcels_departed: int = 0
    lists_touched: int = 0
    lists_closed: list[int] = field(default_factory=list)
    unknown_packages: list[str] = field(default_factory=list)


def depart(session: Session, *, gateway: User, document: dict[str, Any]) -> DepartureResult:
    """Apply a departure document (CEB509, with its CEB510 status when known) to the containers of its bill."""
    bill_no, voyage_no = document["bill_no"], document.get("voyage_no")
    statement = select(ExportContainer).where(ExportContainer.bill_no == bill_no)
    if voyage_no:
        statement = statement.where(ExportContainer.voyage_no == voyage_no)
    found = list(
        session.scalars(
            statement.order_by(ExportContainer.id).with_for_update().execution_options(populate_existing=True)
        )
    )
    if not found:
        raise NotFound(
            _(
                "No container was loaded under bill %(bill_no)s, voyage %(voyage_no)s.",
                bill_no=bill_no,
                voyage_no=voyage_no,
            )
            if voyage_no
            else _("No container was loaded under bill %(bill_no)s.", bill_no=bill_no)
        )
    gone = [container for container in found if container.status in (C.LEFT_ZONE, C.DEPARTED)]
    if not gone:
        raise InvalidTransition(
            _("No container under bill %(bill_no)s has left the zone; it departs after the gate.", bill_no=bill_no)
        )
    result = DepartureResult(DepartureOutcome.ALREADY_DEPARTED, bill_no, voyage_no, gone)
    status = document.get("return_status")
    if status is not None and (status in NOT_YET or status == 4 or status == 100 or status < 0):
        result.outcome = DepartureOutcome.PENDING if status in NOT_YET else DepartureOutcome.REFUSED
        _audit(session, gone, gateway=gateway, document=document, outcome=result.outcome, parcels=0)
        return result
    leaving = [container for container in gone if container.status is C.LEFT_ZONE]
    if not leaving:
        return result
    leave_time: datetime = document["leave_time"]
    now = clock.utcnow()
    for container in leaving:
        container.status, container.departed_at = C.DEPARTED, leave_time
    moved = session.execute(
        update(ExportParcel)
        .where(
            ExportParcel.bag_id.in_(
                select(MasterBag.id).where(MasterBag.container_id.in_([container.id for container in leaving]))
            ),
            ExportParcel.stage == P.LOADED,
        )
        .values(stage=P.DEPARTED, departed_at=leave_time, updated_at=now)
        .returning(ExportParcel.declaration_id, ExportParcel.waybill_no)
        .execution_options(synchronize_session=False)
    ).all()
    touched = Counter(declaration_id for declaration_id, _ in moved)
    waybills = {waybill for _, waybill in moved}
    result.outcome = DepartureOutcome.DEPARTED
    result.parcels_departed, result.lists_touched = len(moved), len(touched)
    result.unknown_packages = [
        package["logistics_no"] for package in document.get("packages", ()) if package["logistics_no"] not in waybills
    ][:100]
    result.lists_closed = _close_lists(session, touched, gateway=gateway, document=document, containers=leaving)
    _audit(session, leaving, gateway=gateway, document=document, outcome=result.outcome, parcels=len(moved))
    return result


def _close_lists(
    session: Session,
    touched: Counter[int],
    *,
    gateway: User,
    document: dict[str, Any],
    containers: list[ExportContainer],
) -> list[int]:
    """Close every touched list whose parcels are all gone; the others get a step saying how many left."""
    if not touched:
        return []
    leave_time: datetime = document["leave_time"]
    waiting = set(
        session.scalars(
            select(ExportParcel.declaration_id)
            .where(arrays.one_of(session, ExportParcel.declaration_id, list(touched)), ExportParcel.stage.not_in(DONE))
            .distinct()
        )
    )
    # Locked by id, the order every writer of declarations takes.
    lists = list(
        session.scalars(
            select(Declaration)
            .where(arrays.one_of(session, Declaration.id, list(touched)))
            .order_by(Declaration.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )
    voyage = " ".join(part for part in (document.get("traf_name"), document.get("voyage_no")) if part)
    decisions = Decisions(session)
    closed = []
    for declaration in lists:
        if declaration.id in waiting:
            continue
        decisions.apply_status(
            declaration,
            DeclarationStatus.CLOSED,
            step="departed",
            title=f"包裹已离境（{voyage or document['bill_no']}），清单结关",
            occurred_at=leave_time,
            actor=gateway,
        )
        closed.append(declaration.id)
    decisions.finish()
    if closed:
        session.execute(
            update(ExportList)
            .where(arrays.one_of(session, ExportList.declaration_id, closed))
            .values(departed_at=leave_time)
            .execution_options(synchronize_session=False)
        )
    declaration_status.record_events(
        session,
        [
            {
                "declaration_id": declaration.id,
                "status": declaration.status,
                "place": declaration.customs_code,
                "step": "parcels_departed",
                "title": f"{touched[declaration.id]} 件包裹已离境（{voyage or document['bill_no']}）",
                "occurred_at": leave_time,
                "biz_step": BizStep.DEPARTING,
                "disposition": Disposition.IN_TRANSIT,
                "actor_id": gateway.id,
                "details": {"parcels": touched[declaration.id], "bill_no": document["bill_no"]},
            }
            for declaration in lists
            if declaration.id in waiting
        ],
    )
    _notify(session, lists, touched, document=document, voyage=voyage, source=containers[0].id)
    return closed


def _notify(
    session: Session,
    lists: list[Declaration],
    touched: Counter[int],
    *,
    document: dict[str, Any],
    voyage: str,
    source: int,
) -> None:
    notices.prefetch_recipients(
        session, {declaration.declaring_enterprise_id for declaration in lists}, [Role.DECLARANT]
    )
    how = voyage or document["bill_no"]
    for declaration in lists:
        number = declaration.invt_no or declaration.cop_no
        count = touched[declaration.id]
        notices.notify_enterprise(
            session,
            enterprise_id=declaration.declaring_enterprise_id,
            roles=[Role.DECLARANT],
            kind=NoticeKind.EXPORT_DEPARTED,
            title=Message(N_("Parcels departed: %(number)s"), number=number),
            body=Message(
                N_plural(
                    "%(num)s parcel of list %(number)s departed on %(how)s (bill %(bill_no)s).",
                    "%(num)s parcels of list %(number)s departed on %(how)s (bill %(bill_no)s).",
                ),
                num=count,
                number=number,
                how=how,
                bill_no=document["bill_no"],
            ),
            source_key=f"export/{declaration.id}/departed/{source}",
            declaration_id=declaration.id,
            link=f"/api/v1/export-lists/{declaration.id}",
        )


def _audit(
    session: Session,
    containers: list[ExportContainer],
    *,
    gateway: User,
    document: dict[str, Any],
    outcome: DepartureOutcome,
    parcels: int,
) -> None:
    keys = ("cop_no", "pre_no", "bill_no", "voyage_no", "traf_mode", "traf_name", "return_status", "return_info")
    details = {key: document.get(key) for key in keys}
    details.update(outcome=outcome.value, leave_time=document["leave_time"].isoformat(), parcels=parcels)
    actor = audit.by(gateway)
    audit.record_all(
        session,
        [
            audit.prepare(action="export.container_departure", actor=actor, target=container, details=details)
            for container in containers
        ],
    )
