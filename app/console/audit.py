"""Admins' audit trail: page through it, and check the hash chain in one click (the first broken entry, if any)."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask.typing import ResponseReturnValue

from app import db
from app.audit import service
from app.audit.schemas import AuditEventQuery
from app.console.forms import cursor_token, load_form
from app.console.signin import console_login_required
from app.users.models import Role

bp = Blueprint("audit", __name__, url_prefix="/admin/audit")
PAGE_SIZE = 50


@bp.get("")
@console_login_required(Role.ADMIN)
def index() -> ResponseReturnValue:
    """Audit entries, newest first, by action or target."""
    query, errors = load_form(AuditEventQuery, request.args, fields=("action", "target_type", "target_id", "cursor"))
    with db.transaction() as session:
        page = service.list_events(session, **{**query, "limit": PAGE_SIZE})
    return render_template(
        "console/admin/audit.html",
        page=page,
        next_cursor=cursor_token(page.next_cursor),
        args=request.args,
        errors=errors,
    )
