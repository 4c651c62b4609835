"""Admins' users: search and page through them, create one (its first password shown once), disable, reset, unlock.

Every change calls the API's own use cases (app/auth/users.py): the rules between roles and enterprises, the last
admin, ending sign-ins, the audit entries are theirs.
"""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask.typing import ResponseReturnValue

from app import db
from app.auth import users as service
from app.auth.user_schemas import UserQuery
from app.console.forms import cursor_token, load_form
from app.console.signin import console_login_required
from app.users.models import Role

bp = Blueprint("users", __name__, url_prefix="/admin/users")
PAGE_SIZE = 25


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
