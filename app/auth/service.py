"""Signing in, rotating refresh tokens, and ending sessions."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NoReturn

from sqlalchemy import Select, bindparam, delete, select, update
from sqlalchemy.orm import Session, joinedload

from app.audit import service as audit
from app.audit.service import Actor
from app.auth import api_keys, passwords, tokens
from app.auth.errors import (
    AccountDisabled,
    InvalidCredentials,
    RefreshTokenInvalid,
    RefreshTokenReused,
    SessionRevoked,
    SignInIdle,
)
from app.auth.models import AuthSession, RefreshToken, RevokeReason
from app.auth.throttle import LoginThrottle
from app.common import clock
from app.config import Settings
from app.i18n import _, _l
from app.infra.statements import cached_statement
from app.users.models import MACHINE_ROLES, User

# One message for every failure, so a caller cannot tell which usernames exist or are locked.
_LOGIN_FAILED = _l("Invalid username or password.")


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    password_change_required: bool
    token_type: str = "Bearer"


@dataclass(frozen=True)
class PasswordCheck:
    """What a sign-in's password check found, before anything is written."""

    username: str
    user_id: int | None
    password_hash: str | None
    matched: bool


def check_password(
    session: Session,
    *,
    username: str,
    password: str,
    client_addr: str | None,
    settings: Settings,
    throttle: LoginThrottle,
) -> PasswordCheck:
    """Throttle, then check the password, in a read: the slow hash must not hold SQLite's one write lock."""
    name = username.strip().lower()
    throttle.check(name, client_addr, known_address=lambda: _signed_in_from(session, name, client_addr, settings))
    user = session.scalar(select(User).where(User.username == name))
    if user is None:
        passwords.spend_verification_time(password)
        return PasswordCheck(name, None, None, matched=False)
    return PasswordCheck(name, user.id, user.password_hash, passwords.verify_password(user.password_hash, password))


def login(
    session: Session,
    *,
    checked: PasswordCheck,
    username: str,
    password: str,
    client_addr: str | None,
    user_agent: str | None,
    settings: Settings,
    throttle: LoginThrottle,
) -> TokenPair:
    """Open a new session for a password `check_password` found right (never a lockout: failures are throttled)."""
    user = admit(
        session, checked=checked, username=username, password=password, client_addr=client_addr, throttle=throttle
    )
    return open_session(session, user, client_addr=client_addr, user_agent=user_agent, settings=settings)


def admit(
    session: Session,
    *,
    checked: PasswordCheck,
    username: str,
    password: str,
    client_addr: str | None,
    throttle: LoginThrottle,
    channel: str | None = None,
) -> User:
    """The user a password `check_password` found right may sign in as (audited), or InvalidCredentials.

    The API's sign-in and the console's both pass here, so both refuse and throttle alike; `channel` names the
    one that is not the API ("console") in the audit entry.
    """
    now = clock.utcnow()
    user = session.get(User, checked.user_id) if checked.user_id is not None else None
    if user is None:
        throttle.failed(checked.username, client_addr)
        _login_failed(session, None, client_addr, reason="unknown_user", username=username)
    # A password changed between the check and now is checked again, against the hash in force.
    matched = (
        checked.matched
        if user.password_hash == checked.password_hash
        else passwords.verify_password(user.password_hash, password)
    )
    if not matched:
        throttle.failed(checked.username, client_addr)
        _login_failed(session, user, client_addr, reason="bad_password")
    if not user.may_sign_in:
        _login_failed(session, user, client_addr, reason="account_disabled")
    if user.role in MACHINE_ROLES and (channel is not None or api_keys.has_active_key(session, user)):
        # Once a system has its key, its password opens nothing: there is no password to guess or leak. No system
        # works at a desk, so none signs in to the console.
        _login_failed(session, user, client_addr, reason="machine_account_uses_api_key")

    user.last_login_at = now
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    details = {"channel": channel} if channel is not None else None
    audit.record(session, action="auth.login", actor=Actor(user, client_addr), target=user, details=details)
    return user


def _signed_in_from(session: Session, username: str, client_addr: str | None, settings: Settings) -> bool:
    """Whether this account opened a sign-in from this address lately (an address its owner uses)."""
    if client_addr is None:
        return False
    since = clock.utcnow() - settings.known_address_ttl
    return bool(
        session.scalar(
            select(AuthSession.id)
            .join(User, User.id == AuthSession.user_id)
            .where(User.username == username, AuthSession.client_addr == client_addr, AuthSession.created_at >= since)
            .limit(1)
        )
    )


def open_session(
    session: Session, user: User, *, client_addr: str | None, user_agent: str | None, settings: Settings
) -> TokenPair:
    """Start a new token family for an authenticated user."""
    auth_session = start_sign_in(session, user, client_addr=client_addr, user_agent=user_agent)
    return _issue_pair(session, auth_session, settings)


def start_sign_in(session: Session, user: User, *, client_addr: str | None, user_agent: str | None) -> AuthSession:
    """Record a new sign-in of an authenticated user (a token family, or a console's cookie)."""
    auth_session = AuthSession(
        user=user,
        client_addr=client_addr,
        last_client_addr=client_addr,
        user_agent=(user_agent or "")[:200] or None,
    )
    session.add(auth_session)
    session.flush()
    return auth_session


def _login_failed(
    session: Session, user: User | None, client_addr: str | None, *, reason: str, username: str | None = None
) -> NoReturn:
    details: dict[str, str] = {"reason": reason}
    if username is not None:
        details["username"] = username[:64]
    audit.record(session, action="auth.login_failed", actor=Actor(None, client_addr), target=user, details=details)
    raise InvalidCredentials(_LOGIN_FAILED)


def refresh(session: Session, *, refresh_token: str, client_addr: str | None, settings: Settings) -> TokenPair:
    """Exchange a refresh token for a new pair; a replayed one ends its whole family."""
    now = clock.utcnow()
    token = session.scalar(
        select(RefreshToken).where(RefreshToken.token_hash == tokens.hash_refresh_token(refresh_token))
    )
    if token is None:
        raise RefreshTokenInvalid(_("The refresh token is not recognised."))
    auth_session = token.session
    if auth_session.is_revoked:
        raise SessionRevoked(_("This sign-in has ended; sign in again."))
    # Claim the token atomically: of two concurrent exchanges, exactly one wins the update.
    claimed = session.execute(
        update(RefreshToken)
        .where(RefreshToken.id == token.id, RefreshToken.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not claimed:
        _revoke(auth_session, RevokeReason.REFRESH_TOKEN_REUSED)
        audit.record(
            session,
            action="auth.refresh_token_reused",
            actor=Actor(None, client_addr),
            target=auth_session.user,
            details={"session_id": str(auth_session.id)},
        )
        raise RefreshTokenReused(_("This refresh token was already used; the sign-in has been ended for safety."))
    if token.expires_at <= now:
        raise RefreshTokenInvalid(_("The refresh token has expired; sign in again."))
    if not auth_session.user.may_sign_in:
        raise AccountDisabled(_("This account is disabled."))
    auth_session.last_refreshed_at = now
    auth_session.last_client_addr = client_addr
    return _issue_pair(session, auth_session, settings)


def _issue_pair(session: Session, auth_session: AuthSession, settings: Settings) -> TokenPair:
    now = clock.utcnow()
    refresh_token = tokens.new_refresh_token()
    session.add(
        RefreshToken(
            session_id=auth_session.id,
            token_hash=tokens.hash_refresh_token(refresh_token),
            issued_at=now,
            expires_at=now + settings.refresh_token_ttl,
        )
    )
    user = auth_session.user
    access_token = tokens.encode_access_token(
        settings,
        user_id=user.id,
        session_id=auth_session.id,
        role=user.role.value,
        enterprise_id=user.enterprise_id,
        now=now,
    )
    return TokenPair(
        access_token=access_token,
        refresh_token=refresh_token,
        expires_in=int(settings.access_token_ttl.total_seconds()),
        password_change_required=user.must_change_password,
    )


def authenticate(session: Session, *, token: str, settings: Settings) -> tuple[User, uuid.UUID]:
    """The user behind an access token, re-checked against the database on every request.

    The token alone cannot say that its session was logged out or its user deactivated a
    minute ago; one indexed lookup per request buys "stops working at once".
    """
    claims = tokens.decode_access_token(settings, token)
    return signed_in_user(session, session_id=claims.session_id, user_id=claims.user_id), claims.session_id


def signed_in_user(session: Session, *, session_id: uuid.UUID, user_id: int | None = None) -> User:
    """The user of a sign-in that is still live (not logged out, user and enterprise active)."""
    if user_id is None:
        row = session.execute(_signed_in(), {"session_id": session_id}).first()
    else:
        row = session.execute(_signed_in_as(), {"session_id": session_id, "user_id": user_id}).first()
    if row is None:
        raise SessionRevoked(_("This sign-in is not known; sign in again."))
    user, revoked_at = row
    if revoked_at is not None:
        raise SessionRevoked(_("This sign-in has ended; sign in again."))
    if not user.may_sign_in:
        raise AccountDisabled(_("This account is disabled."))
    return user


# Every authenticated request runs this statement: built once, it costs 40% less than built per request.
@cached_statement
def _signed_in() -> Select[tuple[User, object]]:
    return (
        select(User, AuthSession.revoked_at)
        .join(AuthSession, AuthSession.user_id == User.id)
        .where(AuthSession.id == bindparam("session_id"))
    )


@cached_statement
def _signed_in_as() -> Select[tuple[User, object]]:
    return _signed_in().where(User.id == bindparam("user_id"))


def resume_sign_in(session: Session, *, session_id: uuid.UUID, idle: timedelta) -> AuthSession:
    """A live sign-in used within `idle` (the console's cookie names one), its user still able to sign in.

    Raises SessionRevoked for an ended or unknown one, SignInIdle for one unused longer (end it with
    `record_use(..., idle=True)`), AccountDisabled when its user may no longer sign in.
    """
    auth_session = session.scalar(
        select(AuthSession).options(joinedload(AuthSession.user)).where(AuthSession.id == session_id)
    )
    if auth_session is None or auth_session.is_revoked:
        raise SessionRevoked("This sign-in has ended; sign in again.")
    if clock.utcnow() - last_used(auth_session) > idle:
        raise SignInIdle("This sign-in was idle too long; sign in again.")
    if not auth_session.user.may_sign_in:
        raise AccountDisabled("This account is disabled.")
    return auth_session


def last_used(auth_session: AuthSession) -> datetime:
    """When a sign-in was last used: its last refresh, or for a console's its last page (recorded each minute)."""
    return auth_session.last_refreshed_at or auth_session.created_at


def record_use(session: Session, *, session_id: uuid.UUID, client_addr: str | None, idle: bool = False) -> None:
    """Note that a sign-in was used now, or (`idle`) end it for having been idle too long."""
    now = clock.utcnow()
    values: dict[str, object] = (
        {"revoked_at": now, "revoke_reason": RevokeReason.IDLE}
        if idle
        else {"last_refreshed_at": now, "last_client_addr": client_addr}
    )
    session.execute(
        update(AuthSession)
        .where(AuthSession.id == session_id, AuthSession.revoked_at.is_(None))
        .values(**values)
        .execution_options(synchronize_session=False)
    )


def logout(session: Session, *, session_id: uuid.UUID, actor: Actor) -> None:
    """End one sign-in: its refresh tokens and access tokens stop working."""
    auth_session = session.get(AuthSession, session_id)
    if auth_session is not None and not auth_session.is_revoked:
        _revoke(auth_session, RevokeReason.LOGOUT)
        audit.record(session, action="auth.logout", actor=actor, target=actor.user)


def revoke_user_sessions(session: Session, user: User, *, reason: RevokeReason, keep: uuid.UUID | None = None) -> int:
    """End every open sign-in of a user, except `keep` (the caller's own, after a password change)."""
    statement = (
        update(AuthSession)
        .where(AuthSession.user_id == user.id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=clock.utcnow(), revoke_reason=reason)
        .execution_options(synchronize_session=False)
    )
    if keep is not None:
        statement = statement.where(AuthSession.id != keep)
    return session.execute(statement).rowcount


def _revoke(auth_session: AuthSession, reason: RevokeReason) -> None:
    auth_session.revoked_at = clock.utcnow()
    auth_session.revoke_reason = reason


def purge_expired_refresh_tokens(session: Session) -> int:
    """Delete refresh tokens past their expiry; every refresh adds a row, so they pile up.

    An expired token is refused whether or not its row exists, so nothing is lost but the
    distinction between "reused" and "invalid" for tokens older than their lifetime.
    """
    return session.execute(
        delete(RefreshToken)
        .where(RefreshToken.expires_at < clock.utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
