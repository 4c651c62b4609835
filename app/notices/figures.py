"""Notice delivery figures day by day, for the dashboards: how long the park's notices took to reach people."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from app.common.figures import ParkDay
from app.notices.service import delivery_figures


def delivery_by_day(session: Session, *, days: list[ParkDay]) -> list[dict[str, Any]]:
    """The delivery figures of each day's notices: decision → pushed and decision → in the app (median, p99)."""
    return [{"day": day.day, **delivery_figures(session, since=day.since, until=day.until)} for day in days]
