"""Summary statistics for the admin figures, and the time window they are asked for."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from marshmallow import Schema, ValidationError, fields, validates_schema

from app.i18n import _


def percentile(ordered: Sequence[float], fraction: float) -> float | None:
    """The `fraction` quantile of sorted values, interpolated like SQL's percentile_cont; None when empty."""
    if not ordered:
        return None
    position = fraction * (len(ordered) - 1)
    lower = int(position)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


# The park's calendar: a "day" on a dashboard is a day in Chongqing, not in UTC.
PARK_ZONE = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class ParkDay:
    day: date
    since: datetime  # the day's first moment, in UTC
    until: datetime  # the next day's first moment, in UTC


def park_days(count: int, *, now: datetime) -> list[ParkDay]:
    """The last `count` Asia/Shanghai days up to and including the day of `now`, oldest first."""
    today = now.astimezone(PARK_ZONE).date()
    days = [today - timedelta(days=back) for back in range(count - 1, -1, -1)]
    return [ParkDay(day, _start(day), _start(day + timedelta(days=1))) for day in days]


def _start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=PARK_ZONE).astimezone(UTC)


class FiguresQuery(Schema):
    since = fields.AwareDateTime(required=True, metadata={"description": "Submitted at or after."})
    until = fields.AwareDateTime(required=True, metadata={"description": "Submitted before."})

    @validates_schema
    def ordered(self, data, **kwargs):
        for name in ("since", "until"):
            try:
                # Stored times are UTC: a moment UTC cannot hold (year 1 at +14:00) is refused here, not a 500 later.
                data[name].astimezone(UTC)
            except (KeyError, OverflowError):
                if name in data:
                    raise ValidationError(_("Out of range once converted to UTC."), field_name=name) from None
        if {"since", "until"} <= data.keys() and data["since"] >= data["until"]:
            raise ValidationError(_("until must be after since."), field_name="until")
