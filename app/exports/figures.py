"""Export figures for admins, per Asia/Shanghai day: the seeds' "same-day" promise (当日申报、当日验放、当日办结)
made measurable.

Every figure of a day is about the export lists submitted that day (a cohort, as the clearance figures count
declarations submitted in their range): how many lists and parcels, their lists' statuses now, how many of their
parcels the X-ray line diverted and why, what the rechecks decided, and how long the lists took from submission to
departure (median, p90, and the share that departed the same Shanghai day). A list submitted late on one day and
departed the next counts where it was submitted; later days may still change a recent day's figures.

Counts are GROUP BY queries over the day; the percentiles are PostgreSQL's `percentile_cont` per day. SQLite (the
development database) has no percentile aggregate: there the durations of the departed lists are read and the same
interpolation (`app.common.figures.percentile`) is applied, as the clearance figures do.

The filters are `declarations.submitted_at` (indexed) with `kind`; the joins follow `ix_export_parcels_declaration`,
`ix_export_line_scans_parcel` and `ix_export_rechecks_parcel`. At the expected volume (imports and exports in one
table), an index on `declarations (kind, submitted_at)` would let a month's export figures skip the import lists.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Date, Float, and_, case, cast, distinct, func, literal_column, select
from sqlalchemy.orm import Session

from app.common.figures import percentile
from app.declarations.models import Declaration, DeclarationKind
from app.errors import InvalidInput
from app.exports.models import DivertReason, ExportList, ExportParcel, LineDecision, LineScan, Recheck, RecheckDisposal
from app.i18n import _

SHANGHAI = ZoneInfo("Asia/Shanghai")
MAX_DAYS = 92  # a quarter, day by day
Cohort = tuple[ColumnElement[bool], ...]
TalliesOf = Callable[[Any], tuple[dict[str, Any], dict[str, Any]]]


def shanghai_day(column: Any, dialect: str) -> ColumnElement[Any]:
    """The Shanghai calendar date of a UTC timestamp column, in SQL."""
    # Written inline, not bound: PostgreSQL matches a GROUP BY expression to the selected one only if their
    # parameters are the same, and two binds of one value are not.
    if dialect == "postgresql":
        return cast(func.timezone(literal_column("'Asia/Shanghai'"), column), Date)
    # SQLite stores naive UTC text. Shanghai has kept UTC+8 without daylight saving since 1991.
    return func.date(column, literal_column("'+8 hours'"))


def export_figures(session: Session, *, since: datetime, until: datetime) -> dict[str, Any]:
    """Per Shanghai day, for export lists submitted in [since, until): lists, parcels, diverts, rechecks and the
    time from submission to departure."""
    days = _days(since, until)
    dialect = session.get_bind().dialect.name
    submitted_day = shanghai_day(Declaration.submitted_at, dialect).label("day")
    cohort = (
        Declaration.kind == DeclarationKind.EXPORT_INVENTORY,
        Declaration.submitted_at >= since,
        Declaration.submitted_at < until,
    )
    tallies: dict[date, dict[str, Any]] = {day: _empty() for day in days}
    total = _empty()

    def tallies_of(day: date | str) -> tuple[dict[str, Any], dict[str, Any]]:
        """Each row adds to its day and to the range's total."""
        return tallies[_as_date(day)], total

    _count_lists(session, dialect, submitted_day, cohort, tallies_of)
    _count_line(session, submitted_day, cohort, tallies_of)
    _count_rechecks(session, submitted_day, cohort, tallies_of)
    durations = _durations(session, dialect, submitted_day, cohort)
    return {
        "since": since,
        "until": until,
        "time_zone": "Asia/Shanghai",
        "days": [{"date": day, **_finish(tallies[day], durations.get(day, _no_durations()))} for day in days],
        "total": _finish(total, durations.get(None, _no_durations())),
    }


def _count_lists(session: Session, dialect: str, submitted_day: Any, cohort: Cohort, tallies_of: TalliesOf) -> None:
    departed_same_day = case(
        (shanghai_day(ExportList.departed_at, dialect) == shanghai_day(Declaration.submitted_at, dialect), 1),
        else_=0,
    )
    rows = session.execute(
        select(
            submitted_day,
            Declaration.status,
            func.count(),
            func.sum(ExportList.pack_no),
            func.count(ExportList.departed_at),
            func.sum(departed_same_day),
        )
        .join(ExportList, ExportList.declaration_id == Declaration.id)
        .where(*cohort)
        .group_by(submitted_day, Declaration.status)
    )
    for day, status, count, parcels, departed, same_day in rows:
        for tally in tallies_of(day):
            tally["lists"] += count
            tally["parcels"] += parcels or 0
            tally["departed"] += departed
            tally["same_day_departed"] += same_day or 0
            tally["lists_by_status"][status.value] += count


def _count_line(session: Session, submitted_day: Any, cohort: Cohort, tallies_of: TalliesOf) -> None:
    """Parcels the line scanned, and those it diverted at least once, by reason (a parcel rescanned counts once)."""
    divert = LineScan.decision == LineDecision.DIVERT
    by_reason = [
        func.count(distinct(case((and_(divert, LineScan.reason == reason), LineScan.parcel_id))))
        for reason in DivertReason
    ]
    rows = session.execute(
        select(
            submitted_day,
            func.count(distinct(LineScan.parcel_id)),
            func.count(distinct(case((divert, LineScan.parcel_id)))),
            *by_reason,
        )
        .select_from(LineScan)
        .join(ExportParcel, ExportParcel.id == LineScan.parcel_id)
        .join(Declaration, Declaration.id == ExportParcel.declaration_id)
        .where(*cohort)
        .group_by(submitted_day)
    )
    for day, scanned, diverted, *counts in rows:
        for tally in tallies_of(day):
            tally["line"]["scanned"] += scanned
            tally["line"]["diverted"] += diverted
            for reason, count in zip(DivertReason, counts, strict=True):
                tally["line"][reason.value] += count


def _count_rechecks(session: Session, submitted_day: Any, cohort: Cohort, tallies_of: TalliesOf) -> None:
    rows = session.execute(
        select(submitted_day, Recheck.disposal, func.count())
        .select_from(Recheck)
        .join(ExportParcel, ExportParcel.id == Recheck.parcel_id)
        .join(Declaration, Declaration.id == ExportParcel.declaration_id)
        .where(*cohort)
        .group_by(submitted_day, Recheck.disposal)
    )
    for day, disposal, count in rows:
        for tally in tallies_of(day):
            tally["rechecks"][disposal.value] += count


def _days(since: datetime, until: datetime) -> list[date]:
    first = _shanghai_date(since, "since")
    last = _shanghai_date(until - timedelta(microseconds=1), "until")
    count = (last - first).days + 1
    if count > MAX_DAYS:
        raise InvalidInput.of_field(
            "until", _("The range may span at most %(max_days)s days.", max_days=MAX_DAYS), location="query"
        )
    return [first + timedelta(days=offset) for offset in range(count)]


def _shanghai_date(moment: datetime, field: str) -> date:
    try:
        return moment.astimezone(SHANGHAI).date()
    except OverflowError:  # year 1 or 9999 at an offset: not a time the database could take either
        raise InvalidInput.of_field(field, _("Give a time within years 1 to 9999 UTC."), location="query") from None


def _as_date(value: date | str) -> date:
    # PostgreSQL gives a date; SQLite's date() gives its ISO text.
    return value if isinstance(value, date) else date.fromisoformat(value)


def _empty() -> dict[str, Any]:
    return {
        "lists": 0,
        "parcels": 0,
        "departed": 0,
        "same_day_departed": 0,
        "lists_by_status": defaultdict(int),
        "line": {"scanned": 0, "diverted": 0, **{reason.value: 0 for reason in DivertReason}},
        "rechecks": {disposal.value: 0 for disposal in RecheckDisposal},
    }


def _no_durations() -> dict[str, Any]:
    return {"count": 0, "median_seconds": None, "p90_seconds": None}


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _finish(tally: dict[str, Any], durations: dict[str, Any]) -> dict[str, Any]:
    line = tally["line"]
    return {
        "lists": tally["lists"],
        "parcels": tally["parcels"],
        "lists_by_status": dict(sorted(tally["lists_by_status"].items())),
        "line": {
            **line,
            "diverted_share": _share(line["diverted"], line["scanned"]),
            **{f"{reason.value}_share": _share(line[reason.value], line["scanned"]) for reason in DivertReason},
        },
        "rechecks": tally["rechecks"],
        "departed": tally["departed"],
        "submission_to_departure": durations,
        "same_day_departed": tally["same_day_departed"],
        "same_day_share": _share(tally["same_day_departed"], tally["lists"]),
    }


def _durations(session: Session, dialect: str, submitted_day: Any, cohort: Cohort) -> dict[date | None, dict[str, Any]]:
    """Count, median and p90 of submission → departure in seconds, per day and (under None) over the range."""
    departed = (*cohort, ExportList.departed_at.is_not(None))
    joined = select().select_from(Declaration).join(ExportList, ExportList.declaration_id == Declaration.id)
    if dialect == "postgresql":
        seconds = cast(func.extract("epoch", ExportList.departed_at - Declaration.submitted_at), Float)
        figures = (
            func.count(),
            func.percentile_cont(0.5).within_group(seconds),
            func.percentile_cont(0.9).within_group(seconds),
        )
        found: dict[date | None, dict[str, Any]] = {}
        rows = session.execute(joined.add_columns(submitted_day, *figures).where(*departed).group_by(submitted_day))
        for day, count, median, p90 in rows:
            found[_as_date(day)] = {"count": count, "median_seconds": median, "p90_seconds": p90}
        count, median, p90 = session.execute(joined.add_columns(*figures).where(*departed)).one()
        found[None] = {"count": count, "median_seconds": median, "p90_seconds": p90}
        return found
    by_day: dict[date | None, list[float]] = defaultdict(list)
    rows = session.execute(
        joined.add_columns(submitted_day, Declaration.submitted_at, ExportList.departed_at).where(*departed)
    )
    for day, submitted_at, departed_at in rows:
        seconds_taken = (departed_at - submitted_at).total_seconds()
        by_day[_as_date(day)].append(seconds_taken)
        by_day[None].append(seconds_taken)
    found = {}
    for day, values in by_day.items():
        values.sort()
        found[day] = {
            "count": len(values),
            "median_seconds": percentile(values, 0.5),
            "p90_seconds": percentile(values, 0.9),
        }
    return found
