"""Admins' users: search and page through them, create one (its first password shown once), disable, reset, unlock.

Every change calls the API's own use cases (app/auth/users.py): the rules between roles and enterprises, the last
admin, ending sign-ins, the audit entries are theirs. The first and the reset passwords are generated here, as the
API generates a reset one, and shown once: on the answer to the POST, never stored, never in a redirect.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from app import db
from app.auth import passwords
from app.auth import users as service
from app.auth.guards import current_actor
from app.auth.user_schemas import UserCreate, UserQuery
from app.config import current_settings
from app.console.forms import cursor_token, field_errors, load_form
from app.console.signin import console_login_required
from app.enterprises import service as enterprises
from app.errors import DomainError
from app.i18n import _, _l
from app.users.models import MACHINE_ROLES, Language, Role

bp = Blueprint("users", __name__, url_prefix="/admin/users")
PAGE_SIZE = 25
CREATE_FIELDS = ("username", "display_name", "phone", "role", "language", "enterprise_id")
# A change of state: the fields of the API's PATCH it sets, and what the admin is told.
STATE_CHANGES = {
    "disable": ({"active": False}, _l("The account is disabled; its sign-ins have ended.")),
    "enable": ({"active": True}, _l("The account is active again.")),
    "lock": ({"locked": True}, _l("The account is locked until an admin unlocks it.")),
    "unlock": ({"locked": False}, _l("The account is unlocked.")),
}


@bp.get("")
@console_login_required(Role.ADMIN)
def index() -> ResponseReturnValue:
    """Users, newest first, by name, username or phone, role and state."""
    query, errors = load_form(UserQuery, request.args, fields=("q", "role", "active", "cursor"))
    with db.transaction() as session:
        page = service.list_users(session, **{**query, "limit": PAGE_SIZE})
    return render_template(
        "console/admin/users.html",
        page=page,
        next_cursor=cursor_token(page.next_cursor),
        args=request.args,
        errors=errors,
        roles=list(Role),
    )


@bp.route("/new", methods=["GET", "POST"])
@console_login_required(Role.ADMIN)
def new() -> ResponseReturnValue:
    """Create a person's account: the first password is generated, shown once, and must be changed at sign-in."""
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        # The password is not the admin's to type: it is generated below.
        data, errors = load_form(UserCreate, request.form, fields=CREATE_FIELDS, partial=("password",))
        if not errors and data["role"] in MACHINE_ROLES:
            errors = {"role": [_("Systems get their accounts and API keys through the API.")]}
        if not errors:
            first_password = passwords.generate_temporary_password()
            try:
                with db.transaction() as session:
                    user = service.create_user(
                        session,
                        actor=current_actor(),
                        settings=current_settings(),
                        **{**data, "password": first_password},
                    )
            except DomainError as error:
                errors = field_errors(error)
            else:
                return render_template("console/admin/user_password.html", user=user, password=first_password)
    return _form(errors), 400 if errors else 200


def _form(errors: dict[str, list[str]]) -> str:
    with db.transaction() as session:
        choices = enterprises.list_enterprises(session, active=True, limit=100).items
    return render_template(
        "console/admin/user_new.html",
        errors=errors,
        form=request.form,
        roles=[role for role in Role if role not in MACHINE_ROLES],
        languages=list(Language),
        enterprises=choices,
    )


@bp.get("/<int:user_id>")
@console_login_required(Role.ADMIN)
def detail(user_id: int) -> ResponseReturnValue:
    """One user: who they are, their state, and the admin's buttons."""
    with db.transaction() as session:
        user = service.get_user(session, user_id)
    return render_template("console/admin/user.html", user=user)


@bp.post("/<int:user_id>/state")
@console_login_required(Role.ADMIN)
def change_state(user_id: int) -> ResponseReturnValue:
    """Disable, enable, lock or unlock an account (the last active admin stays one)."""
    change = STATE_CHANGES.get(request.form.get("change", ""))
    if change is None:
        abort(400)
    fields, message = change
    try:
        with db.transaction() as session:
            service.update_user(session, user_id, actor=current_actor(), **fields)
    except DomainError as error:
        flash(error.detail, "error")
    else:
        flash(str(message), "info")
    return redirect(url_for(".detail", user_id=user_id))


@bp.post("/<int:user_id>/password-reset")
@console_login_required(Role.ADMIN)
def reset_password(user_id: int) -> ResponseReturnValue:
    """Give the user a temporary password, shown once; their sign-ins end and they must choose their own."""
    with db.transaction() as session:
        reset = service.reset_password(session, user_id, actor=current_actor(), settings=current_settings())
    return render_template("console/admin/user_password.html", user=reset.user, password=reset.temporary_password)
