"""Reading gate passages: one by id, the operator's filtered list, and the passage a pass's vehicle has open at a gate
now (arrived, or referred and waiting for a decision)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, bindparam, func, select, text
from sqlalchemy.orm import Session, joinedload

from app.common.pagination import Page, paginate, where_given
from app.errors import NotFound
from app.gates.models import Gate, GatePassage, PassageStatus
from app.i18n import _
from app.infra.statements import cached_statement


def get_passage(session: Session, passage_id: int) -> GatePassage:
    """A passage by id, or NotFound."""
    passage = session.get(GatePassage, passage_id)
    if passage is None:
        raise NotFound(_("Gate passage %(passage_id)s does not exist.", passage_id=passage_id))
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
    gate_id: int
    code: str
    name: str
    # Vehicles arrived and not yet weighed, and vehicles referred to a person for a decision.
    lane_assigned: int = 0
    referred: int = 0


def waiting_by_gate(session: Session) -> list[GateWaiting]:
    """Vehicles at each gate now, arrived or referred; gates with none left out."""
    rows = session.execute(_waiting_counts())
    gates: dict[int, GateWaiting] = {}
    for gate_id, code, name, status, count in rows:
        waiting = gates.setdefault(gate_id, GateWaiting(gate_id=gate_id, code=code, name=name))
        setattr(waiting, status.value, count)
    return sorted(gates.values(), key=lambda waiting: waiting.code)


# As uq_gate_passages_open_pass is written: one generic plan uses it, not a plan per execution.
AT_THE_GATE = text("gate_passages.status IN ('lane_assigned', 'referred')")


# Every gate operator's home screen runs this: built once, not per request.
@cached_statement
def _waiting_counts() -> Select[Any]:
    # The gates' names come in the same statement: no second round trip, no objects loaded.
    return (
        select(Gate.id, Gate.code, Gate.name, GatePassage.status, func.count())
        .join(Gate, Gate.id == GatePassage.gate_id)
        .where(AT_THE_GATE)
        .group_by(Gate.id, Gate.code, Gate.name, GatePassage.status)
    )
