"""Officers' risk-warning queue: filter by severity, status and kind; take, resolve with a note, turn into an
inspection. The inspection queue is in inspection_desk.py, the referred vehicles in referrals.py.

Every button calls the use case the API's route calls (app/risk/service.py), with the officer as the actor: the same
rules, the same audit entries.
"""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask.typing import ResponseReturnValue

from app import db
from app.auth.guards import current_actor, current_user
from app.console.desk import label, post_form
from app.console.forms import cursor_token, load_form
from app.console.signin import console_login_required
from app.i18n import _
from app.inspections.models import InspectionMethod
from app.risk import service as risk
from app.risk.models import Resolution, Severity, WarningSource, WarningStatus
from app.risk.schemas import WarningInspection, WarningQuery, WarningResolve
from app.users.models import Role

bp = Blueprint("officer", __name__, url_prefix="/officer")
PAGE_SIZE = 25
OFFICER = Role.CUSTOMS_OFFICER


@bp.get("/warnings")
@console_login_required(OFFICER)
def warnings() -> ResponseReturnValue:
    """The risk-warning queue, newest first, by severity, status and kind."""
    query, errors = load_form(WarningQuery, request.args, fields=("severity", "status", "source", "cursor"))
    with db.transaction() as session:
        page = risk.list_warnings(session, **{**query, "limit": PAGE_SIZE})
    return render_template(
        "console/officer/warnings.html",
        page=page,
        next_cursor=cursor_token(page.next_cursor),
        args=request.args,
        errors=errors,
        label=label,
        severities=list(Severity),
        statuses=list(WarningStatus),
        sources=list(WarningSource),
        resolutions=list(Resolution),
        methods=list(InspectionMethod),
        me=current_user(),
    )


@bp.post("/warnings/<int:warning_id>/take")
@console_login_required(OFFICER)
def take(warning_id: int) -> ResponseReturnValue:
    """Take a warning to work on it."""
    return post_form(
        None,
        (),
        lambda session, _data: risk.take(session, warning_id, officer=current_user(), actor=current_actor()),
        done=_("Warning %(id)s is yours.", id=warning_id),
    )


@bp.post("/warnings/<int:warning_id>/resolve")
@console_login_required(OFFICER)
def resolve(warning_id: int) -> ResponseReturnValue:
    """Resolve a warning with a note."""
    return post_form(
        WarningResolve,
        ("resolution", "notes"),
        lambda session, data: risk.resolve(session, warning_id, officer=current_user(), actor=current_actor(), **data),
        done=_("Warning %(id)s is resolved.", id=warning_id),
    )


@bp.post("/warnings/<int:warning_id>/inspection")
@console_login_required(OFFICER)
def order_inspection(warning_id: int) -> ResponseReturnValue:
    """Turn a warning into an inspection task on its declaration."""
    return post_form(
        WarningInspection,
        ("declaration_id", "method", "reason"),
        lambda session, data: risk.order_inspection(
            session, warning_id, officer=current_user(), actor=current_actor(), **data
        ),
        done=_("Warning %(id)s is now an inspection task.", id=warning_id),
    )
