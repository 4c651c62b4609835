"""Signing in and out of the console, and the password change a reset password forces first."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from app import db
from app.auth import service as auth
from app.auth import users
from app.auth.errors import InvalidCredentials, LoginThrottled
from app.auth.guards import client_address, current_actor, current_session_id, current_user
from app.auth.throttle import LoginThrottle
from app.config import current_settings
from app.console import signin
from app.console.forms import field_errors
from app.errors import InvalidInput
from app.i18n import _
from app.infra.ratelimit import limiter, per_client

bp = Blueprint("account", __name__)


@bp.get("/login")
def login() -> ResponseReturnValue:
    """The sign-in form (a signed-in person goes on to the console)."""
    if signin.console_user() is not None:
        return redirect(signin.safe_next(request.args.get("next")))
    return render_template("console/login.html", next=request.args.get("next", ""), username="")


# The API's sign-in budget per address, spent by either door: a guesser gains nothing by switching.
@bp.post("/login")
@per_client("LOGIN_RATE_LIMIT", scope="login")
def sign_in() -> ResponseReturnValue:
    """Check the password as the API does (same throttle, same audit), then start a sign-in held by the cookie."""
    username, password = request.form.get("username", "").strip(), request.form.get("password", "")
    wanted = request.form.get("next", "")
    if not username or not password or len(username) > 64 or len(password) > 1024:
        return _refused(_("Enter your username and password."), username, wanted, 400)
    settings, client_addr = current_settings(), client_address()
    throttle = LoginThrottle(
        limiter(),
        per_address=current_app.config["LOGIN_FAILURE_LIMIT"],
        per_account=current_app.config["LOGIN_ACCOUNT_FAILURE_LIMIT"],
    )
    try:
        with db.reading(db.session_factory()) as reading:
            checked = auth.check_password(
                reading,
                username=username,
                password=password,
                client_addr=client_addr,
                settings=settings,
                throttle=throttle,
            )
        with db.transaction() as session:
            user = auth.admit(
                session,
                checked=checked,
                username=username,
                password=password,
                client_addr=client_addr,
                throttle=throttle,
                channel="console",
            )
            auth_session = auth.start_sign_in(
                session, user, client_addr=client_addr, user_agent=request.user_agent.string
            )
    except LoginThrottled:
        return _refused(_("Too many failed sign-ins for this account; wait a few minutes."), username, wanted, 429)
    except InvalidCredentials:
        return _refused(_("Invalid username or password."), username, wanted, 401)
    signin.begin(auth_session)
    if user.must_change_password:
        return redirect(url_for("console.account.password"))
    return redirect(signin.safe_next(wanted))


def _refused(message: str, username: str, wanted: str, status: int) -> ResponseReturnValue:
    flash(message, "error")
    return render_template("console/login.html", next=wanted, username=username), status


@bp.post("/logout")
def sign_out() -> ResponseReturnValue:
    """End this sign-in (in the database, as the API's logout does) and forget it in the browser."""
    if signin.console_user() is not None:
        with db.transaction() as session:
            auth.logout(session, session_id=current_session_id(), actor=current_actor())
    signin.end()
    flash(_("You have signed out."), "info")
    return redirect(url_for("console.account.login"))


@bp.route("/password", methods=["GET", "POST"])
@signin.console_login_required(password_change_pending_ok=True)
def password() -> ResponseReturnValue:
    """Change one's password: the account's other sign-ins end, this one stays."""
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        try:
            with db.transaction() as session:
                users.change_password(
                    session,
                    current_user(),
                    current_password=request.form.get("current_password", ""),
                    new_password=request.form.get("new_password", ""),
                    keep_session=current_session_id(),
                    actor=current_actor(),
                    settings=current_settings(),
                )
        except InvalidInput as error:
            errors = field_errors(error)
        else:
            flash(_("Your password has been changed."), "info")
            return redirect(url_for("console.home.index"))
    status = 400 if errors else 200
    return render_template("console/password.html", errors=errors), status
