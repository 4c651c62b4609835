"""Customs' word on a gate pass: approve it (SAS221) once the lists it covers allow it, or hold it (SAS224) so no
vehicle passes on it. The hold itself (put on, lifted) is shared with the gate, which holds a pass on a mismatch."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.audit import service as audit
from app.audit.service import Actor
from app.bonded_lists import service as bonded_lists
from app.common import clock
from app.declarations import status as declaration_status
from app.declarations.models import Declaration, DeclarationStatus
from app.declarations.status import InvalidTransition
from app.gates.models import Direction, GatePass, HoldSource, PassportType, PassStatus
from app.gates.passes import get_pass_for
from app.gates.rules import CAN_PASS, DEAD_DECLARATION
from app.i18n import N_, _
from app.notices import service as notices
from app.notices.models import NoticeKind
from app.notices.text import Message
from app.users.models import Role, User

P = PassStatus
RELEASED = frozenset({DeclarationStatus.RELEASED, DeclarationStatus.CLOSED})


def approve_pass(session: Session, pass_id: int, *, approver: User, actor: Actor) -> GatePass:
    """Customs approves a pass (SAS221), or lifts a hold; only for declarations that allow it."""
    gate_pass = get_pass_for(session, pass_id, viewer=approver, lock=True)
    if gate_pass.status is P.APPROVED:
        return gate_pass
    if gate_pass.status not in (P.DECLARED, P.HELD):
        raise InvalidTransition(
            _(
                "Gate pass %(passport_no)s is %(status)s; only a declared or held pass is approved.",
                passport_no=gate_pass.passport_no,
                status=gate_pass.status.value,
            )
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
            _(
                "Gate pass %(passport_no)s covers lists that do not allow it to pass: %(blocking)s.",
                passport_no=gate_pass.passport_no,
                blocking=", ".join(blocking),
            )
        )
    previous, hold = gate_pass.status, gate_pass.hold_source
    details: dict[str, Any] = {"from": previous.value}
    if previous is P.HELD:
        details.update(hold_source=hold.value if hold else None, hold_reason=gate_pass.hold_reason)
        lift_hold(gate_pass)
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
            _(
                "Gate pass %(passport_no)s is %(status)s; only an approved pass, or one already held at the gate, "
                "can be held by customs.",
                passport_no=gate_pass.passport_no,
                status=gate_pass.status.value,
            )
        )
    put_on_hold(gate_pass, source=HoldSource.CUSTOMS, reason=reason, by=officer, at=clock.utcnow())
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
        title=Message(N_("Gate pass held by customs: %(plate)s"), plate=gate_pass.plate),
        body=Message(
            N_("Customs put gate pass %(passport_no)s (%(plate)s) on hold: %(reason)s."),
            passport_no=gate_pass.passport_no,
            plate=gate_pass.plate,
            reason=reason,
        ),
        source_key=f"gate_pass/{gate_pass.id}/held/{gate_pass.held_at:%Y%m%d%H%M%S%f}",
        declaration_id=gate_pass.declarations[0].id if len(gate_pass.declarations) == 1 else None,
        link=f"/api/v1/gate-passes/{gate_pass.id}",
    )
    return gate_pass


def put_on_hold(gate_pass: GatePass, *, source: HoldSource, reason: str, by: User | None, at: datetime) -> None:
    """Hold the pass for customs or the gate, remembering the state it goes back to when the hold lifts."""
    if gate_pass.status is not P.HELD:
        gate_pass.held_from = gate_pass.status
        gate_pass.status = P.HELD
    elif gate_pass.hold_source is HoldSource.CUSTOMS and source is HoldSource.GATE:
        return  # the gate cannot turn a customs hold into one it may clear itself
    gate_pass.hold_source = source
    gate_pass.hold_reason = reason[:500]
    gate_pass.held_at = at
    gate_pass.held_by_id = by.id if by is not None else None


def lift_hold(gate_pass: GatePass) -> None:
    """Lift a hold: the pass is back in the state it was held from."""
    # A pass held between the two barriers of a dual-gate lane goes back to "passed gate 1".
    gate_pass.status = gate_pass.held_from or P.APPROVED
    gate_pass.hold_source = gate_pass.hold_reason = gate_pass.held_from = None
    gate_pass.held_at = gate_pass.held_by_id = None


def _allows_passage(gate_pass: GatePass, declaration: Declaration) -> bool:
    # Goods leave across the second line only once customs has released their list.
    if gate_pass.passport_type is PassportType.SECOND_LINE and gate_pass.direction is Direction.OUT:
        return declaration.status in RELEASED
    return declaration.status not in DEAD_DECLARATION
