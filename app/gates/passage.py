"""Reading gate passages: one by id, the operator's filtered list, and the passage a pass's vehicle has open at a gate
now (arrived, or referred and waiting for a decision)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.orm import Session, joinedload

from app.common.pagination import Page, paginate, where_given
from app.errors import NotFound
from app.gates.models import Gate, GatePassage, PassageStatus
from app.infra.statements import cached_statement


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


def list_open_passages(session: Session, *, gate_id: int | None = None, limit: int) -> list[GatePassage]:
    """Vehicles at the gate now (arrived, or referred and waiting for a decision), oldest arrival first: the gate
    screen's rows, the lane and pass of each loaded with it."""
    statement = where_given(
        select(GatePassage)
        .options(joinedload(GatePassage.lane), joinedload(GatePassage.gate_pass))
        .where(GatePassage.status.in_((PassageStatus.LANE_ASSIGNED, PassageStatus.REFERRED))),
        (GatePassage.gate_id, gate_id),
    )
    return list(session.scalars(statement.order_by(GatePassage.arrived_at, GatePassage.id).limit(limit)))


def find_open_passage(session: Session, pass_id: int) -> GatePassage | None:
    """The passage of a pass's vehicle still at a gate (lane assigned or referred), or None."""
    return session.scalar(_open_passage_statement(), {"pass_id": pass_id})


@cached_statement
def _open_passage_statement() -> Select[tuple[GatePassage]]:
    return select(GatePassage).where(
        GatePassage.pass_id == bindparam("pass_id"),
        GatePassage.status.in_((PassageStatus.LANE_ASSIGNED, PassageStatus.REFERRED)),
    )


@dataclass
class GateWaiting:
    gate: Gate
    # Vehicles arrived and not yet weighed, and vehicles referred to a person for a decision.
    lane_assigned: int = 0
    referred: int = 0


def waiting_by_gate(session: Session) -> list[GateWaiting]:
    """Vehicles at each gate now, arrived or referred; gates with none left out."""
    rows = session.execute(
        select(GatePassage.gate_id, GatePassage.status, func.count())
        .where(GatePassage.status.in_((PassageStatus.LANE_ASSIGNED, PassageStatus.REFERRED)))
        .group_by(GatePassage.gate_id, GatePassage.status)
    ).all()
    if not rows:
        return []
    gates = {
        gate.id: GateWaiting(gate) for gate in session.scalars(select(Gate).where(Gate.id.in_({r[0] for r in rows})))
    }
    for gate_id, status, count in rows:
        setattr(gates[gate_id], status.value, count)
    return sorted(gates.values(), key=lambda waiting: waiting.gate.code)
