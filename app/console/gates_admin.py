"""Admins' gates and lanes: page through the gates with their lanes, register a gate, add a lane, and switch a lane's
type, direction or state with the reason typed beside it, each switch then read back from the audit trail.

The codes' uniqueness, what a switch changes and its audit entry are the lanes use cases' (app/gates/lanes.py), as
for the API's routes.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from marshmallow import validate

from app import db
from app.auth.guards import current_actor
from app.common.fields import TrimmedString
from app.common.pagination import PageQuery
from app.console.desk import label
from app.console.forms import cursor_token, field_errors, load_form
from app.console.signin import console_login_required
from app.errors import DomainError
from app.gates import lanes
from app.gates.models import Direction, LaneState, LaneType
from app.gates.schemas import GateCreate, LaneCreate, LaneSwitch
from app.i18n import _, _l
from app.users.models import Role

bp = Blueprint("gates_admin", __name__, url_prefix="/admin/gates")
PAGE_SIZE = 25
SWITCHES_SHOWN = 25
# What a switch's audit entry may name, in the reader's words, with the words for its values (desk.LABELS).
SWITCHED_FIELDS = {
    "lane_type": (_l("Type"), "lane_type"),
    "direction": (_l("Direction"), "direction"),
    "state": (_l("State"), "lane_state"),
}


class LaneSwitchForm(LaneSwitch):
    """The API's switch; in the console every switch says why (the API's older callers may leave the reason out)."""

    reason = TrimmedString(required=True, validate=validate.Length(min=1, max=500))


@bp.get("")
@console_login_required(Role.ADMIN)
def index() -> ResponseReturnValue:
    """Gates, newest first, each with its lanes."""
    query, errors = load_form(PageQuery, request.args, fields=("cursor",))
    with db.transaction() as session:
        page = lanes.list_gates(session, **{**query, "limit": PAGE_SIZE})
        return render_template(
            "console/admin/gates.html",
            page=page,
            next_cursor=cursor_token(page.next_cursor),
            args=request.args,
            errors=errors,
            label=label,
        )


@bp.route("/new", methods=["GET", "POST"])
@console_login_required(Role.ADMIN)
def new() -> ResponseReturnValue:
    """Register a checkpoint gate."""
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        data, errors = load_form(GateCreate, request.form, fields=("code", "name", "customs_code"))
        if not errors:
            try:
                with db.transaction() as session:
                    gate = lanes.create_gate(session, actor=current_actor(), **data)
            except DomainError as error:
                errors = field_errors(error)
            else:
                flash(_("Gate %(code)s is registered; add its lanes.", code=gate.code), "info")
                return redirect(url_for(".gate", gate_id=gate.id))
    return render_template("console/admin/gate_new.html", errors=errors, form=request.form), 400 if errors else 200


@bp.route("/<int:gate_id>", methods=["GET", "POST"])
@console_login_required(Role.ADMIN)
def gate(gate_id: int) -> ResponseReturnValue:
    """One gate with its lanes, and the form that adds a lane (posted here)."""
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        data, errors = load_form(
            LaneCreate, request.form, fields=("code", "lane_type", "direction", "state"), checkboxes=("dual_gate",)
        )
        if not errors:
            try:
                with db.transaction() as session:
                    lane = lanes.add_lane(session, gate_id, actor=current_actor(), **data)
            except DomainError as error:
                errors = field_errors(error)
            else:
                flash(_("Lane %(code)s is added.", code=lane.code), "info")
                return redirect(url_for(".gate", gate_id=gate_id))
    with db.transaction() as session:
        found = lanes.get_gate(session, gate_id)
        return render_template(
            "console/admin/gate.html",
            gate=found,
            errors=errors,
            form=request.form if errors else None,
            label=label,
            lane_types=list(LaneType),
            directions=list(Direction),
            states=list(LaneState),
        ), 400 if errors else 200


@bp.route("/lanes/<int:lane_id>", methods=["GET", "POST"])
@console_login_required(Role.ADMIN)
def lane(lane_id: int) -> ResponseReturnValue:
    """One lane: what it is now, the form that switches it (posted here), and its switches from the audit trail."""
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        data, errors = load_form(LaneSwitchForm, request.form, fields=("lane_type", "direction", "state", "reason"))
        if not errors:
            try:
                with db.transaction() as session:
                    lanes.switch_lane(session, lane_id, actor=current_actor(), **data)
            except DomainError as error:
                errors = field_errors(error)
            else:
                flash(_("The lane is switched; the switch is in its history below."), "info")
                return redirect(url_for(".lane", lane_id=lane_id))
    query, query_errors = load_form(PageQuery, request.args, fields=("cursor",))
    with db.transaction() as session:
        found = lanes.get_lane(session, lane_id)
        switches = lanes.list_switches(session, lane_id, **{**query, "limit": SWITCHES_SHOWN})
        return render_template(
            "console/admin/lane.html",
            lane=found,
            switches=switches,
            next_cursor=cursor_token(switches.next_cursor),
            errors={**query_errors, **errors},
            form=request.form if errors else None,
            label=label,
            fields=SWITCHED_FIELDS,
            lane_types=[kind for kind in LaneType if kind is not found.lane_type],
            directions=[way for way in Direction if way is not found.direction],
            states=[state for state in LaneState if state is not found.state],
        ), 400 if errors else 200
