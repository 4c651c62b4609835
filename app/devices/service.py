"""The device registry: which phones a user's pushes go to, and through which provider."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BindParameter, ColumnElement, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.common import clock
from app.common.pagination import Page, paginate
from app.devices.errors import DeviceRegisteredElsewhere
from app.devices.models import (
    REASON_MAX_LENGTH,
    STALE_AFTER,
    TOKEN_MAX_LENGTH,
    ApnsEnvironment,
    Device,
    Platform,
    PushProvider,
)
from app.errors import InvalidInput, NotFound
from app.i18n import _
from app.users.models import User

DEVICE_ID = re.compile(r"[A-Za-z0-9._:-]{8,64}")
# Today's APNs tokens are 32 bytes (64 hex digits), but Apple documents them as variable
# length and once announced 100-byte tokens; refusing longer ones would silence new phones.
APNS_TOKEN = re.compile(r"(?:[0-9a-f]{2}){32,100}")
# FCM, Huawei and JPush publish no token format; they are all visible ASCII without spaces.
OTHER_TOKEN = re.compile(rf"[\x21-\x7e]{{8,{TOKEN_MAX_LENGTH}}}")

# APNs reaches only Apple devices; HarmonyOS NEXT has no Google services, so no FCM.
PROVIDER_PLATFORMS = {
    PushProvider.APNS: frozenset({Platform.IOS}),
    PushProvider.FCM: frozenset({Platform.ANDROID, Platform.IOS}),
    PushProvider.HUAWEI: frozenset({Platform.ANDROID, Platform.HARMONY}),
    PushProvider.JPUSH: frozenset({Platform.IOS, Platform.ANDROID, Platform.HARMONY}),
}


@dataclass(frozen=True)
class Registration:
    device: Device
    # True when the caller had no live registration of this device before (new, signed out, or another user's).
    created: bool


def find_device(session: Session, device_id: str) -> Device | None:
    return session.scalar(select(Device).where(Device.device_id == device_id))


def register_device(
    session: Session,
    device_id: str,
    *,
    user: User,
    platform: Platform,
    provider: PushProvider,
    token: str,
    app_version: str,
    os_version: str,
    push_permission: bool,
    apns_environment: ApnsEnvironment | None = None,
    bundle_id: str | None = None,
    locale: str | None = None,
    auth_session_id: uuid.UUID | None = None,
) -> Registration:
    """Register a device to `user` or refresh its registration; its token leaves any other holder.

    A device id another user registered moves to `user` only with that registration's push token: the phone
    handed to a colleague who signs in proves it is in their hands by the token only it can read. An id alone
    (guessed, or read off a log) would otherwise re-point someone's notices to the caller's token.
    """
    token = _checked_token(
        device_id,
        platform=platform,
        provider=provider,
        token=token,
        apns_environment=apns_environment,
        bundle_id=bundle_id,
    )
    fields: dict[str, Any] = {
        "platform": platform,
        "provider": provider,
        "token": token,
        "app_version": app_version,
        "os_version": os_version,
        "push_permission": push_permission,
        "apns_environment": apns_environment,
        "bundle_id": bundle_id,
        "locale": locale,
        # The sign-in registering it now: its list of sessions shows this phone, and ending it stops these pushes.
        "auth_session_id": auth_session_id,
    }
    now = clock.utcnow()
    device = _lock_device(session, device_id)
    _may_take(device, user=user, provider=provider, token=token)
    _release_token(session, provider, token, keep=device_id, now=now)
    if device is None:
        new = Device(device_id=device_id, user_id=user.id, created_at=now, token_updated_at=now, last_seen_at=now)
        try:
            with session.begin_nested():
                session.add(_assign(new, fields))
            return Registration(device=new, created=True)
        except IntegrityError:
            # The app's launch and its token callback may register a new install at the same
            # moment; the loser of that race updates the winner's row instead.
            device = _lock_device(session, device_id)
            if device is None:
                raise
            _may_take(device, user=user, provider=provider, token=token)

    created = device.removed_at is not None or device.user_id != user.id
    old_address = (device.provider, device.token, device.apns_environment, device.bundle_id)
    if old_address[:2] != (provider, token):
        device.token_updated_at = now
    if old_address != (provider, token, apns_environment, bundle_id):
        # A new address deserves a new try: "BadDeviceToken" may have meant a sandbox
        # token sent to production, "DeviceTokenNotForTopic" a wrong bundle id.
        device.invalidated_at = None
        device.invalid_reason = None
    _assign(device, fields)
    device.user_id = user.id
    device.removed_at = None
    device.last_seen_at = now
    session.flush()
    return Registration(device=device, created=created)


def unregister_device(session: Session, device_id: str, *, user: User) -> None:
    """Stop pushes to a device when its user signs out; the row stays for the delivery history."""
    device = _lock_device(session, device_id)
    if device is None or device.user_id != user.id:
        raise NotFound(_("No device %(device_id)s is registered to you.", device_id=device_id))
    # A logout retried after a lost response finds the row removed already; that is success.
    if device.removed_at is None:
        device.removed_at = clock.utcnow()


def list_devices(session: Session, *, user: User, cursor: int | None = None, limit: int) -> Page[Device]:
    """A user's registered devices, newest first."""
    statement = select(Device).where(Device.user_id == user.id, Device.removed_at.is_(None))
    return paginate(session, statement, key=Device.id, cursor=cursor, limit=limit)


def active_devices(session: Session, *user_ids: int) -> list[Device]:
    """The devices a push to these users should go to now: registered, permitted, valid and not stale."""
    return list(
        session.scalars(
            select(Device)
            # A user disabled since the notice was written (a reminder minutes later) gets no more pushes.
            .join(User, User.id == Device.user_id)
            .where(User.is_active.is_(True), Device.user_id.in_(user_ids), *deliverable(seen_since(clock.utcnow())))
            .order_by(Device.id)
        )
    )


def deliverable(since: datetime | BindParameter[datetime]) -> tuple[ColumnElement[bool], ...]:
    """What makes a device worth a push, its user aside: seen `since` (`seen_since(now)`, or a bind parameter
    for a statement built once). The Python twin is Device.is_active."""
    return (
        Device.removed_at.is_(None),
        Device.invalidated_at.is_(None),
        Device.push_permission.is_(True),
        Device.last_seen_at >= since,
    )


def seen_since(now: datetime) -> datetime:
    """The oldest last-seen time of a device still worth a push at `now`."""
    return now - STALE_AFTER


def invalidate_token(session: Session, device: Device | int, *, reason: str, token: str | None = None) -> Device:
    """Mark a device's token dead after its provider said so (`device` is a row or its primary key).

    Pass the `token` the push was sent to: if the app has registered a new one since, the new
    token is kept and nothing changes. The first report wins; later ones keep its reason.
    """
    device_pk = device if isinstance(device, int) else device.id
    # Lock and re-read, so a registration committing a new token meanwhile is seen, not overwritten.
    locked = session.scalar(
        select(Device).where(Device.id == device_pk).with_for_update().execution_options(populate_existing=True)
    )
    if locked is None:
        raise NotFound(_("Device %(device_pk)s does not exist.", device_pk=device_pk))
    if token is not None and token != locked.token:
        return locked
    if locked.invalidated_at is None:
        locked.invalidated_at = clock.utcnow()
        locked.invalid_reason = reason[:REASON_MAX_LENGTH]
    return locked


def _checked_token(
    device_id: str,
    *,
    platform: Platform,
    provider: PushProvider,
    token: str,
    apns_environment: ApnsEnvironment | None,
    bundle_id: str | None,
) -> str:
    """The token in its stored form, or every problem with the registration at once."""
    path: dict[str, list[str]] = {}
    body: dict[str, list[str]] = {}
    if not DEVICE_ID.fullmatch(device_id):
        path["device_id"] = ["8-64 characters: letters, digits, '.', '_', ':' or '-'."]
    if platform not in PROVIDER_PLATFORMS[provider]:
        body["provider"] = [f"{provider.value} does not deliver to {platform.value} devices."]
    if provider is PushProvider.APNS:
        # Apps print the token in either case; one spelling keeps the uniqueness check honest.
        token = token.lower()
        if not APNS_TOKEN.fullmatch(token):
            body["token"] = ["An APNs device token is hexadecimal: 64 digits today, at most 200."]
        if apns_environment is None:
            body["apns_environment"] = ["Required for APNs: sandbox or production."]
        if bundle_id is None:
            body["bundle_id"] = ["Required for APNs: it is the push topic."]
    else:
        if not OTHER_TOKEN.fullmatch(token):
            body["token"] = [f"8-{TOKEN_MAX_LENGTH} visible ASCII characters without spaces."]
        if apns_environment is not None:
            body["apns_environment"] = ["Only for APNs; leave it out."]
    errors = {location: messages for location, messages in (("path", path), ("json", body)) if messages}
    if errors:
        raise InvalidInput(_("The device registration is not valid; see errors."), errors=errors)
    return token


def _may_take(device: Device | None, *, user: User, provider: PushProvider, token: str) -> None:
    """Refuse another user's device id unless the caller shows the push token it is registered with."""
    if device is not None and device.user_id != user.id and (device.provider, device.token) != (provider, token):
        raise DeviceRegisteredElsewhere(
            _(
                "Device %(device_id)s is registered to another user; register it with its own push token, or "
                "generate a new install id.",
                device_id=device.device_id,
            )
        )


def _lock_device(session: Session, device_id: str) -> Device | None:
    return session.scalar(
        select(Device).where(Device.device_id == device_id).with_for_update().execution_options(populate_existing=True)
    )


def _release_token(session: Session, provider: PushProvider, token: str, *, keep: str, now: datetime) -> None:
    """Remove every other device's live registration of this token: it now reaches `keep` only."""
    # By device_id, not row: a concurrent first registration of `keep` may commit its row meanwhile.
    holders = select(Device).where(
        Device.provider == provider, Device.token == token, Device.removed_at.is_(None), Device.device_id != keep
    )
    for holder in session.scalars(holders.with_for_update()):
        # A reinstall or a phone handed to a colleague: the old registration must not get their pushes.
        holder.removed_at = now
    # Before the new holder's row is written, or the live-token unique index would see two.
    session.flush()


def _assign(device: Device, fields: dict[str, Any]) -> Device:
    for name, value in fields.items():
        setattr(device, name, value)
    return device
