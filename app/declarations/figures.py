"""The park's headline clearance figures: how fast declarations submitted in a period cleared."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from app.common.figures import ParkDay, percentile
from app.declarations.models import Declaration, DeclarationEvent, DeclarationKind, DeclarationStatus


def clearance_figures(session: Session, *, since: datetime, until: datetime) -> dict[str, Any]:
    """How fast clearance is for import lists submitted in [since, until): the park's headline figure.

    Export lists have figures of their own (app/exports), measured to departure rather than to release."""
    in_range = (
        Declaration.kind == DeclarationKind.IMPORT_INVENTORY,
        Declaration.submitted_at >= since,
        Declaration.submitted_at < until,
    )
    by_status = {
        status: count
        for status, count in session.execute(
            select(Declaration.status, func.count()).where(*in_range).group_by(Declaration.status)
        )
    }
    submitted = sum(by_status.values())
    released = select(Declaration.submitted_at, Declaration.released_at).where(
        *in_range, Declaration.released_at.is_not(None)
    )
    first_inspection = (
        select(DeclarationEvent.declaration_id, func.min(DeclarationEvent.occurred_at).label("issued_at"))
        .where(DeclarationEvent.step == "inspection_issued")
        .group_by(DeclarationEvent.declaration_id)
        .subquery()
    )
    inspected = select(first_inspection.c.issued_at, Declaration.released_at).join(
        Declaration, Declaration.id == first_inspection.c.declaration_id
    )
    inspected_count = session.scalar(select(func.count()).select_from(inspected.where(*in_range).subquery()))
    return {
        "since": since,
        "until": until,
        "submitted": submitted,
        "submission_to_release": _duration_figures(session, released),
        "inspection_to_release": _duration_figures(
            session, inspected.where(*in_range, Declaration.released_at.is_not(None))
        ),
        "inspection_rate": (inspected_count / submitted) if submitted else None,
        "by_status": {status.value: by_status.get(status, 0) for status in DeclarationStatus},
    }


def _duration_figures(session: Session, pairs: Select[Any]) -> dict[str, Any]:
    """Count, median and 90th percentile of (end - start) in seconds, interpolated like percentile_cont."""
    seconds = sorted((end - start).total_seconds() for start, end in session.execute(pairs))
    return {
        "count": len(seconds),
        "median_seconds": percentile(seconds, 0.5),
        "p90_seconds": percentile(seconds, 0.9),
    }


def clearance_by_day(session: Session, *, days: list[ParkDay]) -> list[dict[str, Any]]:
    """The clearance figures of each day's submissions: submission to release (median, p90) and inspection rate."""
    return [{"day": day.day, **clearance_figures(session, since=day.since, until=day.until)} for day in days]
