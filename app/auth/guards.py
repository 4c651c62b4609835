"""Who is calling: bearer-token authentication and coarse role gates for routes."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import g, request
from flask_smorest import Blueprint

from app import db
from app.audit.service import Actor
from app.auth import api_keys, service
from app.auth.errors import AuthenticationRequired, PasswordChangeRequired
from app.config import current_settings
from app.errors import PermissionDenied
from app.i18n import _
from app.infra.context import the_g, the_request
from app.users.models import MACHINE_ROLES, Role, User

F = TypeVar("F", bound=Callable[..., Any])


def require_role(*roles: Role, password_change_pending_ok: bool = False) -> Callable[[F], F]:
    """Authenticate the bearer token; with roles given, admit only those roles.

    A user whose password was reset may only reach the views marked
    `password_change_pending_ok` (their profile, the password change, logout).
    """

    # API keys open the endpoints a machine role may use and those open to every role; a person's own pages
    # (profile, password, sign-out: the ones a pending password change may reach) need a person's sign-in.
    machines_welcome = bool(MACHINE_ROLES.intersection(roles)) or not (roles or password_change_pending_ok)

    def decorator(view: F) -> F:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            user, session_id = authenticate_caller(machines_welcome=machines_welcome)
            if user.must_change_password and not password_change_pending_ok:
                raise PasswordChangeRequired(_("Change your password before using the rest of the API."))
            if roles and user.role not in roles:
                raise PermissionDenied(_("Your role may not use this endpoint."))
            context = the_g()
            context.current_user = user
            context.auth_session_id = session_id
            return view(*args, **kwargs)

        documented: dict[str, Any] = {
            "security": [{"bearerAuth": []}, {"apiKeyAuth": []}] if machines_welcome else [{"bearerAuth": []}],
            "responses": {"401": "UNAUTHORIZED", "403": "FORBIDDEN"},
        }
        if roles:
            documented["x-roles"] = [role.value for role in roles]
        return Blueprint.doc(**documented)(guarded)  # type: ignore[return-value]

    return decorator


def authenticate_caller(*, machines_welcome: bool) -> tuple[User, uuid.UUID | None]:
    """A bearer token's user and sign-in, or (where machines are welcome) an API key's machine account and None."""
    # The headers as request.headers reads them, from the request itself (not through its proxy: the_request).
    current = the_request()
    environ = current.environ
    authorization = environ.get("HTTP_AUTHORIZATION", "")
    scheme, _space, credential = authorization.partition(" ")
    if scheme.lower() == "apikey":
        key = credential.strip()
    elif not authorization and "HTTP_X_API_KEY" in environ:
        key = environ["HTTP_X_API_KEY"].strip()
    else:
        return authenticate_bearer()
    if not machines_welcome:
        raise AuthenticationRequired(
            _("API keys are not accepted here; send 'Authorization: Bearer <token>'."),
            headers={"WWW-Authenticate": 'Bearer realm="smart-park"'},
        )
    session = db.session()
    user, key_to_mark = api_keys.authenticate_api_key(session, key)
    if key_to_mark is not None and current.method in db.SAFE_METHODS:
        # A read's transaction commits nothing (and on SQLite must not take the write lock): record it apart.
        with db.session_factory().begin() as own:
            api_keys.mark_used(own, key_to_mark)
    elif key_to_mark is not None:
        # A write's transaction holds the write lock already (SQLite): record it there, committed with the request.
        api_keys.mark_used(session, key_to_mark)
    return user, None


def authenticate_bearer() -> tuple[User, uuid.UUID]:
    """The caller of a bearer-token request and their sign-in (views with their own scheme call this)."""
    scheme, _space, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationRequired(
            _("Send an access token as 'Authorization: Bearer <token>'."),
            headers={"WWW-Authenticate": 'Bearer realm="smart-park"'},
        )
    return service.authenticate(db.session(), token=token.strip(), settings=current_settings())


def current_user() -> User:
    return the_g().current_user


def current_session_id() -> uuid.UUID:
    """The caller's sign-in; an API key has none, so views that need one refuse it."""
    session_id = g.auth_session_id
    if session_id is None:
        raise AuthenticationRequired(
            _("This endpoint needs a sign-in; send 'Authorization: Bearer <token>', not an API key."),
            headers={"WWW-Authenticate": 'Bearer realm="smart-park"'},
        )
    return session_id


def current_actor() -> Actor:
    return Actor(user=g.get("current_user"), client_addr=client_address())


def client_address() -> str | None:
    # ProxyFix (configured from TRUSTED_PROXY_COUNT) has already applied X-Forwarded-For.
    return request.remote_addr
