"""The weighbridge decides (DOMAIN.md §3.4, WEIGHED → AUTO_CLEARED or REFERRED): compare what the gate read and
weighed with the gate pass, let the vehicle through when everything matches, or refer it with every reason, holding
the pass and warning customs on a mismatch.

On the hot path: a gate decision is due within a second of the weight (p99 20 ms in issue 6's benchmark).
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.orm import Session

from app.audit import service as audit
from app.common import clock
from app.declarations.status import InvalidTransition
from app.gates.approval import put_on_hold
from app.gates.decision import (
    let_through,
    lock_passage,
    raise_gate_warning,
    record_on_timelines,
    tell_declarant,
    tell_officers,
)
from app.gates.models import GatePassage, HoldSource, PassageStatus, PassStatus, ReferralReason
from app.gates.rules import CAN_PASS, REASON_LABELS
from app.i18n import _
from app.notices.models import NoticeKind
from app.risk import service as risk
from app.risk.models import Severity

P = PassStatus
R = ReferralReason
# The mismatches that put the pass on hold and raise a risk warning for customs.
MISMATCHES = {
    R.PLATE_MISMATCH: Severity.HIGH,
    R.CONTAINER_MISMATCH: Severity.HIGH,
    R.WEIGHT_OUT_OF_TOLERANCE: Severity.MEDIUM,
    R.ESEAL_MISMATCH: Severity.HIGH,
}


def weigh(session: Session, passage_id: int, *, weighbridge_kg: Decimal, tolerance_percent: Decimal) -> GatePassage:
    """The weighbridge reading decides: clear automatically, or refer with every reason."""
    passage, vehicle_warned = lock_passage(session, passage_id)
    if passage.status is not PassageStatus.LANE_ASSIGNED:
        if passage.weighbridge_kg == weighbridge_kg:
            return passage  # the device sent the reading again
        raise InvalidTransition(
            _(
                "Gate passage %(passage_id)s is %(status)s; it was weighed already.",
                passage_id=passage_id,
                status=passage.status.value,
            )
        )
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
        let_through(session, passage, PassageStatus.AUTO_CLEARED, decider=None, at=now)
        return passage
    passage.status = PassageStatus.REFERRED
    passage.decided_at = None
    mismatches = [reason for reason in reasons if reason in MISMATCHES]
    if gate_pass is not None and mismatches and gate_pass.status in (*CAN_PASS, P.HELD):
        put_on_hold(gate_pass, source=HoldSource.GATE, reason=", ".join(mismatches), by=None, at=now)
    if mismatches:
        _warn(session, passage, mismatches)
    record_on_timelines(session, passage, step="gate_referred", title=f"车辆 {passage.plate_read} 在卡口被转人工")
    # Last: writing a notice holds the notice-sequence lock until commit.
    tell_declarant(session, passage, NoticeKind.GATE_REFERRED, reasons)
    tell_officers(session, passage, reasons)
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
    raise_gate_warning(
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
