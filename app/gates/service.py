"""Gates: lanes, vehicles, gate passes (核放单, DOMAIN.md §3.3) and the vehicle at the gate (§3.4).

The arrival and the weighbridge decision are on the hot path (50 decisions a second at peak):
every lookup there goes through a unique or leading-column index, and nothing scans passages.
"""

from __future__ import annotations

import functools
import secrets
import statistics
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, and_, bindparam, false, select, true
from sqlalchemy.orm import Session, contains_eager, joinedload, selectinload

from app.audit import service as audit
from app.audit.service import Actor
from app.bonded_lists import service as bonded_lists
from app.bonded_lists.models import BondedList, DeductionMark, ImpExp
from app.common import clock
from app.common.pagination import Page, paginate, where_given
from app.declarations import service as declarations
from app.declarations import status as declaration_status
from app.declarations.models import BizStep, Declaration, DeclarationStatus
from app.declarations.status import InvalidTransition
from app.enterprises.models import Enterprise
from app.errors import Conflict, InvalidInput, NotFound
from app.gates.models import (
    BindType,
    DecisionAction,
    DecisionReason,
    Direction,
    Gate,
    GatePass,
    GatePassage,
    GatePassBondedList,
    HoldSource,
    Lane,
    LaneState,
    LaneType,
    PassageStatus,
    PassportType,
    PassStatus,
    ReferralReason,
    Vehicle,
    VehicleClass,
)
from app.inspections import service as inspections
from app.inspections.models import InspectionTask, TaskSource
from app.notices import service as notices
from app.notices.models import NoticeKind
from app.notices.service import Message
from app.risk import service as risk
from app.risk.models import Severity, WarningSource
from app.users.models import Role, User

SHANGHAI = ZoneInfo("Asia/Shanghai")
P = PassStatus
R = ReferralReason
# Passes a vehicle can still drive through a gate on; a vehicle has at most one of them.
LIVE_PASS = (P.DECLARED, P.APPROVED, P.HELD, P.PASSED_GATE_1)
CAN_PASS = frozenset({P.APPROVED, P.PASSED_GATE_1})
# The mismatches that put the pass on hold and raise a risk warning for customs.
MISMATCHES = {
    R.PLATE_MISMATCH: Severity.HIGH,
    R.CONTAINER_MISMATCH: Severity.HIGH,
    R.WEIGHT_OUT_OF_TOLERANCE: Severity.MEDIUM,
    R.ESEAL_MISMATCH: Severity.HIGH,
}
REASON_LABELS = {
    R.NO_VALID_PASS: Message("无有效核放单", "no valid gate pass"),
    R.PASS_NOT_APPROVED: Message("核放单未审批", "gate pass not approved"),
    R.PASS_HELD: Message("核放单被挂起", "gate pass on hold"),
    R.PLATE_MISMATCH: Message("车牌/电子车牌不符", "plate or e-plate does not match"),
    R.CONTAINER_MISMATCH: Message("集装箱号不符", "container number does not match"),
    R.CONTAINER_NOT_READ: Message("未识别集装箱号", "container number not read"),
    R.WEIGHT_OUT_OF_TOLERANCE: Message("地磅重量超出允许误差", "weighbridge weight outside tolerance"),
    R.ESEAL_MISMATCH: Message("电子关锁号不符", "e-seal number does not match"),
    R.ESEAL_NOT_READ: Message("未读取电子关锁", "e-seal not read"),
    R.WRONG_DIRECTION: Message("进出方向与核放单不符", "direction differs from the gate pass"),
    R.OPEN_RISK_WARNING: Message("车辆有未处置的风险预警", "vehicle has an unresolved risk warning"),
}
# Types that declare goods under inventory lists, and which of them need the lists released first.
NEEDS_DECLARATIONS = frozenset({PassportType.FIRST_LINE, PassportType.SECOND_LINE})
NO_DECLARATIONS = frozenset({PassportType.EMPTY_VEHICLE, PassportType.NON_DECLARED})
D = DeclarationStatus
DEAD_DECLARATION = frozenset({D.REJECTED, D.CANCELLED, D.SEND_FAILED, D.SHIPPED_BACK})
RELEASED = frozenset({D.RELEASED, D.CLOSED})
# A bonded list's I/E flag is the direction its goods cross the zone's gate.
LIST_DIRECTION = {ImpExp.IMPORT: Direction.IN, ImpExp.EXPORT: Direction.OUT}
STAFF = frozenset({Role.ADMIN, Role.CUSTOMS_OFFICER, Role.GATE_OPERATOR})
# The customs gateway brings SAS221 approvals, so it must find every pass.
PASS_WIDE = STAFF | {Role.CUSTOMS_GATEWAY}
MAX_FIGURES_WINDOW = timedelta(days=31)
TOP_REASONS = 5


class GateCodeTaken(Conflict):
    code, title = "gate_code_taken", "Gate code already registered"


class LaneCodeTaken(Conflict):
    code, title = "lane_code_taken", "Lane code already used at this gate"


class PlateTaken(Conflict):
    code, title = "plate_taken", "Vehicle already registered"


class VehicleHasLivePass(Conflict):
    code, title = "vehicle_has_live_pass", "Vehicle already has a gate pass in play"


class NoLaneOpen(Conflict):
    code, title = "no_lane_open", "No open lane fits this vehicle"


# Gates and lanes


def create_gate(session: Session, *, code: str, name: str, customs_code: str, actor: Actor) -> Gate:
    """Register a checkpoint gate."""
    if session.scalar(select(Gate.id).where(Gate.code == code)) is not None:
        raise GateCodeTaken(f"A gate with code {code} exists.", errors={"json": {"code": ["Already registered."]}})
    gate = Gate(code=code, name=name, customs_code=customs_code, lanes=[])
    session.add(gate)
    session.flush()
    audit.record(session, action="gate.created", actor=actor, target=gate, details={"code": code, "name": name})
    return gate


def get_gate(session: Session, gate_id: int) -> Gate:
    """A gate with its lanes, or NotFound."""
    gate = session.scalar(select(Gate).where(Gate.id == gate_id).options(selectinload(Gate.lanes)))
    if gate is None:
        raise NotFound(f"Gate {gate_id} does not exist.")
    return gate


def find_gate_by_code(session: Session, code: str) -> Gate | None:
    """A gate by its code, or None."""
    return session.scalar(select(Gate).where(Gate.code == code))


def list_gates(session: Session, *, cursor: int | None = None, limit: int) -> Page[Gate]:
    """Gates with their lanes, newest first."""
    statement = select(Gate).options(selectinload(Gate.lanes))
    return paginate(session, statement, key=Gate.id, cursor=cursor, limit=limit)


def add_lane(
    session: Session,
    gate_id: int,
    *,
    code: str,
    lane_type: LaneType,
    direction: Direction,
    dual_gate: bool = False,
    state: LaneState = LaneState.OPEN,
    actor: Actor,
) -> Lane:
    """Add a lane to a gate."""
    gate = get_gate(session, gate_id)
    if any(lane.code == code for lane in gate.lanes):
        raise LaneCodeTaken(f"Gate {gate.code} already has lane {code}.", errors={"json": {"code": ["Already used."]}})
    lane = Lane(gate=gate, code=code, lane_type=lane_type, direction=direction, dual_gate=dual_gate, state=state)
    session.add(lane)
    session.flush()
    audit.record(session, action="gate.lane_added", actor=actor, target=lane, details=_lane_snapshot(lane))
    return lane


def switch_lane(session: Session, lane_id: int, *, actor: Actor, **changes: Any) -> Lane:
    """Switch a lane's type or state when traffic changes; every switch is audited."""
    lane = session.scalar(
        select(Lane).where(Lane.id == lane_id).with_for_update().execution_options(populate_existing=True)
    )
    if lane is None:
        raise NotFound(f"Lane {lane_id} does not exist.")
    before = _lane_snapshot(lane)
    for name, value in changes.items():
        setattr(lane, name, value)
    session.flush()
    changed = audit.changes(before, _lane_snapshot(lane))
    if changed:
        audit.record(session, action="gate.lane_switched", actor=actor, target=lane, details=changed)
    return lane


def _lane_snapshot(lane: Lane) -> dict[str, Any]:
    return {
        "gate_id": lane.gate_id,
        "code": lane.code,
        "lane_type": lane.lane_type.value,
        "direction": lane.direction.value,
        "state": lane.state.value,
        "dual_gate": lane.dual_gate,
    }


# Vehicles


def _vehicles_visible_to(viewer: User) -> ColumnElement[bool]:
    if viewer.role in STAFF:
        return true()
    if viewer.enterprise_id is not None:
        return Vehicle.enterprise_id == viewer.enterprise_id
    return false()


def register_vehicle(
    session: Session,
    *,
    registrant: User,
    actor: Actor,
    plate: str,
    vehicle_class: VehicleClass,
    tare_kg: Decimal,
    ic_no: str | None = None,
    container_no: str | None = None,
    enterprise_id: int | None = None,
) -> Vehicle:
    """Register a vehicle for an enterprise: a declarant for their own, an admin for any."""
    if registrant.role is Role.ADMIN:
        if enterprise_id is None:
            raise InvalidInput.of_field("enterprise_id", "Name the enterprise that owns the vehicle.")
        if session.get(Enterprise, enterprise_id) is None:
            raise InvalidInput.of_field("enterprise_id", f"Enterprise {enterprise_id} does not exist.")
        owner_id = enterprise_id
    elif registrant.enterprise_id is not None and enterprise_id in (None, registrant.enterprise_id):
        owner_id = registrant.enterprise_id
    else:
        raise InvalidInput.of_field("enterprise_id", "You may register vehicles of your own enterprise only.")
    if session.scalar(select(Vehicle.id).where(Vehicle.plate == plate)) is not None:
        raise PlateTaken(f"Vehicle {plate} is already registered.", errors={"json": {"plate": ["Already registered."]}})
    if ic_no and session.scalar(select(Vehicle.id).where(Vehicle.ic_no == ic_no)) is not None:
        raise PlateTaken(f"IC card {ic_no} belongs to another vehicle.", errors={"json": {"ic_no": ["Already used."]}})
    vehicle = Vehicle(
        plate=plate,
        ic_no=ic_no,
        vehicle_class=vehicle_class,
        tare_kg=tare_kg,
        container_no=container_no,
        enterprise_id=owner_id,
    )
    session.add(vehicle)
    session.flush()
    audit.record(
        session,
        action="gate.vehicle_registered",
        actor=actor,
        target=vehicle,
        details={"plate": plate, "enterprise_id": owner_id, "vehicle_class": vehicle_class.value},
    )
    return vehicle


def get_vehicle_for(session: Session, vehicle_id: int, *, viewer: User) -> Vehicle:
    """A vehicle as `viewer` may see it, or NotFound."""
    vehicle = session.scalar(select(Vehicle).where(Vehicle.id == vehicle_id, _vehicles_visible_to(viewer)))
    if vehicle is None:
        raise NotFound(f"Vehicle {vehicle_id} does not exist.")
    return vehicle


def find_vehicle_by_plate(session: Session, plate: str) -> Vehicle | None:
    """A registered vehicle by plate, or None."""
    return session.scalar(select(Vehicle).where(Vehicle.plate == plate))


def list_vehicles(
    session: Session,
    *,
    viewer: User,
    plate: str | None = None,
    vehicle_class: VehicleClass | None = None,
    enterprise_id: int | None = None,
    cursor: int | None = None,
    limit: int,
) -> Page[Vehicle]:
    """Vehicles the viewer may see, newest first."""
    statement = where_given(
        select(Vehicle).where(_vehicles_visible_to(viewer)),
        (Vehicle.plate, plate),
        (Vehicle.vehicle_class, vehicle_class),
        (Vehicle.enterprise_id, enterprise_id),
    )
    return paginate(session, statement, key=Vehicle.id, cursor=cursor, limit=limit)


# Gate passes


def _passes_visible_to(viewer: User) -> ColumnElement[bool]:
    if viewer.role in PASS_WIDE:
        return true()
    if viewer.role is Role.DECLARANT and viewer.enterprise_id is not None:
        return GatePass.enterprise_id == viewer.enterprise_id
    return false()


def declare_pass(
    session: Session,
    *,
    declarant: User,
    actor: Actor,
    plate: str,
    passport_type: PassportType,
    bind_type: BindType,
    direction: Direction,
    customs_code: str,
    goods_gross_kg: Decimal,
    goods_net_kg: Decimal,
    declaration_ids: Sequence[int] = (),
    bonded_list_ids: Sequence[int] = (),
    container_no: str | None = None,
    eseal_no: str | None = None,
    etps_preent_no: str | None = None,
) -> GatePass:
    """A declarant declares a gate pass binding a registered vehicle to goods (SAS121, dcl_type 1)."""
    if declarant.enterprise_id is None:
        raise InvalidInput("Only a declarant of an enterprise can declare gate passes.")
    vehicle = session.scalar(select(Vehicle).where(Vehicle.plate == plate).with_for_update())
    if vehicle is None:
        raise InvalidInput.of_field("plate", f"No vehicle {plate} is registered; register it first.")
    if declaration_ids and bonded_list_ids:
        raise InvalidInput.of_field("bonded_list_ids", "A pass covers inventory lists or bonded lists, not both.")
    covered_lists: list[BondedList] = []
    if bonded_list_ids:
        covered = []
        covered_lists = _covered_bonded_lists(session, declarant, passport_type, bind_type, direction, bonded_list_ids)
    else:
        covered = _covered_declarations(session, declarant, passport_type, bind_type, declaration_ids)
    if passport_type is PassportType.EMPTY_VEHICLE and (goods_gross_kg or goods_net_kg):
        raise InvalidInput.of_field("goods_gross_kg", "An empty vehicle declares no goods weight.")
    if goods_net_kg > goods_gross_kg:
        raise InvalidInput.of_field("goods_net_kg", "Net weight cannot exceed gross weight.")
    live = session.scalar(
        select(GatePass.passport_no).where(GatePass.vehicle_id == vehicle.id, GatePass.status.in_(LIVE_PASS))
    )
    if live is not None:
        raise VehicleHasLivePass(
            f"Vehicle {plate} already has gate pass {live} in play; void it or let it pass first.",
            errors={"json": {"plate": ["Already has a gate pass in play."]}},
        )
    now = clock.utcnow()
    gate_pass = GatePass(
        # The number embeds the row id, which only the INSERT yields; a random value holds the
        # unique column until then.
        passport_no=secrets.token_hex(16),
        etps_preent_no=etps_preent_no,
        passport_type=passport_type,
        bind_type=bind_type,
        direction=direction,
        status=P.DECLARED,
        vehicle=vehicle,
        plate=vehicle.plate,
        container_no=container_no if container_no is not None else vehicle.container_no,
        eseal_no=eseal_no,
        vehicle_kg=vehicle.tare_kg,
        goods_gross_kg=goods_gross_kg,
        goods_net_kg=goods_net_kg,
        total_kg=vehicle.tare_kg + goods_gross_kg,
        enterprise_id=declarant.enterprise_id,
        declared_by_id=declarant.id,
        declared_at=now,
        declarations=covered,
        bonded_lists=covered_lists,
    )
    session.add(gate_pass)
    session.flush()
    gate_pass.passport_no = _passport_number(customs_code, direction, now, gate_pass.id)
    for declaration in covered:
        declaration_status.record_event(
            session,
            declaration,
            step="gate_pass_declared",
            title=f"核放单已申报：{gate_pass.passport_no}（{plate}）",
            status_changed=False,
            actor=declarant,
            details={"pass_id": gate_pass.id, "passport_no": gate_pass.passport_no, "plate": plate},
        )
    audit.record(
        session,
        action="gate.pass_declared",
        actor=actor,
        target=gate_pass,
        details={
            "passport_no": gate_pass.passport_no,
            "declaration_ids": [d.id for d in covered],
            "bonded_list_ids": [b.id for b in covered_lists],
        },
    )
    return gate_pass


def _covered_declarations(
    session: Session,
    declarant: User,
    passport_type: PassportType,
    bind_type: BindType,
    declaration_ids: Sequence[int],
) -> list[Declaration]:
    ids = list(dict.fromkeys(declaration_ids))
    _check_binding("declaration_ids", "declaration", passport_type, bind_type, ids)
    found = list(
        session.scalars(
            select(Declaration)
            .where(Declaration.id.in_(ids), declarations.visible_to(declarant))
            .order_by(Declaration.id)
        )
    )
    missing = sorted(set(ids) - {declaration.id for declaration in found})
    if missing:
        raise InvalidInput.of_field("declaration_ids", f"No declarations of yours with ids {missing}.")
    dead = [declaration.id for declaration in found if declaration.status in DEAD_DECLARATION]
    if dead:
        raise InvalidInput.of_field("declaration_ids", f"Declarations {dead} were rejected, cancelled or shipped back.")
    return found


def _covered_bonded_lists(
    session: Session,
    declarant: User,
    passport_type: PassportType,
    bind_type: BindType,
    direction: Direction,
    bonded_list_ids: Sequence[int],
) -> list[BondedList]:
    ids = list(dict.fromkeys(bonded_list_ids))
    _check_binding("bonded_list_ids", "bonded list", passport_type, bind_type, ids)
    found = list(
        session.scalars(
            select(BondedList).where(BondedList.id.in_(ids), bonded_lists.visible_to(declarant)).order_by(BondedList.id)
        )
    )
    missing = sorted(set(ids) - {bonded_list.id for bonded_list in found})
    if missing:
        raise InvalidInput.of_field("bonded_list_ids", f"No bonded lists of yours with ids {missing}.")
    dead = [b.bond_invt_no for b in found if b.invt_stucd in bonded_lists.DEAD]
    if dead:
        raise InvalidInput.of_field("bonded_list_ids", f"Bonded lists {dead} were rejected or deleted.")
    # Deducted means every vehicle has passed: a pass declared later would carry goods the book no longer holds.
    done = [b.bond_invt_no for b in found if b.deduction_mark is DeductionMark.DEDUCTED]
    if done:
        raise InvalidInput.of_field(
            "bonded_list_ids", f"Bonded lists {done} are deducted; their goods are through the gate."
        )
    wrong_way = [b.bond_invt_no for b in found if LIST_DIRECTION[b.impexp_markcd] is not direction]
    if wrong_way:
        raise InvalidInput.of_field(
            "bonded_list_ids", f"Bonded lists {wrong_way} move goods the other way (I in, E out)."
        )
    return found


def _check_binding(field: str, noun: str, passport_type: PassportType, bind_type: BindType, ids: list[int]) -> None:
    if passport_type in NO_DECLARATIONS and ids:
        raise InvalidInput.of_field(field, f"A {passport_type.value} pass covers no {noun}s.")
    if passport_type in NEEDS_DECLARATIONS and not ids:
        raise InvalidInput.of_field(
            field, f"A {passport_type.value} pass must name the declarations or bonded lists it covers."
        )
    if bind_type is not BindType.ONE_VEHICLE_MANY_LISTS and len(ids) > 1:
        raise InvalidInput.of_field(field, f"Binding {bind_type.value} covers one {noun}.")


def _passport_number(customs_code: str, direction: Direction, when: datetime, serial: int) -> str:
    # Z + customs office(4) + I/E + YYMMDD + serial(12): SAS121's passport_no layout.
    flag = "I" if direction is Direction.IN else "E"
    return f"Z{customs_code}{flag}{when.astimezone(SHANGHAI):%y%m%d}{serial:012d}"


def get_pass_for(session: Session, pass_id: int, *, viewer: User, lock: bool = False) -> GatePass:
    """A gate pass as `viewer` may see it, or NotFound."""
    statement = (
        select(GatePass)
        .where(GatePass.id == pass_id, _passes_visible_to(viewer))
        .options(selectinload(GatePass.declarations), selectinload(GatePass.bonded_lists))
    )
    if lock:
        statement = statement.with_for_update(of=GatePass).execution_options(populate_existing=True)
    gate_pass = session.scalar(statement)
    if gate_pass is None:
        raise NotFound(f"Gate pass {pass_id} does not exist.")
    return gate_pass


def list_passes(
    session: Session,
    *,
    viewer: User,
    status: PassStatus | None = None,
    plate: str | None = None,
    passport_type: PassportType | None = None,
    cursor: int | None = None,
    limit: int,
) -> Page[GatePass]:
    """Gate passes the viewer may see, newest first."""
    statement = where_given(
        select(GatePass)
        .where(_passes_visible_to(viewer))
        .options(selectinload(GatePass.declarations), selectinload(GatePass.bonded_lists)),
        (GatePass.status, status),
        (GatePass.plate, plate),
        (GatePass.passport_type, passport_type),
    )
    return paginate(session, statement, key=GatePass.id, cursor=cursor, limit=limit)


def void_pass(session: Session, pass_id: int, *, declarant: User, actor: Actor) -> GatePass:
    """The declarant withdraws a pass the vehicle has not used (SAS121, dcl_type 3)."""
    gate_pass = get_pass_for(session, pass_id, viewer=declarant, lock=True)
    if gate_pass.status is P.VOIDED:
        return gate_pass
    if gate_pass.status not in (P.DECLARED, P.APPROVED):
        raise InvalidTransition(
            f"Gate pass {gate_pass.passport_no} is {gate_pass.status.value}; "
            "only a declared or approved pass can be voided."
        )
    if _open_passage(session, gate_pass.id) is not None:
        raise InvalidTransition(f"The vehicle of gate pass {gate_pass.passport_no} is at a gate now.")
    gate_pass.status = P.VOIDED
    gate_pass.voided_at = clock.utcnow()
    audit.record(session, action="gate.pass_voided", actor=actor, target=gate_pass)
    if gate_pass.bonded_lists:
        # The vehicle that will not come may have been the last one a list waited for.
        _settle_bonded_lists(session, gate_pass, actor=actor, at=gate_pass.voided_at)
    return gate_pass


def approve_pass(session: Session, pass_id: int, *, approver: User, actor: Actor) -> GatePass:
    """Customs approves a pass (SAS221), or lifts a hold; only for declarations that allow it."""
    gate_pass = get_pass_for(session, pass_id, viewer=approver, lock=True)
    if gate_pass.status is P.APPROVED:
        return gate_pass
    if gate_pass.status not in (P.DECLARED, P.HELD):
        raise InvalidTransition(
            f"Gate pass {gate_pass.passport_no} is {gate_pass.status.value}; only a declared or held pass is approved."
        )
    blocking = [
        f"{d.invt_no or d.cop_no} ({d.status.value})"
        for d in gate_pass.declarations
        if not _allows_passage(gate_pass, d)
    ]
    # A bonded list must be approved and, when it needs one, its customs declaration released.
    blocking += [
        f"{b.bond_invt_no} ({why})" for b in gate_pass.bonded_lists if (why := bonded_lists.passage_blocker(b))
    ]
    if blocking:
        raise InvalidTransition(
            f"Gate pass {gate_pass.passport_no} covers lists that do not allow it to pass: {', '.join(blocking)}."
        )
    previous, hold = gate_pass.status, gate_pass.hold_source
    details: dict[str, Any] = {"from": previous.value}
    if previous is P.HELD:
        details.update(hold_source=hold.value if hold else None, hold_reason=gate_pass.hold_reason)
        _lift_hold(gate_pass)
    else:
        gate_pass.status = P.APPROVED
    gate_pass.approved_at = clock.utcnow()
    gate_pass.approved_by_id = approver.id
    if hold is HoldSource.CUSTOMS:
        for declaration in gate_pass.declarations:
            declaration_status.record_event(
                session,
                declaration,
                step="gate_pass_released",
                title=f"核放单 {gate_pass.passport_no} 已解除海关挂起",
                status_changed=False,
                actor=approver,
                details={"pass_id": gate_pass.id, "passport_no": gate_pass.passport_no},
            )
    audit.record(session, action="gate.pass_approved", actor=actor, target=gate_pass, details=details)
    return gate_pass


def hold_pass(session: Session, pass_id: int, *, officer: User, actor: Actor, reason: str) -> GatePass:
    """Customs holds a pass (SAS224, or an officer's instruction): no vehicle passes on it until customs releases it."""
    gate_pass = get_pass_for(session, pass_id, viewer=officer, lock=True)
    if gate_pass.hold_source is HoldSource.CUSTOMS and gate_pass.hold_reason == reason:
        return gate_pass  # a retried request or a repeated receipt
    if gate_pass.status not in (*CAN_PASS, P.HELD):
        raise InvalidTransition(
            f"Gate pass {gate_pass.passport_no} is {gate_pass.status.value}; "
            "only an approved pass, or one already held at the gate, can be held by customs."
        )
    _hold(gate_pass, source=HoldSource.CUSTOMS, reason=reason, by=officer, at=clock.utcnow())
    for declaration in gate_pass.declarations:
        declaration_status.record_event(
            session,
            declaration,
            step="gate_pass_held",
            title=f"核放单 {gate_pass.passport_no} 被海关挂起：{reason}",
            status_changed=False,
            actor=officer,
            details={"pass_id": gate_pass.id, "passport_no": gate_pass.passport_no, "reason": reason},
        )
    audit.record(session, action="gate.pass_held", actor=actor, target=gate_pass, details={"reason": reason})
    notices.notify_enterprise(
        session,
        enterprise_id=gate_pass.enterprise_id,
        roles=[Role.DECLARANT],
        kind=NoticeKind.GATE_HELD,
        title=Message(f"核放单被海关挂起 {gate_pass.plate}", f"Gate pass held by customs: {gate_pass.plate}"),
        body=Message(
            f"核放单 {gate_pass.passport_no}（{gate_pass.plate}）被海关挂起：{reason}。",
            f"Customs put gate pass {gate_pass.passport_no} ({gate_pass.plate}) on hold: {reason}.",
        ),
        source_key=f"gate_pass/{gate_pass.id}/held/{gate_pass.held_at:%Y%m%d%H%M%S%f}",
        declaration_id=gate_pass.declarations[0].id if len(gate_pass.declarations) == 1 else None,
        link=f"/api/v1/gate-passes/{gate_pass.id}",
    )
    return gate_pass


def _hold(gate_pass: GatePass, *, source: HoldSource, reason: str, by: User | None, at: datetime) -> None:
    if gate_pass.status is not P.HELD:
        gate_pass.held_from = gate_pass.status
        gate_pass.status = P.HELD
    elif gate_pass.hold_source is HoldSource.CUSTOMS and source is HoldSource.GATE:
        return  # the gate cannot turn a customs hold into one it may clear itself
    gate_pass.hold_source = source
    gate_pass.hold_reason = reason[:500]
    gate_pass.held_at = at
    gate_pass.held_by_id = by.id if by is not None else None


def _lift_hold(gate_pass: GatePass) -> None:
    # A pass held between the two barriers of a dual-gate lane goes back to "passed gate 1".
    gate_pass.status = gate_pass.held_from or P.APPROVED
    gate_pass.hold_source = gate_pass.hold_reason = gate_pass.held_from = None
    gate_pass.held_at = gate_pass.held_by_id = None


def _allows_passage(gate_pass: GatePass, declaration: Declaration) -> bool:
    # Goods leave across the second line only once customs has released their list.
    if gate_pass.passport_type is PassportType.SECOND_LINE and gate_pass.direction is Direction.OUT:
        return declaration.status in RELEASED
    return declaration.status not in DEAD_DECLARATION


# The vehicle at the gate


@dataclass(frozen=True)
class Arrival:
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
        existing = _open_passage(session, gate_pass.id)
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


# The statements of the arrival and the decision are built once: built per request, they cost the
# decision half a millisecond (the locking query alone a quarter), more than two of its round trips.
@functools.cache
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


@functools.cache
def _vehicle_by(identity: Identity) -> Select[tuple[Vehicle]]:
    return select(Vehicle).where(getattr(Vehicle, identity) == bindparam("identity"))


def _open_passage(session: Session, pass_id: int) -> GatePassage | None:
    return session.scalar(_open_passage_statement(), {"pass_id": pass_id})


@functools.cache
def _open_passage_statement() -> Select[tuple[GatePassage]]:
    return select(GatePassage).where(
        GatePassage.pass_id == bindparam("pass_id"),
        GatePassage.status.in_((PassageStatus.LANE_ASSIGNED, PassageStatus.REFERRED)),
    )


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
        raise InvalidInput.of_field("gate_id", f"Gate {gate_id} does not exist.")
    return rows[0][0], [lane for _, lane in rows if lane is not None]


@functools.cache
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
        f"Gate {gate.code} has no open {direction.value} lane for this vehicle; open one and read it again."
    )


def _lock_passage(session: Session, passage_id: int) -> tuple[GatePassage, bool]:
    """The passage with everything the decision reads, locked, and whether its vehicle has an open risk warning."""
    params = {"passage_id": passage_id}
    row = session.execute(_locked_passage_with_pass(), params).unique().one_or_none()
    if row is not None:
        return row[0], row[1]
    # No pass to join (a vehicle read without one), or no such passage.
    passage = session.scalar(_locked_passage_alone(), params)
    if passage is None:
        raise NotFound(f"Gate passage {passage_id} does not exist.")
    return passage, False


@functools.cache
def _locked_passage_with_pass() -> Select[tuple[GatePassage, bool]]:
    # Everything the decision reads comes with one locking query; no lazy load follows. The pass changes
    # with the decision, and its lock also waits out an arrival reading it. The open-warning check rides
    # along: a round trip of its own cost a decision more than the check itself.
    return (
        _locked_passage(select(GatePassage, risk.open_warning_about_vehicle(GatePass.plate)))
        .join(GatePassage.gate_pass)
        .options(
            # Of the declarations and lists only what their timelines and settling read: they are wide.
            contains_eager(GatePassage.gate_pass).options(
                joinedload(GatePass.declarations).load_only(
                    Declaration.id, Declaration.status, Declaration.customs_code
                ),
                joinedload(GatePass.bonded_lists).load_only(BondedList.id),
            )
        )
        .with_for_update(of=(GatePassage, GatePass))
    )


@functools.cache
def _locked_passage_alone() -> Select[tuple[GatePassage]]:
    return _locked_passage(select(GatePassage)).with_for_update(of=GatePassage)


def _locked_passage(statement: Select[Any]) -> Select[Any]:
    return (
        statement.where(GatePassage.id == bindparam("passage_id"))
        .options(
            joinedload(GatePassage.gate, innerjoin=True),
            joinedload(GatePassage.lane, innerjoin=True),
            joinedload(GatePassage.vehicle),
        )
        .execution_options(populate_existing=True)
    )


def weigh(session: Session, passage_id: int, *, weighbridge_kg: Decimal, tolerance_percent: Decimal) -> GatePassage:
    """The weighbridge reading decides: clear automatically, or refer with every reason."""
    passage, vehicle_warned = _lock_passage(session, passage_id)
    if passage.status is not PassageStatus.LANE_ASSIGNED:
        if passage.weighbridge_kg == weighbridge_kg:
            return passage  # the device sent the reading again
        raise InvalidTransition(f"Gate passage {passage_id} is {passage.status.value}; it was weighed already.")
    # One UPDATE of the passage at the end, not one per lookup that would autoflush it.
    with session.no_autoflush:
        _decide_on_weight(session, passage, weighbridge_kg, tolerance_percent, vehicle_warned=vehicle_warned)
        # The weighbridge decides on its own (cleared or referred); an operator's decision is recorded by decide().
        audit.record(
            session,
            action="gate.passage_decided",
            actor=audit.SYSTEM,
            target=passage,
            details={
                "status": passage.status.value,
                "automatic": True,
                "reasons": list(passage.reasons),
                "weighbridge_kg": str(weighbridge_kg),
                "pass_id": passage.pass_id,
            },
            flush=False,
        )
    return passage


def _decide_on_weight(
    session: Session, passage: GatePassage, weighbridge_kg: Decimal, tolerance_percent: Decimal, *, vehicle_warned: bool
) -> GatePassage:
    now = clock.utcnow()
    passage.weighbridge_kg = weighbridge_kg
    passage.weighed_at = now
    gate_pass = passage.gate_pass
    if gate_pass is not None:
        passage.expected_kg = gate_pass.total_kg
        passage.wt_error_kg = weighbridge_kg - gate_pass.total_kg
    reasons = _referral_reasons(passage, tolerance_percent, vehicle_warned=vehicle_warned)
    passage.reasons = [reason.value for reason in reasons]
    if not reasons:
        _let_through(session, passage, PassageStatus.AUTO_CLEARED, decider=None, at=now)
        return passage
    passage.status = PassageStatus.REFERRED
    passage.decided_at = None
    mismatches = [reason for reason in reasons if reason in MISMATCHES]
    if gate_pass is not None and mismatches and gate_pass.status in (*CAN_PASS, P.HELD):
        _hold(gate_pass, source=HoldSource.GATE, reason=", ".join(mismatches), by=None, at=now)
    if mismatches:
        _warn(session, passage, mismatches)
    _on_timelines(session, passage, step="gate_referred", title=f"车辆 {passage.plate_read} 在卡口被转人工")
    # Last: writing a notice holds the notice-sequence lock until commit.
    _tell_declarant(session, passage, NoticeKind.GATE_REFERRED, reasons)
    return passage


def _referral_reasons(
    passage: GatePassage, tolerance_percent: Decimal, *, vehicle_warned: bool
) -> list[ReferralReason]:
    gate_pass, vehicle = passage.gate_pass, passage.vehicle
    if gate_pass is None or vehicle is None:
        return [R.NO_VALID_PASS]
    reasons = []
    if gate_pass.status is P.DECLARED:
        reasons.append(R.PASS_NOT_APPROVED)
    elif gate_pass.status is P.HELD:
        reasons.append(R.PASS_HELD)
    if gate_pass.direction is not passage.direction:
        reasons.append(R.WRONG_DIRECTION)
    ic_differs = passage.ic_no_read is not None and passage.ic_no_read != vehicle.ic_no
    if passage.plate_read != gate_pass.plate or ic_differs:
        reasons.append(R.PLATE_MISMATCH)
    if gate_pass.container_no and not passage.container_no_read:
        reasons.append(R.CONTAINER_NOT_READ)
    elif (passage.container_no_read or None) != gate_pass.container_no:
        reasons.append(R.CONTAINER_MISMATCH)
    if gate_pass.eseal_no and not passage.eseal_no_read:
        reasons.append(R.ESEAL_NOT_READ)
    elif gate_pass.eseal_no and passage.eseal_no_read != gate_pass.eseal_no:
        reasons.append(R.ESEAL_MISMATCH)
    assert passage.wt_error_kg is not None
    if abs(passage.wt_error_kg) > gate_pass.total_kg * tolerance_percent / 100:
        reasons.append(R.WEIGHT_OUT_OF_TOLERANCE)
    if vehicle_warned:
        reasons.append(R.OPEN_RISK_WARNING)
    return reasons


def _warn(session: Session, passage: GatePassage, mismatches: list[ReferralReason]) -> None:
    severity = max((MISMATCHES[reason] for reason in mismatches), key=lambda s: risk.SEVERITY_RANK[s])
    _raise_gate_warning(
        session,
        passage,
        severity=severity,
        what="、".join(REASON_LABELS[reason].zh for reason in mismatches),
        details={
            "reasons": [reason.value for reason in mismatches],
            "plate_read": passage.plate_read,
            "container_no_read": passage.container_no_read,
            "eseal_no_read": passage.eseal_no_read,
            "weighbridge_kg": str(passage.weighbridge_kg),
            "expected_kg": str(passage.expected_kg) if passage.expected_kg is not None else None,
        },
    )


def _raise_gate_warning(
    session: Session, passage: GatePassage, *, severity: Severity, what: str, details: dict[str, Any]
) -> None:
    gate_pass = passage.gate_pass
    plate = gate_pass.plate if gate_pass is not None else passage.plate_read
    risk.raise_warning(
        session,
        source=WarningSource.GATE,
        subject_key=risk.vehicle_key(plate),
        severity=severity,
        title=f"卡口 {passage.gate.code} 车辆 {plate}：{what}",
        details={
            "passage_id": passage.id,
            "gate": passage.gate.code,
            "lane": passage.lane.code,
            "passport_no": gate_pass.passport_no if gate_pass is not None else None,
            **details,
        },
        plate=plate,
        declaration_id=gate_pass.declarations[0].id if gate_pass is not None and gate_pass.declarations else None,
        enterprise_id=gate_pass.enterprise_id if gate_pass is not None else None,
        gate_passage_id=passage.id,
    )


def _let_through(
    session: Session, passage: GatePassage, status: PassageStatus, *, decider: User | None, at: datetime
) -> None:
    """Barrier up: the passage is decided and the pass moves one gate forward (SAS223)."""
    passage.status = status
    passage.decided_at = at
    gate_pass = passage.gate_pass
    assert gate_pass is not None
    if gate_pass.status is P.HELD:
        _lift_hold(gate_pass)  # the operator cleared what the gate had held
    if passage.lane.dual_gate and gate_pass.status is not P.PASSED_GATE_1:
        gate_pass.status = P.PASSED_GATE_1
    else:
        gate_pass.status = P.PASSED
        gate_pass.passed_at = at
    if gate_pass.status is P.PASSED and gate_pass.bonded_lists:
        _settle_bonded_lists(session, gate_pass, actor=Actor(user=decider, client_addr=None), at=at)
    gate_no = "（第一道卡口）" if gate_pass.status is P.PASSED_GATE_1 else ""
    _on_timelines(
        session,
        passage,
        step="gate_passed",
        title=f"车辆 {gate_pass.plate} 通过卡口 {passage.gate.code}{gate_no}",
        actor=decider,
    )
    _tell_declarant(session, passage, NoticeKind.GATE_PASSED, [])


def _settle_bonded_lists(session: Session, gate_pass: GatePass, *, actor: Actor, at: datetime) -> None:
    """Deduct each bonded list on the pass once a vehicle has passed on it and no live pass covers it (INV211)."""
    # The list locks come first: two last vehicles passing at once then settle one after the other,
    # and the second sees the first one's pass as passed.
    locked = bonded_lists.lock_for_deduction(session, [b.id for b in gate_pass.bonded_lists])
    statuses: defaultdict[int, set[PassStatus]] = defaultdict(lambda: {gate_pass.status})
    # Other passes only: under weigh's no_autoflush the database still has this one as it was.
    for bonded_list_id, status in session.execute(
        select(GatePassBondedList.bonded_list_id, GatePass.status)
        .join(GatePass, GatePass.id == GatePassBondedList.pass_id)
        .where(GatePassBondedList.bonded_list_id.in_([b.id for b in locked]), GatePass.id != gate_pass.id)
    ):
        statuses[bonded_list_id].add(status)
    for bonded_list in locked:
        seen = statuses[bonded_list.id]
        if P.PASSED in seen and seen.isdisjoint(LIVE_PASS):
            bonded_lists.deduct(session, bonded_list, actor=actor, at=at)


def _on_timelines(session: Session, passage: GatePassage, *, step: str, title: str, actor: User | None = None) -> None:
    gate_pass = passage.gate_pass
    if gate_pass is None:
        return
    biz_step = BizStep.DEPARTING if passage.direction is Direction.OUT else BizStep.ARRIVING
    for declaration in gate_pass.declarations:
        declaration_status.record_event(
            session,
            declaration,
            step=step,
            title=title,
            status_changed=False,
            biz_step=biz_step,
            actor=actor,
            place=passage.gate.code,
            details={
                "passage_id": passage.id,
                "passport_no": gate_pass.passport_no,
                "pass_status": gate_pass.status.value,
                "lane": passage.lane.code,
                "reasons": passage.reasons,
            },
        )


def _tell_declarant(session: Session, passage: GatePassage, kind: NoticeKind, reasons: list[ReferralReason]) -> None:
    gate_pass = passage.gate_pass
    if gate_pass is None:
        return
    where = f"{passage.gate.code}/{passage.lane.code}"
    if kind is NoticeKind.GATE_PASSED:
        title = Message(f"车辆已过卡 {gate_pass.plate}", f"Vehicle passed the gate: {gate_pass.plate}")
        body = Message(
            f"车辆 {gate_pass.plate} 凭核放单 {gate_pass.passport_no} 通过卡口 {where}。",
            f"Vehicle {gate_pass.plate} passed gate {where} on gate pass {gate_pass.passport_no}.",
        )
    else:
        zh = "；".join(REASON_LABELS[reason].zh for reason in reasons)
        en = "; ".join(REASON_LABELS[reason].en for reason in reasons)
        title = Message(f"车辆在卡口转人工 {gate_pass.plate}", f"Vehicle referred at the gate: {gate_pass.plate}")
        body = Message(
            f"车辆 {gate_pass.plate}（核放单 {gate_pass.passport_no}）在卡口 {where} 转人工：{zh}。",
            f"Vehicle {gate_pass.plate} (gate pass {gate_pass.passport_no}) was referred at {where}: {en}.",
        )
    notices.notify_enterprise(
        session,
        enterprise_id=gate_pass.enterprise_id,
        roles=[Role.DECLARANT],
        kind=kind,
        title=title,
        body=body,
        source_key=f"gate_passage/{passage.id}/{kind.value}",
        declaration_id=gate_pass.declarations[0].id if len(gate_pass.declarations) == 1 else None,
        link=f"/api/v1/gate-passes/{gate_pass.id}",
    )


def decide(
    session: Session,
    passage_id: int,
    *,
    action: DecisionAction,
    reason_code: DecisionReason,
    decider: User,
    actor: Actor,
    note: str | None = None,
) -> GatePassage:
    """A gate operator or officer decides on a referred vehicle: clear, turn back or send to inspection."""
    passage, _ = _lock_passage(session, passage_id)
    target = {
        DecisionAction.CLEAR: PassageStatus.CLEARED,
        DecisionAction.TURN_BACK: PassageStatus.TURNED_BACK,
        DecisionAction.INSPECT: PassageStatus.INSPECTION,
    }[action]
    if passage.status is target and passage.decision_reason is reason_code:
        return passage  # a retried request
    if passage.status is not PassageStatus.REFERRED:
        raise InvalidTransition(
            f"Gate passage {passage_id} is {passage.status.value}; only a referred vehicle waits for a decision."
        )
    gate_pass = passage.gate_pass
    now = clock.utcnow()
    passage.decision_reason = reason_code
    passage.decision_note = note
    passage.decided_by_id = decider.id
    details: dict[str, Any] = {"action": action.value, "reason_code": reason_code.value, "note": note}
    if action == DecisionAction.CLEAR:
        if gate_pass is not None and gate_pass.hold_source is HoldSource.CUSTOMS:
            raise InvalidTransition(
                f"Gate pass {gate_pass.passport_no} is held by customs ({gate_pass.hold_reason}); "
                "customs must release it before the vehicle is cleared."
            )
        if gate_pass is None or gate_pass.status not in (*CAN_PASS, P.HELD):
            raise InvalidTransition(
                "Only a vehicle on an approved (or gate-held) pass can be cleared; turn it back instead."
            )
        _let_through(session, passage, PassageStatus.CLEARED, decider=decider, at=now)
    elif action == DecisionAction.TURN_BACK:
        passage.status = PassageStatus.TURNED_BACK
        passage.decided_at = now
    else:
        passage.status = PassageStatus.INSPECTION
        passage.decided_at = now
        details["task_ids"] = [task.id for task in _send_to_inspection(session, passage, decider, reason_code, note)]
    audit.record(session, action="gate.passage_decided", actor=actor, target=passage, details=details)
    return passage


def _send_to_inspection(
    session: Session, passage: GatePassage, decider: User, reason_code: DecisionReason, note: str | None
) -> list[InspectionTask]:
    """Hold the pass; issue inspection tasks for lists customs has not concluded; tell the officers either way.

    Released lists cannot take an inspection task (customs concluded them), so for goods leaving on
    released lists the hold plus a high-severity warning is how the officers learn of it.
    """
    gate_pass = passage.gate_pass
    tasks = []
    if gate_pass is not None:
        if gate_pass.status in (*CAN_PASS, P.HELD):
            _hold(
                gate_pass,
                source=HoldSource.GATE,
                reason=f"inspection: {reason_code.value}",
                by=decider,
                at=clock.utcnow(),
            )
        for declaration in gate_pass.declarations:
            if declaration.status in inspections.INSPECTABLE:
                tasks.append(
                    inspections.order_inspection(
                        session,
                        declaration_id=declaration.id,
                        officer=decider,
                        source=TaskSource.RISK_ALERT,
                        reason=f"卡口转查验：{reason_code.value}" + (f"（{note}）" if note else ""),
                    )
                )
    _raise_gate_warning(
        session,
        passage,
        severity=Severity.HIGH,
        what=f"转查验（{reason_code.value}）",
        details={"reason_code": reason_code.value, "note": note, "task_ids": [task.id for task in tasks]},
    )
    return tasks


def get_passage(session: Session, passage_id: int) -> GatePassage:
    """A passage by id, or NotFound."""
    passage = session.get(GatePassage, passage_id)
    if passage is None:
        raise NotFound(f"Gate passage {passage_id} does not exist.")
    return passage


def list_passages(
    session: Session,
    *,
    gate_id: int | None = None,
    lane_id: int | None = None,
    status: PassageStatus | None = None,
    pass_id: int | None = None,
    cursor: int | None = None,
    limit: int,
) -> Page[GatePassage]:
    """Passages, newest first (the gate operator's screen filters by gate and status)."""
    statement: Select[Any] = where_given(
        select(GatePassage),
        (GatePassage.gate_id, gate_id),
        (GatePassage.lane_id, lane_id),
        (GatePassage.status, status),
        (GatePassage.pass_id, pass_id),
    )
    return paginate(session, statement, key=GatePassage.id, cursor=cursor, limit=limit)


# Figures


@dataclass
class _Tally:
    vehicles: int = 0
    auto_cleared: int = 0
    decided: int = 0
    decision_seconds: list[float] = field(default_factory=list)
    reasons: Counter[str] = field(default_factory=Counter)

    def add(self, status: PassageStatus, arrived_at: datetime, decided_at: datetime | None, reasons: list[str]) -> None:
        self.vehicles += 1
        self.reasons.update(reasons)
        if decided_at is not None:
            self.decided += 1
            self.decision_seconds.append((decided_at - arrived_at).total_seconds())
        if status is PassageStatus.AUTO_CLEARED:
            self.auto_cleared += 1

    def figures(self, hours: float) -> dict[str, Any]:
        return {
            "vehicles": self.vehicles,
            "vehicles_per_hour": self.vehicles / hours,
            "median_decision_seconds": statistics.median(self.decision_seconds) if self.decision_seconds else None,
            "auto_cleared_share": self.auto_cleared / self.decided if self.decided else None,
            "top_referral_reasons": [
                {"reason": reason, "count": count} for reason, count in self.reasons.most_common(TOP_REASONS)
            ],
        }


def gate_figures(session: Session, *, since: datetime, until: datetime, gate_id: int | None = None) -> dict[str, Any]:
    """Per gate and lane over [since, until): vehicles per hour, median arrival→decision, share auto-cleared,
    top referral reasons."""
    if until - since > MAX_FIGURES_WINDOW:
        raise InvalidInput.of_field(
            "until", f"The range may span at most {MAX_FIGURES_WINDOW.days} days.", location="query"
        )
    gates = {gate.id: gate for gate in session.scalars(where_given(select(Gate), (Gate.id, gate_id)))}
    lanes = {lane.id: lane for lane in session.scalars(select(Lane).where(Lane.gate_id.in_(gates)))}
    by_gate = {gate_id: _Tally() for gate_id in gates}
    by_lane = {lane_id: _Tally() for lane_id in lanes}
    rows = session.execute(
        select(
            GatePassage.gate_id,
            GatePassage.lane_id,
            GatePassage.status,
            GatePassage.arrived_at,
            GatePassage.decided_at,
            GatePassage.reasons,
        )
        .where(GatePassage.gate_id.in_(gates), GatePassage.arrived_at >= since, GatePassage.arrived_at < until)
        .execution_options(yield_per=5000)
    )
    for passage_gate, passage_lane, status, arrived_at, decided_at, reasons in rows:
        by_gate[passage_gate].add(status, arrived_at, decided_at, reasons)
        by_lane[passage_lane].add(status, arrived_at, decided_at, reasons)
    hours = (until - since).total_seconds() / 3600
    return {
        "since": since,
        "until": until,
        "gates": [
            {
                "gate_id": gate.id,
                "code": gate.code,
                **by_gate[gate.id].figures(hours),
                "lanes": [
                    {
                        "lane_id": lane.id,
                        "code": lane.code,
                        "lane_type": lane.lane_type,
                        "direction": lane.direction,
                        **by_lane[lane.id].figures(hours),
                    }
                    for lane in sorted(lanes.values(), key=lambda lane: lane.code)
                    if lane.gate_id == gate.id
                ],
            }
            for gate in sorted(gates.values(), key=lambda gate: gate.code)
        ],
    }
