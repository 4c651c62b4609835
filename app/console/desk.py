"""What the officers' and gate operators' pages share: the words for the domains' codes, and the form post that runs
one use case and goes back to the page it came from (POST/redirect/GET, the outcome as a flash message)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from flask import flash, redirect, request
from flask.typing import ResponseReturnValue
from marshmallow import Schema
from sqlalchemy.orm import Session

from app import db
from app.auth.guards import current_actor, current_user
from app.console.forms import load_form
from app.console.signin import safe_next
from app.errors import DomainError
from app.exports import gate_passing
from app.gates.models import DecisionAction, DecisionReason, Direction, LaneState, LaneType, ReferralReason
from app.gates.schemas import DecisionCreate
from app.i18n import _, _l
from app.inspections.models import InspectionMethod, TaskStatus
from app.risk.models import Resolution, Severity, WarningSource, WarningStatus

LABELS: Mapping[str, Mapping[str, object]] = {
    "severity": {
        Severity.LOW: _l("Low"),
        Severity.MEDIUM: _l("Medium"),
        Severity.HIGH: _l("High"),
    },
    "warning_status": {
        WarningStatus.OPEN: _l("Open"),
        WarningStatus.TAKEN: _l("Taken"),
        WarningStatus.RESOLVED: _l("Resolved"),
    },
    "source": {
        WarningSource.GATE: _l("Gate"),
        WarningSource.VIDEO: _l("Video"),
        WarningSource.TRACE: _l("Trace code"),
        WarningSource.INSPECTION: _l("Inspections"),
        WarningSource.OVERDUE_GATE: _l("Released, never at a gate"),
        WarningSource.OFFICER: _l("Officer"),
        WarningSource.SEAL: _l("Seal check"),
    },
    "resolution": {
        Resolution.CONFIRMED: _l("Confirmed"),
        Resolution.FALSE_ALARM: _l("False alarm"),
        Resolution.NO_ACTION_NEEDED: _l("No action needed"),
    },
    "method": {
        InspectionMethod.MACHINE: _l("Machine (X-ray)"),
        InspectionMethod.OPEN_BOX: _l("Open box"),
        InspectionMethod.SEAL_CHECK: _l("Seal check"),
        InspectionMethod.DOCUMENT: _l("Documents"),
    },
    "task_status": {
        TaskStatus.APPOINTED: _l("Booked"),
        TaskStatus.GOODS_READY: _l("Goods ready"),
        TaskStatus.IN_PROGRESS: _l("In progress"),
        TaskStatus.RECHECK: _l("Open-box recheck"),
    },
    "action": {
        DecisionAction.CLEAR: _l("Clear"),
        DecisionAction.TURN_BACK: _l("Turn back"),
        DecisionAction.INSPECT: _l("Inspect"),
    },
    "decision_reason": {
        DecisionReason.DOCUMENTS_VERIFIED: _l("Documents verified"),
        DecisionReason.READER_ERROR: _l("Reader error"),
        DecisionReason.WEIGHBRIDGE_ERROR: _l("Weighbridge error"),
        DecisionReason.OFFICER_INSTRUCTION: _l("Officer's instruction"),
        DecisionReason.NO_VALID_PASS: _l("No valid gate pass"),
        DecisionReason.DOCUMENTS_INCOMPLETE: _l("Documents incomplete"),
        DecisionReason.WEIGHT_DISCREPANCY: _l("Weight discrepancy"),
        DecisionReason.CONTAINER_DISCREPANCY: _l("Container discrepancy"),
        DecisionReason.SUSPECTED_SMUGGLING: _l("Suspected smuggling"),
        DecisionReason.RISK_WARNING: _l("Risk warning"),
        DecisionReason.RANDOM_CHECK: _l("Random check"),
    },
    "referral": {
        ReferralReason.NO_VALID_PASS: _l("No valid gate pass"),
        ReferralReason.PASS_NOT_APPROVED: _l("Gate pass not approved"),
        ReferralReason.PASS_HELD: _l("Gate pass on hold"),
        ReferralReason.PLATE_MISMATCH: _l("Plate does not match"),
        ReferralReason.CONTAINER_MISMATCH: _l("Container number does not match"),
        ReferralReason.CONTAINER_NOT_READ: _l("Container number not read"),
        ReferralReason.WEIGHT_OUT_OF_TOLERANCE: _l("Weight outside tolerance"),
        ReferralReason.ESEAL_MISMATCH: _l("E-seal does not match"),
        ReferralReason.ESEAL_NOT_READ: _l("E-seal not read"),
        ReferralReason.WRONG_DIRECTION: _l("Wrong direction"),
        ReferralReason.OPEN_RISK_WARNING: _l("Unresolved risk warning"),
    },
    "lane_type": {
        LaneType.OVERLENGTH: _l("Overlength"),
        LaneType.CONTAINER: _l("Container"),
        LaneType.ECOMMERCE: _l("E-commerce"),
        LaneType.GENERAL_TAXPAYER_PILOT: _l("General-taxpayer pilot"),
        LaneType.CONVENIENT: _l("Convenient"),
        LaneType.GENERAL: _l("General lane"),  # not "General": that is a credit level's word in Chinese
    },
    "direction": {
        Direction.IN: _l("Into the zone"),
        Direction.OUT: _l("Out of the zone"),
    },
    "lane_state": {
        LaneState.OPEN: _l("Open to traffic"),  # not "Open": that is a warning's state in Chinese
        LaneState.CLOSED: _l("Closed to traffic"),
    },
    # GatePassage.needs: what the gate still waits for.
    "need": {
        "gate_pass": _l("a gate pass"),
        "gate_pass_approval": _l("the pass's approval"),
        "hold_lifted": _l("the hold lifted"),
        "container_no": _l("the container number"),
        "eseal_no": _l("the e-seal"),
        "weight": _l("weighing"),
        "decision": _l("a decision"),
    },
}


def label(kind: str, value: Any) -> object:
    """The words for a code (an enum member or its value), the code itself if it has none."""
    return LABELS[kind].get(value, value.value if hasattr(value, "value") else value)


def post_form(
    schema: type[Schema] | None,
    fields: Iterable[str],
    work: Callable[[Session, dict[str, Any]], object],
    *,
    done: object,
) -> ResponseReturnValue:
    """Load the form with the API's schema, run `work(session, data)` in one transaction, flash `done` or what
    refused it, and go back to the page named in the form's `next` (the queue, with its filters)."""
    data, errors = load_form(schema, request.form, fields=fields) if schema else ({}, {})
    if errors:
        flash("; ".join(message for messages in errors.values() for message in messages), "error")
    else:
        try:
            with db.transaction() as session:
                work(session, data)
        except DomainError as error:
            flash(error.detail, "error")
        else:
            flash(str(done), "success")
    return redirect(safe_next(request.form.get("next")))


def decide_on(passage_id: int) -> ResponseReturnValue:
    """The decision form's post, for the officers' and the gate operators' pages alike."""
    return post_form(
        DecisionCreate,
        ("action", "reason_code", "note"),
        lambda session, data: gate_passing.decide(
            session, passage_id, decider=current_user(), actor=current_actor(), **data
        ),
        done=_("Decision recorded for passage %(id)s.", id=passage_id),
    )
