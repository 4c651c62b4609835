"""The action types a handheld may queue offline, each the use case its route calls, with the route's roles,
body and answer (DOMAIN.md §4: scan, inspect and decide where the network drops, then sync)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from marshmallow import Schema
from sqlalchemy.orm import Session

from app.audit.service import Actor
from app.exports import intake, recheck
from app.exports import release as export_release
from app.exports.loading_schemas import ParcelRecheckCreate, ParcelRecheckRead
from app.exports.schemas import ParcelRead
from app.exports.zone_schemas import ExportScanInCreate, ExportScanInRead
from app.gates import decision
from app.gates.passage import get_passage
from app.gates.schemas import PassageRead
from app.inspections import inspecting
from app.inspections.schemas import TaskRead
from app.inspections.tasks import get_task_for
from app.stock import service as stock
from app.stock.schemas import MovementRead, ScanInCreate
from app.sync.schemas import GateDecisionAction, RecheckTaskAction, TaskAction, TaskResultAction
from app.trace import lifecycle
from app.trace.schemas import StatusChange, StatusChangeRead
from app.users.models import Role, User


@dataclass(frozen=True)
class Caller:
    user: User
    actor: Actor


@dataclass(frozen=True)
class ActionType:
    roles: tuple[Role, ...]  # the route's require_role
    body: type[Schema]  # the route's arguments (plus its path ids)
    apply: Callable[[Session, Caller, dict[str, Any], datetime], Any]
    answer: Schema  # the route's response schema
    status: int = 200
    # The thing's state now, shown beside a conflict so the app can reconcile without another call.
    current: Callable[[Session, Caller, dict[str, Any]], Any] | None = None


def _scan_in(session: Session, caller: Caller, body: dict[str, Any], at: datetime) -> Any:
    return stock.scan_in(session, operator=caller.user, occurred_at=at, **body)


def _code_status(session: Session, caller: Caller, body: dict[str, Any], at: datetime) -> Any:
    changed = lifecycle.change_status(session, user=caller.user, actor=caller.actor, at=at, **body)
    return {"status": body["status"], "changed": changed}


def _gate_decision(session: Session, caller: Caller, body: dict[str, Any], at: datetime) -> Any:
    # As the decision route: an export container cleared here has left the zone and the port gets its record.
    decided = decision.decide(session, decider=caller.user, actor=caller.actor, at=at, **body)
    export_release.leave_zone_when_passed(session, decided.gate_pass, reporter=caller.user)
    return decided


def _goods_ready(session: Session, caller: Caller, body: dict[str, Any], at: datetime) -> Any:
    return inspecting.mark_goods_ready(session, body["task_id"], operator=caller.user, at=at)


def _start(session: Session, caller: Caller, body: dict[str, Any], at: datetime) -> Any:
    return inspecting.start(session, body["task_id"], officer=caller.user, at=at)


def _result(session: Session, caller: Caller, body: dict[str, Any], at: datetime) -> Any:
    task_id = body.pop("task_id")
    return inspecting.record_result(session, task_id, officer=caller.user, at=at, **body)


def _export_scan_in(session: Session, caller: Caller, body: dict[str, Any], at: datetime) -> Any:
    return intake.scan_in(session, operator=caller.user, at=at, **body)


def _recheck_task(session: Session, caller: Caller, body: dict[str, Any], at: datetime) -> Any:
    return recheck.open_bench_task(session, body["declaration_id"], officer=caller.user, at=at)


def _recheck(session: Session, caller: Caller, body: dict[str, Any], at: datetime) -> Any:
    return recheck.record(session, officer=caller.user, at=at, **body)


def _parcel_now(session: Session, caller: Caller, body: dict[str, Any]) -> Any:
    parcel = recheck.find_parcel(session, body["waybill_no"])
    return None if parcel is None else ParcelRead().dump(parcel)


def _task_now(session: Session, caller: Caller, body: dict[str, Any]) -> Any:
    return TaskRead().dump(get_task_for(session, body["task_id"], viewer=caller.user))


def _passage_now(session: Session, caller: Caller, body: dict[str, Any]) -> Any:
    return PassageRead().dump(get_passage(session, body["passage_id"]))


ACTIONS: dict[str, ActionType] = {
    "stock.scan_in": ActionType(
        (Role.WAREHOUSE_OPERATOR,), ScanInCreate, _scan_in, MovementRead(many=True), status=201
    ),
    "trace.status_change": ActionType(
        (Role.WAREHOUSE_OPERATOR, Role.CUSTOMS_OFFICER, Role.ADMIN), StatusChange, _code_status, StatusChangeRead()
    ),
    "gate.decision": ActionType(
        (Role.GATE_OPERATOR, Role.CUSTOMS_OFFICER),
        GateDecisionAction,
        _gate_decision,
        PassageRead(),
        current=_passage_now,
    ),
    "inspection.goods_ready": ActionType(
        (Role.WAREHOUSE_OPERATOR,), TaskAction, _goods_ready, TaskRead(), current=_task_now
    ),
    "inspection.start": ActionType((Role.CUSTOMS_OFFICER,), TaskAction, _start, TaskRead(), current=_task_now),
    "inspection.result": ActionType((Role.CUSTOMS_OFFICER,), TaskResultAction, _result, TaskRead(), current=_task_now),
    # A scan-in answers each waybill's outcome (already scanned in is one of them): it never conflicts.
    "export.scan_in": ActionType((Role.WAREHOUSE_OPERATOR,), ExportScanInCreate, _export_scan_in, ExportScanInRead()),
    "export.recheck_task": ActionType((Role.CUSTOMS_OFFICER,), RecheckTaskAction, _recheck_task, TaskRead()),
    "export.recheck": ActionType(
        (Role.CUSTOMS_OFFICER,), ParcelRecheckCreate, _recheck, ParcelRecheckRead(), status=201, current=_parcel_now
    ),
}
