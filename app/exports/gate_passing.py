"""A decision on a vehicle at the gate, with what it sets off beyond the gate: an export container on a pass that has
now passed the last gate leaves the zone, and the port gets its record in the same transaction.

The API's decision route and the console's decision buttons both call `decide` here, so neither can forget the port.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from app.audit.service import Actor
from app.exports import release
from app.gates import decision
from app.gates.models import GatePassage
from app.users.models import User


def decide(session: Session, passage_id: int, *, decider: User, actor: Actor, **choice: Any) -> GatePassage:
    """Clear, turn back or send to inspection a referred vehicle; a container it takes out leaves the zone."""
    decided = decision.decide(session, passage_id, decider=decider, actor=actor, **choice)
    release.leave_zone_when_passed(session, decided.gate_pass, reporter=decider)
    return decided
