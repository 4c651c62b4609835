"""Who is at the console: the cookie, the sign-in it names, the idle timeout, and the guard for pages.

The cookie (`park_console`: HttpOnly, SameSite=Strict, path /console, Secure over HTTPS or as CONSOLE_COOKIE_SECURE
says) is Flask's signed session. It holds no credential of its own: only the id of a row in `auth_sessions`, the same
table the API's sign-ins live in, so "sign out everywhere", a password change or reset, a disabled account and an
admin's revocation end a console sign-in exactly as they end a phone's. Signed with a key derived from JWT_SECRET,
the id cannot be forged or swapped; a leaked database alone opens nothing.

Each page checks the row (one indexed read) and records its use at most once a minute (a write apart from the page's
own transaction, as API keys' last use is): a sign-in unused for CONSOLE_IDLE_MINUTES is ended (revoke reason `idle`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any, TypeVar

from flask import Flask, Request, abort, flash, g, redirect, request, session, url_for
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import generate_csrf

from app import db
from app.auth import service as auth
from app.auth.errors import AccountDisabled, SessionRevoked, SignInIdle
from app.auth.models import AuthSession
from app.common import clock
from app.config import current_settings
from app.i18n import _
from app.users.models import Role, User

F = TypeVar("F", bound=Callable[..., Any])
PREFIX = "/console"
# How stale the recorded last use may get before a page writes it again: one write a minute per desk, not per page.
RECORD_USE_EVERY = timedelta(minutes=1)


class ConsoleCookie(SecureCookieSessionInterface):
    """Flask's signed cookie session, opened only under /console: the API's requests never parse or set it.

    Elsewhere a request gets Flask's null session, as it did before the console had a key: nothing is read or
    written for it (Flask skips saving a null session), and a write to it fails loudly instead of setting a cookie.
    """

    def __init__(self, secure: bool | None) -> None:
        self.secure = secure

    def open_session(self, app: Flask, request: Request):  # type: ignore[no-untyped-def]
        if not request.path.startswith(PREFIX):
            return self.make_null_session(app)
        return super().open_session(app, request)

    def get_cookie_secure(self, app: Flask) -> bool:
        # None: Secure when this request came over HTTPS (ProxyFix has read X-Forwarded-Proto behind nginx).
        return request.is_secure if self.secure is None else self.secure


def console_user() -> User | None:
    """The signed-in person at the console, or None (the sign-in ended, idled, or never was); once per request."""
    if "console_user" in g:
        return g.console_user
    g.console_user = None
    raw = session.get("sid")
    if raw is None:
        return None
    try:
        session_id = uuid.UUID(raw)
        auth_session = auth.resume_sign_in(db.session(), session_id=session_id, idle=current_settings().console_idle)
    except SignInIdle:
        _write(lambda s: auth.record_use(s, session_id=session_id, client_addr=request.remote_addr, idle=True))
        _forget(_("You were signed out after a while without activity. Sign in again."))
        return None
    except (ValueError, SessionRevoked, AccountDisabled):
        _forget(_("Your sign-in has ended. Sign in again."))
        return None
    if clock.utcnow() - auth.last_used(auth_session) >= RECORD_USE_EVERY:
        _write(lambda s: auth.record_use(s, session_id=session_id, client_addr=request.remote_addr))
    user = auth_session.user
    # What the API's guard sets, so current_actor(), current_user() and the user's language work alike.
    g.console_user = g.current_user = user
    g.auth_session_id = session_id
    return user


def console_login_required(*roles: Role, password_change_pending_ok: bool = False) -> Callable[[F], F]:
    """Admit a signed-in person (of one of `roles`, when given) to a console page; send anyone else to sign in.

    A person whose password was reset goes to the change form first, unless the page is marked
    `password_change_pending_ok`. Another role gets 403, rendered as the console's error page.
    """

    def decorator(view: F) -> F:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            user = console_user()
            if user is None:
                wanted = request.full_path.rstrip("?") if request.method == "GET" else None
                return redirect(url_for("console.account.login", next=wanted))
            if user.must_change_password and not password_change_pending_ok:
                return redirect(url_for("console.account.password"))
            if roles and user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return guarded  # type: ignore[return-value]

    return decorator


def begin(auth_session: AuthSession) -> None:
    """Hand the browser a fresh cookie naming this sign-in, with a fresh CSRF token (nothing from before carries)."""
    language = session.get("lang")
    session.clear()
    g.pop("csrf_token", None)
    session["sid"] = str(auth_session.id)
    if language:
        session["lang"] = language
    generate_csrf()


def end() -> None:
    """Forget the sign-in in this browser (the caller ends it in the database)."""
    _forget(None)


def safe_next(target: str | None) -> str:
    """A page of the console to go back to, never another site (`//evil.example` or `https://…`)."""
    if target and target.startswith(PREFIX + "/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("console.home.index")


def _forget(message: str | None) -> None:
    language = session.get("lang")
    session.clear()
    g.pop("csrf_token", None)
    if language:
        session["lang"] = language
    if message:
        flash(message, "warning")


def _write(work: Callable[[Any], None]) -> None:
    """Record on a session of its own for a read (whose own transaction takes no write lock), in the request's
    transaction otherwise."""
    if request.method in db.SAFE_METHODS:
        # End the read first: nothing is lost (a read wrote nothing; its objects reload when next used), and no
        # snapshot of it is held open across the write.
        db.session().rollback()
        with db.session_factory().begin() as own:
            work(own)
    else:
        with db.transaction() as own:
            work(own)
