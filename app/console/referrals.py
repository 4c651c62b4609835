"""Officers' queue of the vehicles the gates referred to a person: clear, turn back or send to inspection, with a
reason code (the same use case as the API's decision route: app/exports/gate_passing.py)."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask.typing import ResponseReturnValue

from app import db
from app.console.desk import decide_on, label
from app.console.forms import cursor_token, load_form
from app.console.signin import console_login_required
from app.gates import passage
from app.gates.models import DecisionAction, DecisionReason, PassageStatus
from app.gates.schemas import PassageQuery
from app.users.models import Role

bp = Blueprint("referrals", __name__, url_prefix="/officer/referrals")
PAGE_SIZE = 25
OFFICER = Role.CUSTOMS_OFFICER


@bp.get("")
@console_login_required(OFFICER)
def index() -> ResponseReturnValue:
    """Vehicles the gates referred to a person, newest first, by gate."""
    query, errors = load_form(PassageQuery, request.args, fields=("gate_id", "cursor"))
    with db.transaction() as session:
        page = passage.list_passages(session, **{**query, "status": PassageStatus.REFERRED, "limit": PAGE_SIZE})
    return render_template(
        "console/officer/referrals.html",
        page=page,
        next_cursor=cursor_token(page.next_cursor),
        args=request.args,
        errors=errors,
        label=label,
        actions=list(DecisionAction),
        reasons=list(DecisionReason),
        decide_endpoint="console.referrals.decide",
    )


@bp.post("/<int:passage_id>/decision")
@console_login_required(OFFICER)
def decide(passage_id: int) -> ResponseReturnValue:
    """Clear, turn back or send to inspection a referred vehicle, with a reason code."""
    return decide_on(passage_id)
