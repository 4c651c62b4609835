"""Admins' backlog of customs receipts that named no declaration we knew: page through it, retry one (its
declaration may have arrived since) or dismiss it, and read what became of it in a flash message.

Matching, applying and the audit entries are the customs service's (`retry_unknown`, `dismiss`), as for the API's
routes; app/customs/backlog.py counts the backlog and each receipt's tries.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request
from flask.typing import ResponseReturnValue

from app import db
from app.auth.guards import current_actor
from app.common.pagination import PageQuery
from app.console.forms import cursor_token, load_form
from app.console.signin import console_login_required, safe_next
from app.customs import backlog, service
from app.customs.models import ReceiptOutcome
from app.errors import DomainError
from app.i18n import _l
from app.users.models import Role

bp = Blueprint("receipts", __name__, url_prefix="/admin/receipts")
PAGE_SIZE = 25
# What a retry came to, as the admin is told (with the flash's category).
RETRIED = {
    ReceiptOutcome.APPLIED: (_l("Receipt %(id)s found its declaration and is applied."), "success"),
    ReceiptOutcome.STALE: (
        _l("Receipt %(id)s found its declaration, which is already past it: kept on record, not applied."),
        "info",
    ),
    ReceiptOutcome.DUPLICATE: (
        _l("Receipt %(id)s found its declaration, which already had the same receipt: nothing changed."),
        "info",
    ),
    ReceiptOutcome.UNKNOWN_DECLARATION: (
        _l("Receipt %(id)s still names no declaration we know; it stays in the backlog."),
        "warning",
    ),
}
DISMISSED = _l("Receipt %(id)s is dismissed: it leaves the backlog without being applied.")


@bp.get("")
@console_login_required(Role.ADMIN)
def index() -> ResponseReturnValue:
    """The backlog, newest first, with each receipt's Retry and Dismiss buttons."""
    query, errors = load_form(PageQuery, request.args, fields=("cursor",))
    with db.transaction() as session:
        page = backlog.list_backlog(session, **{**query, "limit": PAGE_SIZE})
        tries = backlog.retry_counts(session, (receipt.id for receipt in page.items))
        waiting = backlog.count_backlog(session)
    return render_template(
        "console/admin/receipts.html",
        page=page,
        tries=tries,
        waiting=waiting,
        titles=service.RECEIPT_TITLES,
        next_cursor=cursor_token(page.next_cursor),
        args=request.args,
        errors=errors,
    )


@bp.post("/<int:receipt_id>/retry")
@console_login_required(Role.ADMIN)
def retry(receipt_id: int) -> ResponseReturnValue:
    """Match a receipt again and apply it if its declaration is known now."""
    try:
        with db.transaction() as session:
            receipt = service.retry_unknown(session, receipt_id, actor=current_actor())
    except DomainError as error:
        flash(error.detail, "error")
    else:
        message, category = RETRIED[receipt.outcome]
        flash(message % {"id": receipt_id}, category)
    return redirect(safe_next(request.form.get("next")))


@bp.post("/<int:receipt_id>/dismiss")
@console_login_required(Role.ADMIN)
def dismiss(receipt_id: int) -> ResponseReturnValue:
    """Take a receipt off the backlog without applying it."""
    try:
        with db.transaction() as session:
            service.dismiss(session, receipt_id, actor=current_actor())
    except DomainError as error:
        flash(error.detail, "error")
    else:
        flash(DISMISSED % {"id": receipt_id}, "success")
    return redirect(safe_next(request.form.get("next")))
