"""Admins' audit trail: page through it, and check the hash chain in one click (the first broken entry, if any)."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask.typing import ResponseReturnValue

from app import db
from app.audit import service
from app.audit.schemas import AuditEventQuery
from app.console.forms import cursor_token, load_form
from app.console.signin import console_login_required
from app.i18n import _l
from app.users.models import Role

bp = Blueprint("audit", __name__, url_prefix="/admin/audit")
PAGE_SIZE = 50
# Why an entry breaks the chain (app/audit/service.py REASONS), in the reader's language.
REASONS = {
    "altered": _l("its content no longer matches its hash"),
    "link": _l("it does not link to the previous entry's hash: an entry before it was altered, removed or reordered"),
    "gap": _l("the entry before it in the chain is missing"),
    "missing": _l("the entry the check started after is missing"),
    "truncated": _l("the newest entries are missing: the chain's head names a later entry"),
    "unchained": _l("it has no place in the chain"),
}


@bp.get("")
@console_login_required(Role.ADMIN)
def index() -> ResponseReturnValue:
    """Audit entries, newest first, by action or target."""
    return _page(check=None)


@bp.get("/verify")
@console_login_required(Role.ADMIN)
def verify() -> ResponseReturnValue:
    """Recompute the whole hash chain (a read, so a link, not a form) and show where it first breaks, if anywhere."""
    # A session of its own: the check lets go of each page of entries as it goes, the request's objects stay.
    with db.reading(db.session_factory()) as reading:
        check = service.check_chain(reading)
    return _page(check=check)


def _page(*, check: service.ChainCheck | None) -> str:
    query, errors = load_form(AuditEventQuery, request.args, fields=("action", "target_type", "target_id", "cursor"))
    with db.transaction() as session:
        page = service.list_events(session, **{**query, "limit": PAGE_SIZE})
    return render_template(
        "console/admin/audit.html",
        page=page,
        next_cursor=cursor_token(page.next_cursor),
        args=request.args,
        errors=errors,
        check=check,
        reasons=REASONS,
    )
