"""A vehicle arrives at a gate (DOMAIN.md §3.4, ARRIVED → LANE_ASSIGNED): identify it by IC card or plate, find its
live gate pass, and assign it an open lane by class, pass type and the enterprise's pilot flag.

On the hot path (50 decisions a second at peak): every lookup goes through a unique or leading-column index, and
nothing scans passages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Select, and_, bindparam, select
from sqlalchemy.orm import Session, contains_eager, joinedload

from app.audit import service as audit
from app.common import clock
from app.errors import InvalidInput
from app.gates.errors import NoLaneOpen
from app.gates.models import (
    Direction,
    Gate,
    GatePass,
    GatePassage,
    Lane,
    LaneState,
    LaneType,
    PassageStatus,
    PassportType,
    Vehicle,
    VehicleClass,
)
from app.gates.passage import find_open_passage
from app.gates.rules import LIVE_PASS
from app.i18n import _
from app.infra.statements import cached_statement
from app.users.models import User


@dataclass(frozen=True)
class Arrival:
    """The passage of a vehicle read at a gate, and whether this read created it."""

    passage: GatePassage
    created: bool


def arrive(
    session: Session,
    *,
    gate_id: int,
    direction: Direction,
    plate: str,
    operator: User,
    ic_no: str | None = None,
    container_no: str | None = None,
    eseal_no: str | None = None,
) -> Arrival:
    """A vehicle is read at a gate: find its pass, assign a lane, and say what is still needed.

    A second read of a vehicle already at the gate on the same pass answers with that passage.
    """
    gate, open_lanes = _gate_with_open_lanes(session, gate_id, direction)
    vehicle, gate_pass = _identify(session, plate=plate, ic_no=ic_no)
    if gate_pass is not None:
        # A query of its own after the lock: it must see a passage the lock holder just committed.
        existing = find_open_passage(session, gate_pass.id)
        if existing is not None:
            return Arrival(existing, created=False)
    lane = _assign_lane(gate, direction, open_lanes, vehicle, gate_pass)
    passage = GatePassage(
        gate=gate,
        lane=lane,
        gate_pass=gate_pass,
        vehicle=vehicle,
        direction=direction,
        status=PassageStatus.LANE_ASSIGNED,
        plate_read=plate,
        ic_no_read=ic_no,
        container_no_read=container_no,
        eseal_no_read=eseal_no,
        reasons=[],
        arrived_by_id=operator.id,
        arrived_at=clock.utcnow(),
    )
    session.add(passage)
    session.flush()
    audit.record(
        session,
        action="gate.arrived",
        actor=audit.by(operator),
        target=passage,
        details={
            "gate_id": gate_id,
            "lane_id": lane.id,
            "direction": direction.value,
            "plate": plate,
            "pass_id": gate_pass.id if gate_pass else None,
        },
        flush=False,
    )
    return Arrival(passage, created=True)


def _identify(session: Session, *, plate: str, ic_no: str | None) -> tuple[Vehicle | None, GatePass | None]:
    """The vehicle read at the gate and its live pass, locked."""
    # The IC card (e-plate) is read by radio and is the surer identity; the camera may misread a plate.
    if ic_no:
        vehicle, gate_pass = _vehicle_with_live_pass(session, "ic_no", ic_no)
        if vehicle is not None:
            return vehicle, gate_pass
    return _vehicle_with_live_pass(session, "plate", plate)


# The vehicle's columns a gate reads it by.
Identity = Literal["ic_no", "plate"]


def _vehicle_with_live_pass(session: Session, identity: Identity, value: str) -> tuple[Vehicle | None, GatePass | None]:
    gate_pass = session.scalar(_live_pass_by(identity), {"identity": value})
    if gate_pass is not None:
        return gate_pass.vehicle, gate_pass
    # Without a live pass the vehicle still has a class that chooses its lane.
    return session.scalar(_vehicle_by(identity), {"identity": value}), None


@cached_statement
def _live_pass_by(identity: Identity) -> Select[tuple[GatePass]]:
    # The pass row lock serialises two reads of the same truck (two cameras, a retry). A vehicle with a pass,
    # the usual case, comes with it in the same query.
    return (
        select(GatePass)
        .join(GatePass.vehicle)
        .where(getattr(Vehicle, identity) == bindparam("identity"), GatePass.status.in_(LIVE_PASS))
        .options(contains_eager(GatePass.vehicle), joinedload(GatePass.enterprise, innerjoin=True))
        .with_for_update(of=GatePass)
        .execution_options(populate_existing=True)
    )


@cached_statement
def _vehicle_by(identity: Identity) -> Select[tuple[Vehicle]]:
    return select(Vehicle).where(getattr(Vehicle, identity) == bindparam("identity"))


def _lane_preference(vehicle: Vehicle | None, gate_pass: GatePass | None) -> list[LaneType]:
    """Lane types to try, best first (the 'lane management refined' rule)."""
    if vehicle is not None and vehicle.vehicle_class is VehicleClass.OVERLENGTH:
        return [LaneType.OVERLENGTH]  # nothing else fits the truck
    preferred: list[LaneType] = []
    if gate_pass is not None and gate_pass.passport_type is PassportType.CHECKPOINT_REGISTERED:
        preferred.append(LaneType.CONVENIENT)
    if vehicle is not None and vehicle.vehicle_class is VehicleClass.CONTAINER:
        preferred.append(LaneType.CONTAINER)
    if vehicle is not None and vehicle.vehicle_class is VehicleClass.ECOMMERCE_VAN:
        preferred.append(LaneType.ECOMMERCE)
    if gate_pass is not None and gate_pass.enterprise.general_taxpayer_pilot:
        preferred.append(LaneType.GENERAL_TAXPAYER_PILOT)
    preferred.append(LaneType.GENERAL)
    return preferred


def _gate_with_open_lanes(session: Session, gate_id: int, direction: Direction) -> tuple[Gate, list[Lane]]:
    """The gate and its open lanes in `direction`, by code, in one query."""
    rows = session.execute(_gate_with_open_lanes_statement(), {"gate_id": gate_id, "direction": direction}).all()
    if not rows:
        raise InvalidInput.of_field("gate_id", _("Gate %(gate_id)s does not exist.", gate_id=gate_id))
    return rows[0][0], [lane for _, lane in rows if lane is not None]


@cached_statement
def _gate_with_open_lanes_statement() -> Select[tuple[Gate, Lane]]:
    open_lanes = and_(Lane.gate_id == Gate.id, Lane.direction == bindparam("direction"), Lane.state == LaneState.OPEN)
    return select(Gate, Lane).outerjoin(Lane, open_lanes).where(Gate.id == bindparam("gate_id")).order_by(Lane.code)


def _assign_lane(
    gate: Gate, direction: Direction, open_lanes: list[Lane], vehicle: Vehicle | None, gate_pass: GatePass | None
) -> Lane:
    for lane_type in _lane_preference(vehicle, gate_pass):
        for lane in open_lanes:
            if lane.lane_type is lane_type:
                return lane
    raise NoLaneOpen(
        _(
            "Gate %(code)s has no open %(direction)s lane for this vehicle; open one and read it again.",
            code=gate.code,
            direction=direction.value,
        )
    )
