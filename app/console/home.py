"""The console's first page: who is signed in, and where their work is."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask.typing import ResponseReturnValue

from app.console.signin import console_login_required

bp = Blueprint("home", __name__)


@bp.get("/")
@console_login_required()
def index() -> ResponseReturnValue:
    """Home: a greeting and the pages of the person's role (the menu's entries, as tiles)."""
    return render_template("console/home.html", path=request.path)
