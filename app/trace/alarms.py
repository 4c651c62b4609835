"""Counted lookups stored after their answers went out: each code's scan totals and sightings, and the clone
alarms (risk warnings for customs officers) raised on codes whose lookups look like copied labels."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import Insert, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

from app.common import clock
from app.db import Base
from app.infra.prepared import PreparedWrite
from app.risk import service as risk
from app.risk.models import Severity, WarningSource
from app.trace.lookup import CloneRules, Verdict
from app.trace.models import TraceCode, TraceCodeScanTotal, TraceScan, TraceSighting


def record_scans(session: Session, scans: list[dict[str, Any]], *, rules: CloneRules) -> None:
    """Store counted lookups (the `scan` of each Lookup) after their answers went out.

    Each code's totals and sightings move on with them, and a code whose lookups were flagged (a clone rule,
    or a lookup before release) raises a risk warning for customs officers, repeats counting on it.
    """
    _INSERT_SCANS.run(session, scans)
    by_code: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for scan in scans:
        by_code[scan["trace_code_id"]].append(scan)
    # In id order, so two writers (two workers) lock codes in the same order and cannot deadlock.
    _ADD_TO_TOTALS.run(
        session,
        [
            {
                "trace_code_id": code_id,
                "scan_count": len(group),
                "first_scanned_at": min(scan["scanned_at"] for scan in group),
            }
            for code_id, group in sorted(by_code.items())
        ],
    )
    _record_sightings(session, scans)
    for code_id, group in sorted(by_code.items()):
        flagged = [scan for scan in group if scan["verdict"] in _FLAGGED or scan["before_release"]]
        if flagged:
            _raise_clone_alarm(session, code_id, flagged=flagged, rules=rules)


def _upsert(dialect: Dialect, model: type[Base]) -> tuple[Any, bool]:
    """An INSERT that can take ON CONFLICT DO UPDATE, and whether it is PostgreSQL's (else SQLite's)."""
    postgres = dialect.name == "postgresql"
    return (postgresql if postgres else sqlite).insert(model), postgres


def _add_to_totals(dialect: Dialect) -> Insert:
    statement, postgres = _upsert(dialect, TraceCodeScanTotal)
    return statement.on_conflict_do_update(
        index_elements=["trace_code_id"],
        set_={
            "scan_count": TraceCodeScanTotal.scan_count + statement.excluded.scan_count,
            "first_scanned_at": (func.least if postgres else func.min)(
                TraceCodeScanTotal.first_scanned_at, statement.excluded.first_scanned_at
            ),
        },
    )


def _see(dialect: Dialect) -> Insert:
    statement, postgres = _upsert(dialect, TraceSighting)
    # Workers write concurrently: a late batch must not move a sighting back in time.
    newest = (func.greatest if postgres else func.max)(TraceSighting.last_seen_at, statement.excluded.last_seen_at)
    return statement.on_conflict_do_update(
        index_elements=["trace_code_id", "kind", "value"], set_={"last_seen_at": newest}
    )


# The writer's statements, built once: a batch spent more on building and caching them than the database spent.
_INSERT_SCANS = PreparedWrite(
    lambda _dialect: insert(TraceScan).inline(),
    columns=("trace_code_id", "scanned_at", "network", "client_class", "region", "verdict", "before_release"),
)
_ADD_TO_TOTALS = PreparedWrite(_add_to_totals, columns=("trace_code_id", "scan_count", "first_scanned_at"))
_SEE = PreparedWrite(_see, columns=("trace_code_id", "kind", "value", "last_seen_at"))


def _record_sightings(session: Session, scans: list[dict[str, Any]]) -> None:
    latest: dict[tuple[int, str, str], datetime] = {}
    for scan in scans:
        for kind in ("network", "region"):
            if scan[kind]:
                key = (scan["trace_code_id"], kind, scan[kind])
                latest[key] = max(latest.get(key, scan["scanned_at"]), scan["scanned_at"])
    if latest:
        _SEE.run(
            session,
            [
                {"trace_code_id": code_id, "kind": kind, "value": value, "last_seen_at": at}
                for (code_id, kind, value), at in sorted(latest.items())
            ],
        )


# Lookups that count toward a clone alarm beside those made before release.
_FLAGGED = (Verdict.SUSPICIOUS, Verdict.LOT_MISMATCH, Verdict.CPV_MISMATCH)

# Why a code was flagged, as the officers' queue says it.
CLONE_RULES = {
    "lookups": "查询次数超过上限",
    "networks": "查询网络过多",
    "regions": "查询地区过多",
    "before_release": "放行前被查询",
    "wrong_lot": "批号与签发不符",
    "wrong_cpv": "标签含签发时没有的商品变体",
}


def _raise_clone_alarm(session: Session, code_id: int, *, flagged: list[dict[str, Any]], rules: CloneRules) -> None:
    code = session.execute(
        select(
            TraceCode.serial, TraceCodeScanTotal.scan_count, TraceCode.declaration_id, TraceCode.warehouse_enterprise_id
        )
        .join(TraceCodeScanTotal, TraceCodeScanTotal.trace_code_id == TraceCode.id)
        .where(TraceCode.id == code_id)
    ).one()
    seen = dict(
        session.execute(
            select(TraceSighting.kind, func.count())
            .where(TraceSighting.trace_code_id == code_id, TraceSighting.last_seen_at >= clock.utcnow() - rules.window)
            .group_by(TraceSighting.kind)
        ).all()
    )
    early = sum(1 for scan in flagged if scan["before_release"])
    wrong_lot = sum(1 for scan in flagged if scan["verdict"] == Verdict.LOT_MISMATCH)
    wrong_cpv = sum(1 for scan in flagged if scan["verdict"] == Verdict.CPV_MISMATCH)
    broken = [
        rule
        for rule, holds in (
            ("lookups", code.scan_count > rules.lookups),
            ("networks", seen.get("network", 0) > rules.networks),
            ("regions", seen.get("region", 0) > rules.regions),
            ("before_release", early > 0),
            ("wrong_lot", wrong_lot > 0),
            ("wrong_cpv", wrong_cpv > 0),
        )
        if holds
    ]
    if not broken:
        return  # the lookup saw the window's edge differently; nothing to name now
    # Many places at once or a label out before release point at copies; a busy code alone may be a family's.
    # A serial under another lot (or a variant it was not issued with) is a copied label whatever else holds.
    severity = Severity.MEDIUM if broken == ["lookups"] else Severity.HIGH
    risk.raise_warning(
        session,
        source=WarningSource.TRACE,
        subject_key=f"trace:{code.serial}",
        severity=severity,
        title=f"溯源码 {code.serial} 异常：{'、'.join(CLONE_RULES[rule] for rule in broken)}",
        details={
            "serial": code.serial,
            "rules": broken,
            "lookups": code.scan_count,
            "lookup_limit": rules.lookups,
            "networks_in_window": seen.get("network", 0),
            "network_limit": rules.networks,
            "regions_in_window": seen.get("region", 0),
            "region_limit": rules.regions,
            "window_hours": rules.window.total_seconds() / 3600,
            "flagged_lookups": len(flagged),
            "lookups_before_release": early,
            "lookups_with_wrong_lot": wrong_lot,
            "lookups_with_wrong_cpv": wrong_cpv,
        },
        declaration_id=code.declaration_id,
        enterprise_id=code.warehouse_enterprise_id,
        count=len(flagged),
    )
