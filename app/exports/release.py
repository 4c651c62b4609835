"""Zone–port linked release (区港联动, 综保区—口岸卡口联动放行): one inspection, one loading, one release.

A sealed container leaves the zone through its e-commerce lane against a gate pass, and the port receives one record
of it (the container, its seal, its bags and lists, and the zone's inspection done) so that it releases the container
without inspecting it again.

1. `declare_gate_pass`: the warehouse operator declares, through the gates' own service, a gate pass (SAS121: first
   line, out, one vehicle for the container's lists) binding the vehicle to the container's number, its seal as the
   e-seal and its weight. Customs approves it and the gate checks the vehicle against it like any other (plate,
   container number, e-seal, weighbridge). The vehicle must be registered as an e-commerce van: the gate's lane rule
   sends those to the e-commerce lane (app/gates/arrival.py).
2. `leave_zone`: once the gate pass is passed (the gate let the vehicle through), the container has left the zone:
   the port's record is built, handed to the port's gateway (app/exports/port.py) and kept on the container; every
   list in it gets a timeline step (CBV departing, in_transit) and its declarants a notice. Its parcels stay LOADED
   until the flight or train leaves (app/exports/departure.py). Called by the gate's side when the vehicle is through;
   a repeated call answers with the container as it is.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.audit import service as audit
from app.audit.service import Actor
from app.common import clock
from app.declarations.models import Declaration
from app.declarations.status import InvalidTransition
from app.errors import Conflict, InvalidInput, NotFound
from app.exports import containers, left_zone
from app.exports.models import ContainerStatus, ExportContainer, ExportList, ExportParcel, MasterBag
from app.exports.port import PortGateway, port_gateway
from app.gates import passes as gate_passes
from app.gates.models import (
    BindType,
    Direction,
    GatePass,
    GatePassage,
    PassageStatus,
    PassportType,
    PassStatus,
    Vehicle,
    VehicleClass,
)
from app.i18n import _, _l
from app.infra import arrays
from app.users.models import User

log = logging.getLogger(__name__)

C = ContainerStatus
TENTH = Decimal("0.1")


class PortRefused(Conflict):
    code, title = "port_refused", _l("The port refused the record")


def declare_gate_pass(
    session: Session, container_id: int, *, operator: User, actor: Actor, plate: str, customs_code: str | None = None
) -> ExportContainer:
    """Declare the gate pass a sealed container leaves the zone on (SAS121, through the gates' service)."""
    container = containers.lock_container(session, container_id, operator=operator)
    if container.gate_pass_id is not None:
        current = session.get_one(GatePass, container.gate_pass_id)
        if current.status is not PassStatus.VOIDED:
            if current.plate == plate:
                return container  # a retried request
            raise InvalidTransition(
                _(
                    "Container %(container_no)s has gate pass %(passport_no)s in play; void it first.",
                    container_no=container.container_no,
                    passport_no=current.passport_no,
                )
            )
    if container.status is not C.SEALED:
        raise InvalidTransition(
            _(
                "Container %(container_no)s is %(status)s; its gate pass follows the seal.",
                container_no=container.container_no,
                status=container.status.value,
            )
        )
    vehicle_class = session.scalar(select(Vehicle.vehicle_class).where(Vehicle.plate == plate))
    if vehicle_class is not None and vehicle_class is not VehicleClass.ECOMMERCE_VAN:
        raise InvalidInput.of_field(
            "plate",
            _(
                "Vehicle %(plate)s is registered as %(vehicle_class)s; a linked-release container leaves by the "
                "e-commerce lane, which the gate assigns to vehicles registered as ecommerce_van.",
                plate=plate,
                vehicle_class=vehicle_class.value,
            ),
        )
    lists = _lists_in(session, container)
    gross = sum((bag.gross_weight for bag in containers.container_bags(session, container)), Decimal("0"))
    net = sum((net * inside / pack_no for _, _, net, pack_no, inside in lists), Decimal("0"))
    gross_kg = gross.quantize(TENTH, ROUND_HALF_UP)
    gate_pass = gate_passes.declare_pass(
        session,
        declarant=operator,
        actor=actor,
        plate=plate,
        passport_type=PassportType.FIRST_LINE,
        bind_type=BindType.ONE_VEHICLE_MANY_LISTS,
        direction=Direction.OUT,
        customs_code=customs_code or lists[0][1],
        goods_gross_kg=gross_kg,
        goods_net_kg=min(net.quantize(TENTH, ROUND_HALF_UP), gross_kg),
        declaration_ids=[declaration_id for declaration_id, *_ in lists],
        container_no=container.container_no,
        eseal_no=container.seal_no,
        etps_preent_no=f"EXPORT-CONTAINER-{container.id}",
    )
    container.gate_pass_id = gate_pass.id
    audit.record(
        session,
        action="export.container_gate_pass_declared",
        actor=actor,
        target=container,
        details={"pass_id": gate_pass.id, "passport_no": gate_pass.passport_no, "plate": plate, "lists": len(lists)},
    )
    return container


def _lists_in(session: Session, container: ExportContainer) -> list[tuple[int, str, Decimal, int, int]]:
    """(list id, customs office, net weight, parcels declared, parcels in this container) per list, by id."""
    return [
        tuple(row)  # type: ignore[misc]
        for row in session.execute(
            select(
                Declaration.id,
                Declaration.customs_code,
                Declaration.net_weight,
                ExportList.pack_no,
                func.count(ExportParcel.id),
            )
            .join(ExportList, ExportList.declaration_id == Declaration.id)
            .join(ExportParcel, ExportParcel.declaration_id == Declaration.id)
            .join(MasterBag, MasterBag.id == ExportParcel.bag_id)
            .where(MasterBag.container_id == container.id)
            .group_by(Declaration.id, Declaration.customs_code, Declaration.net_weight, ExportList.pack_no)
            .order_by(Declaration.id)
        )
    ]


def leave_zone(
    session: Session, container_id: int, *, reporter: User, port: PortGateway | None = None
) -> ExportContainer:
    """The container's vehicle passed the gate: it has left the zone, and the port gets its one record."""
    container = session.scalar(
        select(ExportContainer)
        .where(ExportContainer.id == container_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if container is None:
        raise NotFound(_("Container %(container_id)s does not exist.", container_id=container_id))
    if container.status in (C.LEFT_ZONE, C.DEPARTED):
        return container
    if container.status is not C.SEALED or container.gate_pass_id is None:
        raise InvalidTransition(
            _(
                "Container %(container_no)s is %(status)s without a gate pass; "
                "it leaves the zone sealed, on a gate pass.",
                container_no=container.container_no,
                status=container.status.value,
            )
        )
    gate_pass = session.get_one(GatePass, container.gate_pass_id)
    if gate_pass.status is not PassStatus.PASSED:
        raise InvalidTransition(
            _(
                "Gate pass %(passport_no)s is %(status)s; the vehicle has not passed the gate yet.",
                passport_no=gate_pass.passport_no,
                status=gate_pass.status.value,
            )
        )
    now = clock.utcnow()
    left_at = gate_pass.passed_at or now
    record, by_list = _port_record(session, container, gate_pass, left_at)
    gateway = port or port_gateway()
    answer = gateway.send(record)
    if not answer.accepted:
        raise PortRefused(
            _(
                "The port refused the record of container %(container_no)s: %(reason)s.",
                container_no=container.container_no,
                reason=answer.reason,
            )
        )
    container.status = C.LEFT_ZONE
    container.left_zone_at = left_at
    container.port_record = {
        "sent_at": now.isoformat(),
        "gateway": gateway.name,
        "port_reference": answer.reference,
        "record": record,
    }
    left_zone.tell_lists(
        session, container, gate_pass, by_list, record_no=record["record_no"], actor=reporter, at=left_at
    )
    audit.record(
        session,
        action="export.container_left_zone",
        actor=audit.by(reporter),
        target=container,
        details={
            "passport_no": gate_pass.passport_no,
            "record_no": record["record_no"],
            "port_reference": answer.reference,
            "lists": len(by_list),
            "parcels": record["totals"]["parcels"],
        },
        flush=False,
    )
    return container


def leave_zone_when_passed(session: Session, gate_pass: GatePass | None, *, reporter: User) -> None:
    """Called by the gate when a vehicle's passage is decided: a sealed container on a pass that has now passed the
    (last) gate leaves the zone there and then, and the port gets its record in the same transaction."""
    if gate_pass is None or gate_pass.status is not PassStatus.PASSED:
        return
    container_id = session.scalar(
        select(ExportContainer.id).where(
            ExportContainer.gate_pass_id == gate_pass.id, ExportContainer.status == C.SEALED
        )
    )
    if container_id is None:
        return
    try:
        leave_zone(session, container_id, reporter=reporter)
    except PortRefused as refused:
        # The barrier is up whatever the port says: the vehicle passed. The container stays sealed in the records
        # until the port takes its record (POST .../left-zone again), and nothing was written for it here.
        log.warning("export container %s passed the gate but the port refused its record: %s", container_id, refused)


def _port_record(
    session: Session, container: ExportContainer, gate_pass: GatePass, left_at: datetime
) -> tuple[dict[str, Any], dict[int, tuple[Any, ...]]]:
    """The one record the port releases on: the container, its seal, its bags and lists, the zone inspection done."""
    bags = containers.container_bags(session, container)
    parcels = session.execute(
        select(ExportParcel.waybill_no, ExportParcel.bag_id, ExportParcel.declaration_id, ExportParcel.rechecked_at)
        .join(MasterBag, MasterBag.id == ExportParcel.bag_id)
        .where(MasterBag.container_id == container.id)
        .order_by(ExportParcel.id)
    ).all()
    waybills: dict[int, list[str]] = defaultdict(list)
    for parcel in parcels:
        waybills[parcel.bag_id].append(parcel.waybill_no)
    per_list = Counter(parcel.declaration_id for parcel in parcels)
    by_list = {
        row.id: tuple(row)
        for row in session.execute(
            select(
                Declaration.id,
                Declaration.invt_no,
                Declaration.cop_no,
                Declaration.guid,
                Declaration.trade_mode,
                Declaration.status,
                Declaration.customs_code,
                Declaration.declaring_enterprise_id,
            )
            .where(arrays.one_of(session, Declaration.id, list(per_list)))
            .order_by(Declaration.id)
        )
    }
    passage = session.scalar(
        select(GatePassage)
        .where(
            GatePassage.pass_id == gate_pass.id,
            GatePassage.status.in_((PassageStatus.AUTO_CLEARED, PassageStatus.CLEARED)),
        )
        .order_by(GatePassage.id.desc())
        .limit(1)
    )
    rechecked = [parcel.waybill_no for parcel in parcels if parcel.rechecked_at is not None]
    record = {
        "record_no": f"ZPL{container.port_code}{left_at:%Y%m%d}{container.id:010d}",
        "kind": "zone_port_linked_release",
        "zone_customs_code": next(iter(by_list.values()))[6] if by_list else None,
        "port_code": container.port_code,
        "container": {
            "container_no": container.container_no,
            "seal_no": container.seal_no,
            "traf_mode": container.traf_mode,
            "voyage_no": container.voyage_no,
            "bill_no": container.bill_no,
        },
        "gate": {
            "passport_no": gate_pass.passport_no,
            "plate": gate_pass.plate,
            "gate": passage.gate.code if passage else None,
            "lane": passage.lane.code if passage else None,
            "lane_type": passage.lane.lane_type.value if passage else None,
            "passed_at": left_at.isoformat(),
        },
        "bags": [
            {
                "bag_no": bag.bag_no,
                "parcel_count": bag.parcel_count,
                "gross_weight": str(bag.gross_weight),
                "waybills": waybills.get(bag.id, []),
            }
            for bag in bags
        ],
        "lists": [
            {
                "invt_no": row[1],
                "cop_no": row[2],
                "guid": row[3],
                "trade_mode": row[4],
                "status": row[5].value,
                "parcels": per_list[declaration_id],
            }
            for declaration_id, row in by_list.items()
        ],
        # Every parcel in the container passed the zone's X-ray line, or an officer's open-box recheck released it:
        # the bagging rule lets nothing else in (app/exports/loading.py). The port need not inspect again.
        "zone_inspection": {
            "done": True,
            "by": "zone customs: X-ray line inspection, open-box recheck of diverted parcels",
            "parcels": len(parcels),
            "passed_by_line": len(parcels) - len(rechecked),
            "released_by_recheck": len(rechecked),
            "rechecked_waybills": rechecked,
            "port_inspection_needed": False,
        },
        "totals": {
            "bags": len(bags),
            "parcels": len(parcels),
            "gross_weight": str(sum((bag.gross_weight for bag in bags), Decimal("0"))),
            "lists": len(by_list),
        },
    }
    return record, by_list


def port_record_for(session: Session, container_id: int, *, viewer: User) -> dict[str, Any]:
    """The record the port received for a container that left the zone, as `viewer` may see the container."""
    container = containers.get_container_for(session, container_id, viewer=viewer)
    if container.port_record is None:
        raise NotFound(
            _(
                "Container %(container_no)s has not left the zone; the port has no record of it yet.",
                container_no=container.container_no,
            )
        )
    kept = container.port_record
    return {**kept, "container_id": container.id, "sent_at": datetime.fromisoformat(kept["sent_at"])}
