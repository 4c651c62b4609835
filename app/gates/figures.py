"""Gate figures for customs and admins: per gate and lane over a date range, vehicles per hour, the median time from
arrival to decision, the share cleared automatically and the top referral reasons."""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.common.pagination import where_given
from app.errors import InvalidInput
from app.gates.models import Gate, GatePassage, Lane, LaneType, PassageStatus
from app.i18n import _

MAX_FIGURES_WINDOW = timedelta(days=31)
TOP_REASONS = 5


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
            "decided": self.decided,
            "auto_cleared": self.auto_cleared,
            "vehicles_per_hour": self.vehicles / hours,
            "median_decision_seconds": statistics.median(self.decision_seconds) if self.decision_seconds else None,
            "auto_cleared_share": self.auto_cleared / self.decided if self.decided else None,
            "top_referral_reasons": [
                {"reason": reason, "count": count} for reason, count in self.reasons.most_common(TOP_REASONS)
            ],
        }


def lane_type_figures(session: Session, *, since: datetime, until: datetime) -> list[dict[str, Any]]:
    """Per lane type, every gate together, over [since, until): vehicles per hour, share auto-cleared, top referral
    reasons (types with no lane are left out)."""
    hours = (until - since).total_seconds() / 3600
    tallies: dict[LaneType, _Tally] = {}
    rows = session.execute(
        select(Lane.lane_type, GatePassage.status, GatePassage.arrived_at, GatePassage.decided_at, GatePassage.reasons)
        .join(GatePassage, GatePassage.lane_id == Lane.id)
        .where(GatePassage.arrived_at >= since, GatePassage.arrived_at < until)
        .execution_options(yield_per=5000)
    )
    for lane_type, status, arrived_at, decided_at, reasons in rows:
        tallies.setdefault(lane_type, _Tally()).add(status, arrived_at, decided_at, reasons)
    present = set(session.scalars(select(Lane.lane_type).distinct()))
    return [
        {"lane_type": lane_type, **tallies.get(lane_type, _Tally()).figures(hours)}
        for lane_type in LaneType
        if lane_type in present
    ]


def gate_figures(session: Session, *, since: datetime, until: datetime, gate_id: int | None = None) -> dict[str, Any]:
    """Per gate and lane over [since, until): vehicles per hour, median arrival→decision, share auto-cleared,
    top referral reasons."""
    if until - since > MAX_FIGURES_WINDOW:
        raise InvalidInput.of_field(
            "until", _("The range may span at most %(days)s days.", days=MAX_FIGURES_WINDOW.days), location="query"
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
