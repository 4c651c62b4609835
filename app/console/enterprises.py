"""Admins' enterprises: search them, register one, change its details, the roles it plays, its pilot flag, its state.

The codes' uniqueness, the kinds and the audit entries are the enterprises service's (app/enterprises/service.py),
as for the API's routes.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from app import db
from app.auth.guards import current_actor
from app.console.forms import cursor_token, field_errors, load_form
from app.console.signin import console_login_required
from app.enterprises import service
from app.enterprises.models import CreditLevel, EnterpriseKind
from app.enterprises.schemas import EnterpriseCreate, EnterpriseQuery, EnterpriseUpdate
from app.errors import DomainError
from app.i18n import _, _l
from app.users.models import Role

bp = Blueprint("enterprises", __name__, url_prefix="/admin/enterprises")
PAGE_SIZE = 25
KIND_LABELS = {
    EnterpriseKind.EBC: _l("E-commerce enterprise"),
    EnterpriseKind.EBP: _l("E-commerce platform"),
    EnterpriseKind.AGENT: _l("Customs broker"),
    EnterpriseKind.LOGISTICS: _l("Logistics enterprise"),
    EnterpriseKind.PAY: _l("Payment enterprise"),
    EnterpriseKind.ZONE: _l("In-zone enterprise"),
}
CREDIT_LABELS = {
    CreditLevel.ADVANCED_CERTIFIED: _l("Advanced certified (AEO)"),
    CreditLevel.GENERAL: _l("General"),
    CreditLevel.DISHONEST: _l("Dishonest"),
}


@bp.get("")
@console_login_required(Role.ADMIN)
def index() -> ResponseReturnValue:
    """Enterprises, newest first, by name or code, kind and state."""
    query, errors = load_form(EnterpriseQuery, request.args, fields=("q", "kind", "active", "cursor"))
    with db.transaction() as session:
        page = service.list_enterprises(session, **{**query, "limit": PAGE_SIZE})
    return render_template(
        "console/admin/enterprises.html",
        page=page,
        next_cursor=cursor_token(page.next_cursor),
        args=request.args,
        errors=errors,
        **_labels(),
    )


@bp.route("/new", methods=["GET", "POST"])
@console_login_required(Role.ADMIN)
def new() -> ResponseReturnValue:
    """Register an enterprise with the roles it plays."""
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        data, errors = load_form(
            EnterpriseCreate,
            request.form,
            fields=("name", "uscc", "customs_reg_code", "credit_level"),
            lists=("kinds",),
            checkboxes=("general_taxpayer_pilot",),
        )
        if not errors:
            try:
                with db.transaction() as session:
                    enterprise = service.register_enterprise(session, actor=current_actor(), **data)
            except DomainError as error:
                errors = field_errors(error)
            else:
                flash(_("The enterprise is registered."), "info")
                return redirect(url_for(".edit", enterprise_id=enterprise.id))
    return render_template(
        "console/admin/enterprise.html", enterprise=None, errors=errors, form=request.form, **_labels()
    ), 400 if errors else 200


@bp.route("/<int:enterprise_id>", methods=["GET", "POST"])
@console_login_required(Role.ADMIN)
def edit(enterprise_id: int) -> ResponseReturnValue:
    """One enterprise: change its name, customs code, kinds, credit level, pilot flag or state."""
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        data, errors = load_form(
            EnterpriseUpdate,
            request.form,
            fields=("name", "customs_reg_code", "credit_level"),
            lists=("kinds",),
            checkboxes=("general_taxpayer_pilot", "active"),
        )
        if not errors:
            try:
                with db.transaction() as session:
                    service.update_enterprise(session, enterprise_id, actor=current_actor(), **data)
            except DomainError as error:
                errors = field_errors(error)
            else:
                flash(_("The enterprise is saved."), "info")
                return redirect(url_for(".edit", enterprise_id=enterprise_id))
    with db.transaction() as session:
        enterprise = service.get_enterprise(session, enterprise_id)
    return render_template(
        "console/admin/enterprise.html",
        enterprise=enterprise,
        errors=errors,
        form=request.form if errors else None,
        **_labels(),
    ), 400 if errors else 200


def _labels() -> dict[str, object]:
    return {"kind_labels": KIND_LABELS, "credit_labels": CREDIT_LABELS}
