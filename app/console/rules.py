"""Admins' run-time rules: each rule's value in force, its default and bounds, a form to change it, a reset.

The bounds, the audit entries and the cache are the rules service's (app/rules), as for the API's routes: a change
takes effect at once in this process and within RULES_CACHE_SECONDS on every other worker and host.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from app import db
from app.auth.guards import current_actor
from app.config import current_settings
from app.console.forms import field_errors, load_form
from app.console.signin import console_login_required
from app.errors import DomainError
from app.i18n import _, _l
from app.rules import cache, service
from app.rules.schemas import RuleUpdate
from app.users.models import Role

bp = Blueprint("rules", __name__, url_prefix="/admin/rules")
# Counts need no unit beside them; the label says what is counted.
UNIT_LABELS = {"percent": "%", "hours": _l("hours"), "count": ""}


@bp.get("")
@console_login_required(Role.ADMIN)
def index() -> ResponseReturnValue:
    """Every rule with its value in force and a form to change it."""
    return _page()


@bp.post("/<key>")
@console_login_required(Role.ADMIN)
def change(key: str) -> ResponseReturnValue:
    """Set one rule's value."""
    data, errors = load_form(RuleUpdate, request.form, fields=("value",))
    if not errors:
        try:
            with db.transaction() as session:
                service.set_rule(session, key, actor=current_actor(), settings=current_settings(), **data)
        except DomainError as error:
            if error.status == 404:
                raise
            errors = field_errors(error)
        else:
            cache.forget()
            flash(_("The rule is saved; every server applies it within a few seconds."), "info")
            return redirect(url_for(".index"))
    return _page(errors={key: errors}, given={key: request.form.get("value", "")}), 400


@bp.post("/<key>/reset")
@console_login_required(Role.ADMIN)
def reset(key: str) -> ResponseReturnValue:
    """Return one rule to its default from the server's environment."""
    with db.transaction() as session:
        service.reset_rule(session, key, actor=current_actor(), settings=current_settings())
    cache.forget()
    flash(_("The rule is back to its default."), "info")
    return redirect(url_for(".index"))


def _page(*, errors: dict[str, dict[str, list[str]]] | None = None, given: dict[str, str] | None = None) -> str:
    with db.transaction() as session:
        rules = service.list_rules(session, settings=current_settings())
    return render_template(
        "console/admin/rules.html", rules=rules, errors=errors or {}, given=given or {}, unit_labels=UNIT_LABELS
    )
