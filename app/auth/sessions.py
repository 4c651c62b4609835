"""A user's own sign-ins: which are live, on what device, from which network; end one or all the others.

Ending a sign-in does what logout does (its refresh and access tokens stop working at once; its event streams end
at their next sign-in check) and also stops pushes to the phone that sign-in registered: a lost phone must stop
showing notices, not only stop opening the app.
"""

from __future__ import annotations

import ipaddress
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.audit import service as audit
from app.audit.service import Actor
from app.auth.models import AuthSession, RevokeReason
from app.auth.service import revoke_user_sessions
from app.common import clock
from app.config import Settings
from app.devices.models import Device, Platform
from app.errors import NotFound
from app.i18n import _
from app.users.models import User

# A person has a handful of sign-ins; past this many the list answers the most recently used, and "end all others"
# reaches the rest.
MAX_LISTED = 50


@dataclass(frozen=True)
class SignedInDevice:
    device_id: str
    platform: Platform
    app_version: str
    os_version: str


@dataclass(frozen=True)
class SignIn:
    id: uuid.UUID
    current: bool
    signed_in_at: datetime
    last_seen_at: datetime
    network: str | None
    user_agent: str | None
    device: SignedInDevice | None


@dataclass(frozen=True)
class SignIns:
    items: list[SignIn]
    has_more: bool


def list_sessions(session: Session, *, user: User, current: uuid.UUID, settings: Settings) -> SignIns:
    """The user's live sign-ins, most recently used first, this one marked."""
    last_refresh = func.coalesce(AuthSession.last_refreshed_at, AuthSession.created_at)
    rows = session.execute(
        select(AuthSession, Device)
        .outerjoin(Device, (Device.auth_session_id == AuthSession.id) & (Device.user_id == AuthSession.user_id))
        .where(
            AuthSession.user_id == user.id,
            AuthSession.revoked_at.is_(None),
            # Unused for a refresh token's lifetime: no token of it can work any more.
            last_refresh >= clock.utcnow() - settings.refresh_token_ttl,
        )
        .order_by(last_refresh.desc(), AuthSession.id)
        .limit(MAX_LISTED + 1)
    ).all()
    items: dict[uuid.UUID, SignIn] = {}
    for auth_session, device in rows[:MAX_LISTED]:
        # One device row per install: two rows here would be one sign-in that registered two installs.
        items.setdefault(auth_session.id, _sign_in(auth_session, device, current))
    return SignIns(items=list(items.values()), has_more=len(rows) > MAX_LISTED)


def revoke_session(session: Session, session_id: str, *, user: User, actor: Actor) -> None:
    """End one of the user's sign-ins (this one included); ending an ended one changes nothing."""
    try:
        auth_session = session.get(AuthSession, uuid.UUID(session_id))
    except ValueError:
        auth_session = None
    if auth_session is None or auth_session.user_id != user.id:
        raise NotFound(_("You have no sign-in %(session_id)s.", session_id=session_id))
    if auth_session.is_revoked:
        return
    auth_session.revoked_at = clock.utcnow()
    auth_session.revoke_reason = RevokeReason.ENDED_ELSEWHERE
    _stop_pushes(session, user, [auth_session.id])
    audit.record(
        session, action="auth.session_revoked", actor=actor, target=user, details={"session_id": str(auth_session.id)}
    )


def revoke_other_sessions(session: Session, *, user: User, keep: uuid.UUID, actor: Actor) -> int:
    """End every sign-in of the user but `keep` (the caller's); returns how many ended."""
    live = list(
        session.scalars(
            select(AuthSession.id).where(
                AuthSession.user_id == user.id, AuthSession.revoked_at.is_(None), AuthSession.id != keep
            )
        )
    )
    ended = revoke_user_sessions(session, user, reason=RevokeReason.ENDED_ELSEWHERE, keep=keep)
    _stop_pushes(session, user, live)
    audit.record(session, action="auth.other_sessions_revoked", actor=actor, target=user, details={"ended": ended})
    return ended


def _stop_pushes(session: Session, user: User, session_ids: list[uuid.UUID]) -> None:
    """Unregister the devices these sign-ins registered, as signing out of them would."""
    if session_ids:
        session.execute(
            update(Device)
            .where(Device.user_id == user.id, Device.auth_session_id.in_(session_ids), Device.removed_at.is_(None))
            .values(removed_at=clock.utcnow())
            .execution_options(synchronize_session=False)
        )


def _sign_in(auth_session: AuthSession, device: Device | None, current: uuid.UUID) -> SignIn:
    seen = [auth_session.created_at, auth_session.last_refreshed_at, device.last_seen_at if device else None]
    return SignIn(
        id=auth_session.id,
        current=auth_session.id == current,
        signed_in_at=auth_session.created_at,
        last_seen_at=max(moment for moment in seen if moment is not None),
        network=network_of(auth_session.last_client_addr or auth_session.client_addr),
        user_agent=auth_session.user_agent,
        device=SignedInDevice(device.device_id, device.platform, device.app_version, device.os_version)
        if device is not None
        else None,
    )


def network_of(address: str | None) -> str | None:
    """The /24 (IPv4) or /48 (IPv6) network an address is in: where a sign-in is, without who exactly."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return None
    return str(ipaddress.ip_network(f"{ip}/{24 if ip.version == 4 else 48}", strict=False))
