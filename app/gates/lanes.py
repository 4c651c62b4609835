"""Gates and their lanes: registering a checkpoint, adding lanes, and switching a lane's type, direction or state as
traffic changes (every switch audited, with the reason given)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.audit import service as audit
from app.audit.models import AuditEvent
from app.audit.service import Actor
from app.common.pagination import Page, paginate
from app.errors import NotFound
from app.gates.errors import GateCodeTaken, LaneCodeTaken
from app.gates.models import Direction, Gate, Lane, LaneState, LaneType
from app.i18n import _

LANE_SWITCHED = "gate.lane_switched"


def create_gate(session: Session, *, code: str, name: str, customs_code: str, actor: Actor) -> Gate:
    """Register a checkpoint gate."""
    if session.scalar(select(Gate.id).where(Gate.code == code)) is not None:
        raise GateCodeTaken(
            _("A gate with code %(code)s exists.", code=code), errors={"json": {"code": [_("Already registered.")]}}
        )
    gate = Gate(code=code, name=name, customs_code=customs_code, lanes=[])
    session.add(gate)
    session.flush()
    audit.record(session, action="gate.created", actor=actor, target=gate, details={"code": code, "name": name})
    return gate


def get_gate(session: Session, gate_id: int) -> Gate:
    """A gate with its lanes, or NotFound."""
    gate = session.scalar(select(Gate).where(Gate.id == gate_id).options(selectinload(Gate.lanes)))
    if gate is None:
        raise NotFound(_("Gate %(gate_id)s does not exist.", gate_id=gate_id))
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
        raise LaneCodeTaken(
            _("Gate %(gate)s already has lane %(lane)s.", gate=gate.code, lane=code),
            errors={"json": {"code": [_("Already used.")]}},
        )
    lane = Lane(gate=gate, code=code, lane_type=lane_type, direction=direction, dual_gate=dual_gate, state=state)
    session.add(lane)
    session.flush()
    audit.record(session, action="gate.lane_added", actor=actor, target=lane, details=_lane_snapshot(lane))
    return lane


def get_lane(session: Session, lane_id: int) -> Lane:
    """A lane with its gate, or NotFound."""
    lane = session.scalar(select(Lane).where(Lane.id == lane_id).options(selectinload(Lane.gate)))
    if lane is None:
        raise NotFound(_("Lane %(lane_id)s does not exist.", lane_id=lane_id))
    return lane


def switch_lane(session: Session, lane_id: int, *, actor: Actor, reason: str | None = None, **changes: Any) -> Lane:
    """Switch a lane's type, direction or state when traffic changes; every switch is audited with its reason."""
    lane = session.scalar(
        select(Lane).where(Lane.id == lane_id).with_for_update().execution_options(populate_existing=True)
    )
    if lane is None:
        raise NotFound(_("Lane %(lane_id)s does not exist.", lane_id=lane_id))
    before = _lane_snapshot(lane)
    for name, value in changes.items():
        setattr(lane, name, value)
    session.flush()
    changed: dict[str, Any] = audit.changes(before, _lane_snapshot(lane))
    if changed:
        if reason:
            changed["reason"] = reason
        audit.record(session, action=LANE_SWITCHED, actor=actor, target=lane, details=changed)
    return lane


def list_switches(session: Session, lane_id: int, *, cursor: int | None = None, limit: int) -> Page[AuditEvent]:
    """A lane's switches, newest first, as the audit trail holds them ({field: {from, to}} and the reason)."""
    return audit.list_events(
        session,
        action=LANE_SWITCHED,
        target_type=Lane.__tablename__,
        target_id=str(lane_id),
        cursor=cursor,
        limit=limit,
    )


def _lane_snapshot(lane: Lane) -> dict[str, Any]:
    return {
        "gate_id": lane.gate_id,
        "code": lane.code,
        "lane_type": lane.lane_type.value,
        "direction": lane.direction.value,
        "state": lane.state.value,
        "dual_gate": lane.dual_gate,
    }
