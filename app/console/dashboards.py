"""Dashboards: the park's figures as charts, for admins and officers; gate staff see the lanes' one.

A page holds empty chart frames (`data-chart`); its script (static/dashboards.js) fetches the page's figures as
JSON from the same URL with `.json` and draws them with Apache ECharts, served from /console/static/vendor/
(app/console/vendor.py). No inline script: the console's policy allows none.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, abort, jsonify, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from app import db
from app.auth.guards import current_user
from app.common import clock
from app.console import charts
from app.console.signin import console_login_required
from app.i18n import _l
from app.users.models import Role

bp = Blueprint("dashboards", __name__, url_prefix="/dashboards")
DESK = frozenset({Role.ADMIN, Role.CUSTOMS_OFFICER})
LANES = frozenset({Role.ADMIN, Role.CUSTOMS_OFFICER, Role.GATE_OPERATOR})


@dataclass(frozen=True)
class Chart:
    id: str
    title: object  # a lazy string
    wide: bool = False


@dataclass(frozen=True)
class Dashboard:
    name: str
    title: object
    roles: frozenset[Role]
    charts: tuple[Chart, ...]
    figures: Callable[..., dict[str, Any]]


DASHBOARDS = (
    Dashboard(
        "clearance",
        _l("Clearance"),
        DESK,
        (
            Chart("release-times", _l("Submission to release by day"), wide=True),
            Chart("inspection-rate", _l("Inspection rate by day"), wide=True),
        ),
        charts.clearance,
    ),
    Dashboard(
        "gates",
        _l("Gates and lanes"),
        LANES,
        (
            Chart("lane-vehicles", _l("Vehicles per hour by lane, last 7 days")),
            Chart("lane-type-vehicles", _l("Vehicles per hour by lane type, last 7 days")),
            Chart("auto-cleared", _l("Cleared automatically, last 7 days")),
            Chart("referral-reasons", _l("Referral reasons, last 7 days")),
        ),
        charts.gates,
    ),
    Dashboard(
        "notices",
        _l("Notice delivery"),
        DESK,
        (Chart("notice-delivery", _l("Notice delivery times by day"), wide=True),),
        charts.notices,
    ),
    Dashboard(
        "trace",
        _l("Trace codes"),
        DESK,
        (Chart("trace-lookups", _l("Trace-code lookups and clone alarms by day"), wide=True),),
        charts.trace,
    ),
)
BY_NAME = {dashboard.name: dashboard for dashboard in DASHBOARDS}


@bp.get("/")
@console_login_required(*LANES)
def index() -> ResponseReturnValue:
    """The first dashboard the person's role may see."""
    return redirect(url_for(".page", name=_visible(current_user().role)[0].name))


@bp.get("/<name>")
@console_login_required(*LANES)
def page(name: str) -> ResponseReturnValue:
    """One dashboard: its chart frames, filled by static/dashboards.js from the figures below."""
    dashboard = _dashboard(name)
    return render_template(
        "console/dashboards/page.html", dashboard=dashboard, dashboards=_visible(current_user().role)
    )


@bp.get("/<name>.json")
@console_login_required(*LANES)
def figures(name: str) -> ResponseReturnValue:
    """One dashboard's charts as JSON (words in the page's language)."""
    dashboard = _dashboard(name)
    session: Session
    with db.transaction() as session:
        return jsonify(dashboard.figures(session, now=clock.utcnow()))


def _dashboard(name: str) -> Dashboard:
    dashboard = BY_NAME.get(name)
    if dashboard is None:
        abort(404)
    if current_user().role not in dashboard.roles:
        abort(403)
    return dashboard


def _visible(role: Role) -> list[Dashboard]:
    return [dashboard for dashboard in DASHBOARDS if role in dashboard.roles]
