"""Trace-code figures day by day, for the dashboards: how often consumers looked codes up, how many of those
lookups were flagged (a clone rule broken, a wrong lot, a lookup before release), and how many clone alarms were
raised for customs."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from app.common.figures import ParkDay
from app.risk.models import RiskWarning, WarningSource
from app.trace.lookup import Verdict
from app.trace.models import TraceScan

# The verdicts that count a lookup as flagged, as the clone alarm reads them (app/trace/alarms.py).
FLAGGED = (Verdict.SUSPICIOUS, Verdict.LOT_MISMATCH)


def lookups_by_day(session: Session, *, days: list[ParkDay]) -> list[dict[str, Any]]:
    """Per Asia/Shanghai day: counted lookups, flagged lookups, and clone alarms first raised that day."""
    if not days:
        return []
    # One row of per-day counts (COUNT ... FILTER) over one range scan each: a day's bounds are UTC moments, so
    # no dialect's time-zone functions are needed, and no lookup row leaves the database.
    flagged = or_(TraceScan.verdict.in_([verdict.value for verdict in FLAGGED]), TraceScan.before_release)
    scans = session.execute(
        select(
            *(func.count().filter(TraceScan.scanned_at >= day.since, TraceScan.scanned_at < day.until) for day in days),
            *(
                func.count().filter(flagged, TraceScan.scanned_at >= day.since, TraceScan.scanned_at < day.until)
                for day in days
            ),
        ).where(TraceScan.scanned_at >= days[0].since, TraceScan.scanned_at < days[-1].until)
    ).one()
    raised = RiskWarning.first_raised_at
    alarms = session.execute(
        select(*(func.count().filter(raised >= day.since, raised < day.until) for day in days)).where(
            RiskWarning.source == WarningSource.TRACE, raised >= days[0].since, raised < days[-1].until
        )
    ).one()
    count = len(days)
    return [
        {
            "day": day.day,
            "lookups": scans[index],
            "flagged_lookups": scans[count + index],
            "clone_alarms": alarms[index],
        }
        for index, day in enumerate(days)
    ]
