"""API keys: how the customs gateway and the camera systems authenticate, instead of a password.

An admin creates a key for a machine account and sees it once; only its SHA-256 is kept. Two keys may be live at a
time, so a key is rotated without downtime: create the new one, deploy it, revoke the old one. Every creation and
revocation is on the audit chain; each key records when it was last used (to the minute, so a busy gateway does not
write on every request).

What a valid key opens is kept for `CACHE_SECONDS` in each process (app/infra/ttl_cache.py), so a machine calling
many times a second (the X-ray line: hundreds of scans a second) costs one lookup every few seconds, not one per
request. A revocation through the admin API stops the key at once in the process that made it; in the others it
stops within `CACHE_SECONDS`, as does an account disabled, locked or moved, or its enterprise deactivated.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import Flask, has_app_context
from sqlalchemy import func, inspect, select, update
from sqlalchemy.orm import Session, make_transient_to_detached

from app.audit import service as audit
from app.audit.service import Actor
from app.auth.errors import AccountDisabled, ApiKeyInvalid, ApiKeyLimitReached, NotAMachineAccount
from app.auth.models import ApiKey
from app.common import clock
from app.common.pagination import Page, paginate
from app.errors import NotFound
from app.i18n import _
from app.infra.context import the_app
from app.infra.ttl_cache import TtlCache
from app.users.models import MACHINE_ROLES, User

KEY_PREFIX = "spk_"
LIVE_KEYS_PER_ACCOUNT = 2  # the old and the new one, while a rotation is under way
LAST_USED_RESOLUTION = timedelta(minutes=1)
# How long a process believes what a valid key opens (see the module docstring).
CACHE_SECONDS = 5.0
_CACHE = "api_key_cache"


@dataclass(frozen=True)
class NewApiKey:
    api_key: ApiKey
    key: str  # shown to the admin once, never stored

    def __getattr__(self, name: str) -> object:
        # Dumped by ApiKeyCreated: the key's columns, and the key itself.
        return getattr(self.api_key, name)


@dataclass
class _Opened:
    """What a valid key was found to open, as the process's cache keeps it."""

    account: User  # a detached copy, never in any session: each request merges its own from it
    key_id: int
    last_used_at: datetime | None  # as read, or as this process last recorded it


def init_app(app: Flask) -> None:
    app.extensions[_CACHE] = TtlCache(CACHE_SECONDS)


def _cache() -> TtlCache[str, _Opened] | None:
    return the_app().extensions.get(_CACHE) if has_app_context() else None


def forget_account(user_id: int) -> None:
    """Forget this process's cached keys of an account whose state changed (disabled, locked, moved)."""
    cache = _cache()
    if cache is not None:
        cache.forget_where(lambda opened: opened.account.id == user_id)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_api_key(session: Session, user_id: int, *, name: str, actor: Actor) -> NewApiKey:
    """Issue a key for a machine account (at most two live at once); the key itself is returned only here."""
    user = _machine_user(session, user_id)
    live = session.scalar(
        select(func.count()).select_from(ApiKey).where(ApiKey.user_id == user.id, ApiKey.revoked_at.is_(None))
    )
    if live >= LIVE_KEYS_PER_ACCOUNT:
        raise ApiKeyLimitReached(
            _(
                "%(username)s has %(live)s live API keys already; revoke the one being replaced first.",
                username=user.username,
                live=live,
            )
        )
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    api_key = ApiKey(
        user_id=user.id,
        name=name,
        prefix=key[:12],
        key_hash=hash_key(key),
        created_by_id=actor.user.id if actor.user else None,
    )
    session.add(api_key)
    session.flush()
    audit.record(
        session,
        action="auth.api_key_created",
        actor=actor,
        target=user,
        details={"key_id": api_key.id, "prefix": api_key.prefix, "name": name},
    )
    return NewApiKey(api_key=api_key, key=key)


def list_api_keys(session: Session, user_id: int, *, cursor: int | None = None, limit: int) -> Page[ApiKey]:
    """A machine account's keys, revoked ones included, newest first."""
    user = _machine_user(session, user_id)
    return paginate(session, select(ApiKey).where(ApiKey.user_id == user.id), key=ApiKey.id, cursor=cursor, limit=limit)


def revoke_api_key(session: Session, user_id: int, key_id: int, *, actor: Actor) -> ApiKey:
    """Stop a key from working at once; revoking a revoked key changes nothing."""
    api_key = session.scalar(select(ApiKey).where(ApiKey.id == key_id, ApiKey.user_id == user_id))
    if api_key is None:
        raise NotFound(_("User %(user_id)s has no API key %(key_id)s.", user_id=user_id, key_id=key_id))
    cache = _cache()
    if cache is not None:
        cache.forget(api_key.key_hash)
    if api_key.revoked_at is None:
        api_key.revoked_at = clock.utcnow()
        audit.record(
            session,
            action="auth.api_key_revoked",
            actor=actor,
            target=api_key.user,
            details={"key_id": api_key.id, "prefix": api_key.prefix},
        )
    return api_key


def has_active_key(session: Session, user: User) -> bool:
    return bool(
        session.scalar(select(ApiKey.id).where(ApiKey.user_id == user.id, ApiKey.revoked_at.is_(None)).limit(1))
    )


def authenticate_api_key(session: Session, key: str) -> tuple[User, int | None]:
    """The machine account behind a live key, and the key's id when its last use is due to be recorded.

    401 for an unknown or revoked key or a disabled account. A key found valid less than `CACHE_SECONDS` ago in
    this process is not looked up again: its account is copied into `session` as it was read (no SQL).
    """
    digest = hash_key(key)
    cache = _cache()
    opened = cache.get(digest) if cache is not None else None
    if opened is None:
        opened, user = _open(session, digest)
        if cache is not None:
            cache.put(digest, opened)
    else:
        user = session.merge(opened.account, load=False)
    now = clock.utcnow()
    if opened.last_used_at is not None and now - opened.last_used_at < LAST_USED_RESOLUTION:
        return user, None
    # Recorded by the caller; should its transaction fail, the next lookup from the database finds it unrecorded.
    opened.last_used_at = now
    return user, opened.key_id


def _open(session: Session, digest: str) -> tuple[_Opened, User]:
    # The key and its account in one round trip.
    found = session.execute(
        select(ApiKey, User).join(User, User.id == ApiKey.user_id).where(ApiKey.key_hash == digest)
    ).first()
    if found is None or found.ApiKey.revoked_at is not None:
        raise ApiKeyInvalid(_("The API key is not recognised or has been revoked."))
    api_key, user = found.ApiKey, found.User
    if not user.may_sign_in or user.role not in MACHINE_ROLES:
        raise AccountDisabled(_("This account is disabled."))
    account = _copy(user)
    if user.enterprise is not None:
        account.enterprise = _copy(user.enterprise)
        make_transient_to_detached(account.enterprise)
    make_transient_to_detached(account)  # as if loaded and let go: clean, so merge(load=False) takes it
    return _Opened(account=account, key_id=api_key.id, last_used_at=api_key.last_used_at), user


def _copy(instance: Any) -> Any:
    """A new instance of `instance`'s class with its columns' values, in no session."""
    mapper = inspect(instance).mapper
    return mapper.class_(**{attribute.key: getattr(instance, attribute.key) for attribute in mapper.column_attrs})


def mark_used(session: Session, key_id: int) -> None:
    """Record a key's use now (in a transaction of its own: the request's may be a read, or may fail)."""
    session.execute(
        update(ApiKey)
        .where(ApiKey.id == key_id)
        .values(last_used_at=clock.utcnow())
        .execution_options(synchronize_session=False)
    )


def _machine_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(_("User %(user_id)s does not exist.", user_id=user_id))
    if user.role not in MACHINE_ROLES:
        raise NotAMachineAccount(
            _(
                "%(username)s is a person (%(role)s); API keys are for machine accounts (%(machine_roles)s).",
                username=user.username,
                role=user.role.value,
                machine_roles=", ".join(sorted(role.value for role in MACHINE_ROLES)),
            )
        )
    return user
