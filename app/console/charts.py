"""The dashboards' charts: the domains' figures turned into chart specifications the page's script draws.

A specification holds words already translated and numbers already in the unit shown, so the script
(static/dashboards.js) holds no words and does no arithmetic:
    {"kind": "series", "unit": "...", "second_unit": "..." | None, "categories": [...],
     "series": [{"name", "type": "line"|"bar", "data", "axis": 0|1}], "goal": {"value", "label"} | None}
    {"kind": "pie", "series": [{"name", "value"}]}
Every figure comes from the owning domain's figures module; nothing here queries the database.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from app.common.figures import park_days
from app.console.desk import LABELS
from app.declarations.figures import clearance_by_day
from app.gates.figures import gate_figures, lane_type_figures
from app.i18n import _
from app.notices.figures import delivery_by_day
from app.trace.figures import lookups_by_day

DAYS = 14  # two weeks, day by day
GATE_WINDOW = timedelta(days=7)  # vehicles per hour over the last week (the gate figures allow up to 31 days)
# The park's promise: a declaration released within half an hour of its submission (DOMAIN.md).
RELEASE_GOAL_MINUTES = 30
# The gate screen's words for lane types and referral reasons, so a chart and the desk say the same thing.
LANE_TYPES = LABELS["lane_type"]
REASONS = LABELS["referral"]


def clearance(session: Session, *, now: datetime) -> dict[str, Any]:
    """Submission to release by day against the half-hour goal, and the inspection rate by day."""
    days = clearance_by_day(session, days=park_days(DAYS, now=now))
    categories = [_day(figures["day"]) for figures in days]
    times = [figures["submission_to_release"] for figures in days]
    return {
        "release-times": _series(
            _("minutes"),
            categories,
            [
                (_("Median"), "line", [_minutes(figures["median_seconds"]) for figures in times]),
                (_("90th percentile"), "line", [_minutes(figures["p90_seconds"]) for figures in times]),
            ],
            goal={"value": RELEASE_GOAL_MINUTES, "label": _("Goal: half an hour")},
        ),
        "inspection-rate": _series(
            "%",
            categories,
            [(_("Inspection rate"), "bar", [_percent(figures["inspection_rate"]) for figures in days])],
        ),
    }


def gates(session: Session, *, now: datetime) -> dict[str, Any]:
    """Vehicles per hour by lane and by lane type over the last week, the share auto-cleared, referral reasons."""
    since = now - GATE_WINDOW
    figures = gate_figures(session, since=since, until=now)
    lanes = [(f"{gate['code']} {lane['code']}", lane) for gate in figures["gates"] for lane in gate["lanes"]]
    by_type = lane_type_figures(session, since=since, until=now)
    auto_cleared = sum(row["auto_cleared"] for row in by_type)
    decided = sum(row["decided"] for row in by_type)
    reasons: dict[str, int] = {}
    for row in by_type:
        for top in row["top_referral_reasons"]:
            reasons[top["reason"]] = reasons.get(top["reason"], 0) + top["count"]
    ranked = sorted(reasons.items(), key=lambda item: -item[1])
    return {
        "lane-vehicles": _series(
            _("vehicles per hour"),
            [name for name, _lane in lanes],
            [(_("Vehicles per hour"), "bar", [round(lane["vehicles_per_hour"], 2) for _name, lane in lanes])],
        ),
        "lane-type-vehicles": _series(
            _("vehicles per hour"),
            [str(LANE_TYPES.get(row["lane_type"], row["lane_type"])) for row in by_type],
            [(_("Vehicles per hour"), "bar", [round(row["vehicles_per_hour"], 2) for row in by_type])],
        ),
        "auto-cleared": {
            "kind": "pie",
            "series": [
                {"name": _("Cleared automatically"), "value": auto_cleared},
                {"name": _("Referred to staff"), "value": decided - auto_cleared},
            ],
        },
        "referral-reasons": _series(
            _("vehicles"),
            [str(REASONS.get(reason, reason)) for reason, _count in ranked],  # type: ignore[call-overload]
            [(_("Referred vehicles"), "bar", [count for _reason, count in ranked])],
        ),
    }


def notices(session: Session, *, now: datetime) -> dict[str, Any]:
    """Notice delivery by day: decision → pushed and decision → seen in the app (median, p99), in seconds."""
    days = delivery_by_day(session, days=park_days(DAYS, now=now))

    def latency(path: str, figure: str) -> list[float | None]:
        return [_seconds(figures[path][figure]) for figures in days]

    return {
        "notice-delivery": _series(
            _("seconds"),
            [_day(figures["day"]) for figures in days],
            [
                (_("To push, median"), "line", latency("decision_to_push", "median_ms")),
                (_("To push, p99"), "line", latency("decision_to_push", "p99_ms")),
                (_("To the app, median"), "line", latency("decision_to_app", "median_ms")),
                (_("To the app, p99"), "line", latency("decision_to_app", "p99_ms")),
            ],
        ),
    }


def trace(session: Session, *, now: datetime) -> dict[str, Any]:
    """Trace-code lookups by day, the flagged ones among them, and the clone alarms raised."""
    days = lookups_by_day(session, days=park_days(DAYS, now=now))
    return {
        "trace-lookups": _series(
            _("lookups"),
            [_day(figures["day"]) for figures in days],
            [
                (_("Lookups"), "bar", [figures["lookups"] for figures in days]),
                (_("Flagged lookups"), "bar", [figures["flagged_lookups"] for figures in days]),
            ],
            # Alarms are a handful where lookups are hundreds: their own axis, on the right.
            second=(_("alarms"), (_("Clone alarms"), "line", [figures["clone_alarms"] for figures in days])),
        ),
    }


Series = tuple[str, str, list[Any]]  # name, "line" or "bar", one value a category


def _series(
    unit: str,
    categories: list[str],
    series: list[Series],
    goal: dict[str, Any] | None = None,
    second: tuple[str, Series] | None = None,
) -> dict[str, Any]:
    """A chart over categories; `second` is (its unit, one series) drawn against an axis of its own."""
    drawn = [{"name": name, "type": kind, "data": data, "axis": 0} for name, kind, data in series]
    if second is not None:
        name, kind, data = second[1]
        drawn.append({"name": name, "type": kind, "data": data, "axis": 1})
    return {
        "kind": "series",
        "unit": unit,
        "second_unit": second[0] if second else None,
        "categories": categories,
        "series": drawn,
        "goal": goal,
    }


def _day(day: Any) -> str:
    return day.strftime("%m-%d")


def _minutes(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 60, 1)


def _seconds(milliseconds: float | None) -> float | None:
    return None if milliseconds is None else round(milliseconds / 1000, 1)


def _percent(share: float | None) -> float | None:
    return None if share is None else round(share * 100, 1)
