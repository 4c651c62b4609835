"""The console's blueprint and its wiring: the cookie, CSRF, the language, the error pages, the list of pages."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, Flask, g, redirect, render_template, request, session
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException

from app.config import Settings
from app.console import signin
from app.console.navigation import navigation
from app.errors import DomainError
from app.i18n import LOCALES, _, _l, request_locale
from app.users.models import Role

# People see times in the park's zone (STYLE.md: stored in UTC, shown in Asia/Shanghai).
PARK_ZONE = ZoneInfo("Asia/Shanghai")
ROLE_LABELS = {
    Role.DECLARANT: _l("Declarant"),
    Role.WAREHOUSE_OPERATOR: _l("Warehouse operator"),
    Role.CUSTOMS_OFFICER: _l("Customs officer"),
    Role.GATE_OPERATOR: _l("Gate operator"),
    Role.ADMIN: _l("Admin"),
    Role.CUSTOMS_GATEWAY: _l("Customs gateway (system)"),
    Role.VIDEO_ANALYTICS: _l("Video analytics (system)"),
    Role.XRAY_LINE: _l("X-ray line (system)"),
}

console = Blueprint(
    "console",
    __name__,
    url_prefix="/console",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)
csrf = CSRFProtect()


def _register_pages() -> None:
    """Every page module's blueprint, nested under /console (so the hooks below run for each of them)."""
    from app.console import (
        account,
        audit,
        dashboards,
        enterprises,
        gate,
        gates_admin,
        home,
        inspection_desk,
        officer,
        receipts,
        referrals,
        rules,
        users,
        vendor,
    )

    pages = (
        *(account, home, users, enterprises, rules, audit, gates_admin, receipts),
        *(officer, inspection_desk, referrals, gate, dashboards, vendor),
    )
    for page in (module.bp for module in pages):
        console.register_blueprint(page)


_register_pages()


def init_app(app: Flask, settings: Settings) -> None:
    """Serve the console (only where tokens can be issued: the secret keys both)."""
    if settings.jwt_secret is None:
        return
    app.config.update(
        # Its own key, derived: the signing key of the API's tokens never signs anything else.
        SECRET_KEY=hmac.new(settings.jwt_secret.encode(), b"smart-park console cookie", hashlib.sha256).hexdigest(),
        SESSION_COOKIE_NAME="park_console",
        SESSION_COOKIE_PATH="/console",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        # Checked by the console's hook below, on its own forms only; the API's writes carry tokens, not cookies.
        WTF_CSRF_CHECK_DEFAULT=False,
        # A form stays good as long as its sign-in; the idle timeout ends both.
        WTF_CSRF_TIME_LIMIT=None,
    )
    app.session_interface = signin.ConsoleCookie(settings.console_cookie_secure)
    csrf.init_app(app)
    app.register_blueprint(console)


@console.before_request
def _before() -> None:
    lang = session.get("lang")
    if lang in LOCALES:
        g.locale = lang
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        csrf.protect()


@console.after_request
def _no_store(response):  # type: ignore[no-untyped-def]
    # Pages show people's data: never kept by a shared machine's cache or shown again by Back after sign-out.
    if response.mimetype == "text/html":
        response.headers["Cache-Control"] = "no-store"
    return response


@console.context_processor
def _layout() -> dict[str, object]:
    user = signin.console_user()
    return {
        "console_user": user,
        "navigation": navigation(user),
        "locale": request_locale(),
        "role_label": lambda role: ROLE_LABELS.get(role, role.value),
    }


@console.app_template_filter("console_time")
def _console_time(moment: datetime) -> str:
    return moment.astimezone(PARK_ZONE).strftime("%Y-%m-%d %H:%M:%S")


@console.app_template_filter("reject_keys")
def _reject_keys(mapping: dict[str, object], *keys: str) -> dict[str, object]:
    return {key: value for key, value in mapping.items() if key not in keys}


@console.route("/language", methods=["POST"])
def language() -> ResponseReturnValue:
    """Switch the console's language (kept in the cookie, for this browser), then back to the page."""
    chosen = request.form.get("lang")
    if chosen in LOCALES:
        session["lang"] = chosen
    return redirect(signin.safe_next(request.form.get("next")))


@console.errorhandler(CSRFError)
def _csrf_failed(error: CSRFError) -> ResponseReturnValue:
    message = _("The form has expired or did not come from this console. Reload the page and try again.")
    return render_template("console/error.html", status=400, title=_("Form refused"), message=message), 400


@console.errorhandler(DomainError)
def _domain_error(error: DomainError) -> ResponseReturnValue:
    return render_template("console/error.html", status=error.status, title=str(error.title), message=error.detail), (
        error.status
    )


@console.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> ResponseReturnValue:
    titles = {403: _("Not for your role"), 404: _("Not found"), 405: _("Not allowed")}
    messages = {
        403: _("Your role may not open this page."),
        404: _("There is no such page in the console."),
    }
    status = error.code or 500
    title = titles.get(status, error.name)
    return render_template(
        "console/error.html", status=status, title=title, message=messages.get(status, error.description)
    ), status
