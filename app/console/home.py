"""The console's first page: who is signed in, and where their work is."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask.typing import ResponseReturnValue

from app import db
from app.console.navigation import navigation
from app.console.signin import console_login_required, console_user
from app.customs import backlog

bp = Blueprint("home", __name__)
# Tiles that show how much waits behind them, and how to count it (only for those whose menu has the tile).
WAITING = {"console.receipts.index": backlog.count_backlog}


@bp.get("/")
@console_login_required()
def index() -> ResponseReturnValue:
    """Home: a greeting and the pages of the person's role (the menu's entries, as tiles, with what waits)."""
    shown = [entry.endpoint for entry in navigation(console_user()) if entry.endpoint in WAITING]
    waiting: dict[str, int] = {}
    if shown:
        with db.transaction() as session:
            waiting = {endpoint: WAITING[endpoint](session) for endpoint in shown}
    return render_template("console/home.html", path=request.path, waiting=waiting)
