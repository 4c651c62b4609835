"""Summary statistics for the admin figures, and the time window they are asked for."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC

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
