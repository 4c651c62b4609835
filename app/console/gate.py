"""Gate operators' live screen: the vehicles at one gate now (arrived, or referred and waiting), with their pass,
lane, weight gap and what is still needed, and the decision buttons on the referred ones.

The page loads static/gate.js, which fetches the rows again from /console/gate/live every few seconds and swaps
them in (no reload; the policy allows fetches to this origin only). Decisions are form posts to the same use case the
API's decision route calls (app/exports/gate_passing.py).
"""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask.typing import ResponseReturnValue
from marshmallow import Schema

from app import db
from app.common.fields import Integer
from app.console.desk import decide_on, label
from app.console.forms import load_form
from app.console.signin import console_login_required
from app.gates import lanes, passage
from app.gates.models import DecisionAction, DecisionReason
from app.users.models import Role

bp = Blueprint("gate", __name__, url_prefix="/gate")
# More vehicles than lanes never wait at one gate; the bound only keeps a jammed gate's screen readable.
ROWS_SHOWN = 50
GATES_SHOWN = 100
REFRESH_SECONDS = 3


class ScreenForm(Schema):
    gate_id = Integer()


@bp.get("")
@console_login_required(Role.GATE_OPERATOR)
def screen() -> ResponseReturnValue:
    """The live gate screen."""
    query, errors = load_form(ScreenForm, request.args, fields=("gate_id",))
    with db.transaction() as session:
        gates = lanes.list_gates(session, limit=GATES_SHOWN).items
        gate_id = query.get("gate_id") or (gates[0].id if gates else None)
        rows = passage.list_open_passages(session, gate_id=gate_id, limit=ROWS_SHOWN) if gate_id else []
        return render_template(
            "console/gate/screen.html",
            gates=gates,
            errors=errors,
            refresh=REFRESH_SECONDS,
            **_rows(gate_id, rows),
        )


@bp.get("/live")
@console_login_required(Role.GATE_OPERATOR)
def live() -> ResponseReturnValue:
    """The screen's rows alone, for its script to swap in."""
    query, _errors = load_form(ScreenForm, request.args, fields=("gate_id",))
    gate_id = query.get("gate_id")
    with db.transaction() as session:
        rows = passage.list_open_passages(session, gate_id=gate_id, limit=ROWS_SHOWN)
        return render_template("console/gate/rows.html", **_rows(gate_id, rows))


@bp.post("/passages/<int:passage_id>/decision")
@console_login_required(Role.GATE_OPERATOR)
def decide(passage_id: int) -> ResponseReturnValue:
    """Clear, turn back or send to inspection a referred vehicle, with a reason code."""
    return decide_on(passage_id)


def _rows(gate_id: int | None, rows: list) -> dict[str, object]:
    return {
        "rows": rows,
        "label": label,
        "actions": list(DecisionAction),
        "reasons": list(DecisionReason),
        "gate_id": gate_id,
    }
