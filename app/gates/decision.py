"""Deciding on a vehicle at the gate (DOMAIN.md §3.4): an operator or officer clears, turns back or sends to
inspection a referred vehicle. Also what every decision does, the weighbridge's automatic one included: the passage
locked with everything it reads, the barrier going up (the pass moves one gate forward, SAS223), the lists' timelines,
the declarant's notice and the gate's risk warnings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session, contains_eager, joinedload

from app.audit import service as audit
from app.audit.service import Actor
from app.bonded_lists.models import BondedList
from app.common import clock
from app.declarations import status as declaration_status
from app.declarations.models import BizStep, Declaration
from app.declarations.status import InvalidTransition
from app.errors import NotFound
from app.gates.approval import lift_hold, put_on_hold
from app.gates.models import (
    DecisionAction,
    DecisionReason,
    Direction,
    GatePass,
    GatePassage,
    HoldSource,
    PassageStatus,
    PassStatus,
    ReferralReason,
)
from app.gates.passes import settle_bonded_lists
from app.gates.rules import CAN_PASS, REASON_LABELS
from app.i18n import N_, _
from app.infra.statements import cached_statement
from app.inspections import rules as inspection_rules
from app.inspections import tasks as inspection_tasks
from app.inspections.models import InspectionTask, TaskSource
from app.notices import officers as on_duty
from app.notices import service as notices
from app.notices.models import NoticeKind
from app.notices.text import Message
from app.risk import service as risk
from app.risk.models import Severity, WarningSource
from app.users.models import Role, User

P = PassStatus


def decide(
    session: Session,
    passage_id: int,
    *,
    action: DecisionAction,
    reason_code: DecisionReason,
    decider: User,
    actor: Actor,
    note: str | None = None,
    at: datetime | None = None,
) -> GatePassage:
    """A gate operator or officer decides on a referred vehicle: clear, turn back or send to inspection."""
    passage, _lock = lock_passage(session, passage_id)
    target = {
        DecisionAction.CLEAR: PassageStatus.CLEARED,
        DecisionAction.TURN_BACK: PassageStatus.TURNED_BACK,
        DecisionAction.INSPECT: PassageStatus.INSPECTION,
    }[action]
    if passage.status is target and passage.decision_reason is reason_code:
        return passage  # a retried request
    if passage.status is not PassageStatus.REFERRED:
        raise InvalidTransition(
            _(
                "Gate passage %(passage_id)s is %(status)s; only a referred vehicle waits for a decision.",
                passage_id=passage_id,
                status=passage.status.value,
            )
        )
    gate_pass = passage.gate_pass
    now = at or clock.utcnow()  # `at`: when the decision was made at a gate without network
    passage.decision_reason = reason_code
    passage.decision_note = note
    passage.decided_by_id = decider.id
    details: dict[str, Any] = {"action": action.value, "reason_code": reason_code.value, "note": note}
    if action == DecisionAction.CLEAR:
        if gate_pass is not None and gate_pass.hold_source is HoldSource.CUSTOMS:
            raise InvalidTransition(
                _(
                    "Gate pass %(passport_no)s is held by customs (%(hold_reason)s); customs must release it "
                    "before the vehicle is cleared.",
                    passport_no=gate_pass.passport_no,
                    hold_reason=gate_pass.hold_reason,
                )
            )
        if gate_pass is None or gate_pass.status not in (*CAN_PASS, P.HELD):
            raise InvalidTransition(
                _("Only a vehicle on an approved (or gate-held) pass can be cleared; turn it back instead.")
            )
        let_through(session, passage, PassageStatus.CLEARED, decider=decider, at=now)
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
            put_on_hold(
                gate_pass,
                source=HoldSource.GATE,
                reason=f"inspection: {reason_code.value}",
                by=decider,
                at=clock.utcnow(),
            )
        for declaration in gate_pass.declarations:
            if declaration.status in inspection_rules.INSPECTABLE:
                tasks.append(
                    inspection_tasks.order_inspection(
                        session,
                        declaration_id=declaration.id,
                        officer=decider,
                        source=TaskSource.RISK_ALERT,
                        reason=f"卡口转查验：{reason_code.value}" + (f"（{note}）" if note else ""),
                    )
                )
    raise_gate_warning(
        session,
        passage,
        severity=Severity.HIGH,
        what=f"转查验（{reason_code.value}）",
        details={"reason_code": reason_code.value, "note": note, "task_ids": [task.id for task in tasks]},
    )
    return tasks


def lock_passage(session: Session, passage_id: int) -> tuple[GatePassage, bool]:
    """The passage with everything the decision reads, locked, and whether its vehicle has an open risk warning."""
    params = {"passage_id": passage_id}
    row = session.execute(_locked_passage_with_pass(), params).unique().one_or_none()
    if row is not None:
        return row[0], row[1]
    # No pass to join (a vehicle read without one), or no such passage.
    passage = session.scalar(_locked_passage_alone(), params)
    if passage is None:
        raise NotFound(_("Gate passage %(passage_id)s does not exist.", passage_id=passage_id))
    return passage, False


@cached_statement
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


@cached_statement
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


def raise_gate_warning(
    session: Session, passage: GatePassage, *, severity: Severity, what: str, details: dict[str, Any]
) -> None:
    """Warn customs about the vehicle at this passage (a gate warning, tied to its pass and first list)."""
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
        customs_code=passage.gate.customs_code,
    )


def let_through(
    session: Session, passage: GatePassage, status: PassageStatus, *, decider: User | None, at: datetime
) -> None:
    """Barrier up: the passage is decided and the pass moves one gate forward (SAS223)."""
    passage.status = status
    passage.decided_at = at
    gate_pass = passage.gate_pass
    assert gate_pass is not None
    if gate_pass.status is P.HELD:
        lift_hold(gate_pass)  # the operator cleared what the gate had held
    if passage.lane.dual_gate and gate_pass.status is not P.PASSED_GATE_1:
        gate_pass.status = P.PASSED_GATE_1
    else:
        gate_pass.status = P.PASSED
        gate_pass.passed_at = at
    if gate_pass.status is P.PASSED and gate_pass.bonded_lists:
        settle_bonded_lists(session, gate_pass, actor=Actor(user=decider, client_addr=None), at=at)
    gate_no = "（第一道卡口）" if gate_pass.status is P.PASSED_GATE_1 else ""
    record_on_timelines(
        session,
        passage,
        step="gate_passed",
        title=f"车辆 {gate_pass.plate} 通过卡口 {passage.gate.code}{gate_no}",
        actor=decider,
    )
    tell_declarant(session, passage, NoticeKind.GATE_PASSED, [])


def record_on_timelines(
    session: Session, passage: GatePassage, *, step: str, title: str, actor: User | None = None
) -> None:
    """Record a gate event on the timeline of every declaration the passage's pass covers."""
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


def tell_declarant(session: Session, passage: GatePassage, kind: NoticeKind, reasons: list[ReferralReason]) -> None:
    """Notify the pass's declarants that the vehicle passed, or was referred and why."""
    gate_pass = passage.gate_pass
    if gate_pass is None:
        return
    where = f"{passage.gate.code}/{passage.lane.code}"
    if kind is NoticeKind.GATE_PASSED:
        title = Message(N_("Vehicle passed the gate: %(plate)s"), plate=gate_pass.plate)
        body = Message(
            N_("Vehicle %(plate)s passed gate %(gate)s on gate pass %(passport_no)s."),
            plate=gate_pass.plate,
            gate=where,
            passport_no=gate_pass.passport_no,
        )
    else:
        title = Message(N_("Vehicle referred at the gate: %(plate)s"), plate=gate_pass.plate)
        body = Message(
            N_("Vehicle %(plate)s (gate pass %(passport_no)s) was referred at %(gate)s: %(reasons)s."),
            plate=gate_pass.plate,
            passport_no=gate_pass.passport_no,
            gate=where,
            reasons=_reasons(reasons),
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


def tell_officers(session: Session, passage: GatePassage, reasons: list[ReferralReason]) -> None:
    """Push the officers on duty for this gate's customs office: a vehicle waits at the barrier for one of them."""
    plate = passage.gate_pass.plate if passage.gate_pass is not None else passage.plate_read
    where = f"{passage.gate.code}/{passage.lane.code}"
    on_duty.notify_officers(
        session,
        customs_code=passage.gate.customs_code,
        kind=NoticeKind.OFFICER_VEHICLE_HELD,
        title=Message(N_("Vehicle held at the gate: %(plate)s"), plate=plate),
        body=Message(
            N_("Vehicle %(plate)s is held at %(gate)s: %(reasons)s."),
            plate=plate,
            gate=where,
            reasons=_reasons(reasons),
        ),
        source_key=f"officer/gate_passage/{passage.id}/held",
        link=f"/api/v1/gate/passages/{passage.id}",
    )


def _reasons(reasons: list[ReferralReason]) -> Message:
    """Why a vehicle was referred, as a list in the reader's language."""
    return Message(N_("; ")).join(REASON_LABELS[reason] for reason in reasons)
