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
from app.auth import service
from app.auth.errors import AuthenticationRequired, PasswordChangeRequired
from app.config import current_settings
from app.errors import PermissionDenied
from app.users.models import Role, User

F = TypeVar("F", bound=Callable[..., Any])


def require_role(*roles: Role, password_change_pending_ok: bool = False) -> Callable[[F], F]:
    """Authenticate the bearer token; with roles given, admit only those roles.

    A user whose password was reset may only reach the views marked
    `password_change_pending_ok` (their profile, the password change, logout).
    """

    def decorator(view: F) -> F:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            user, session_id = authenticate_bearer()
            if user.must_change_password and not password_change_pending_ok:
                raise PasswordChangeRequired("Change your password before using the rest of the API.")
            if roles and user.role not in roles:
                raise PermissionDenied("Your role may not use this endpoint.")
            g.current_user = user
            g.auth_session_id = session_id
            return view(*args, **kwargs)

        documented: dict[str, Any] = {
            "security": [{"bearerAuth": []}],
            "responses": {"401": "UNAUTHORIZED", "403": "FORBIDDEN"},
        }
        if roles:
            documented["x-roles"] = [role.value for role in roles]
        return Blueprint.doc(**documented)(guarded)  # type: ignore[return-value]

    return decorator


def authenticate_bearer() -> tuple[User, uuid.UUID]:
    """The caller of a bearer-token request and their sign-in (views with their own scheme call this)."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationRequired(
            "Send an access token as 'Authorization: Bearer <token>'.",
            headers={"WWW-Authenticate": 'Bearer realm="smart-park"'},
        )
    return service.authenticate(db.session(), token=token.strip(), settings=current_settings())


def current_user() -> User:
    return g.current_user


def current_session_id() -> uuid.UUID:
    return g.auth_session_id


def current_actor() -> Actor:
    return Actor(user=g.get("current_user"), client_addr=client_address())


def client_address() -> str | None:
    # ProxyFix (configured from TRUSTED_PROXY_COUNT) has already applied X-Forwarded-For.
    return request.remote_addr
