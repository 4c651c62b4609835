"""A forgotten password, reset with a code texted to the phone on the account.

No enumeration: a request answers the same 202 whether the login names a user, a user without a phone, a disabled
account, a machine account or nobody, and whether or not the account's budget is spent; the text goes out after the
answer has (app/auth/reset_routes.py), so the answer's timing does not tell either. A wrong code and a code for
nobody fail alike.

The code is six digits, lives CODE_TTL, allows MAX_TRIES wrong guesses and then dies; a new request retires the
codes before it. Six digits hashed plainly would fall to a million guesses against a leaked table, so the code is
kept as an HMAC under the server's secret. Guessing online is bounded by MAX_TRIES per code and by the budgets:
per client address on both routes (PASSWORD_RESET_RATE_LIMIT) and per account (PASSWORD_RESET_ACCOUNT_LIMIT texts).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.audit import service as audit
from app.audit.service import Actor
from app.auth import passwords
from app.auth.models import PasswordResetCode, RevokeReason
from app.auth.service import revoke_user_sessions
from app.common import clock
from app.config import Settings
from app.devices.models import Device
from app.errors import InvalidInput
from app.i18n import _, _l
from app.infra.ratelimit import RateLimiter
from app.users.models import MACHINE_ROLES, Language, User

CODE_TTL = timedelta(minutes=10)
MAX_TRIES = 5
ACCOUNT_SCOPE = "password-reset-account"
_MAINLAND_MOBILE = re.compile(r"^(?:\+?86)?(1[3-9]\d{9})$")
SMS_TEXT = {
    Language.ZH: "【智慧园区】您的密码重置验证码为 {code}，{minutes} 分钟内有效。如非本人操作，请忽略。",
    Language.EN: "[Smart Park] Your password reset code is {code}, valid for {minutes} minutes. "
    "If you did not ask for it, ignore this.",
}


class ResetCodeInvalid(InvalidInput):
    code, title = "reset_code_invalid", _l("Reset code not valid")
    # The wrong try must count even though the request fails.
    keeps_changes = True


@dataclass(frozen=True)
class ResetText:
    """A text to send once the answer has gone out."""

    user_id: int
    phone: str
    text: str


def request_reset(
    session: Session, *, login: str, client_addr: str | None, settings: Settings, limiter: RateLimiter
) -> ResetText | None:
    """Issue a code for the account `login` names and say what to text, or None (the caller answers alike)."""
    user = _find_user(session, login)
    actor = Actor(None, client_addr)
    if user is None or not user.phone or not user.may_sign_in or user.role in MACHINE_ROLES:
        audit.record(
            session,
            action="auth.password_reset_refused",
            actor=actor,
            target=user,
            details={"login": login[:64], "reason": "no_such_account" if user is None else "not_resettable"},
        )
        return None
    if limiter.retry_after(settings.password_reset_account_limit, ACCOUNT_SCOPE, user.username) is not None:
        audit.record(
            session, action="auth.password_reset_refused", actor=actor, target=user, details={"reason": "throttled"}
        )
        return None
    limiter.charge(settings.password_reset_account_limit, ACCOUNT_SCOPE, user.username)
    now = clock.utcnow()
    _retire_codes(session, user)
    code = f"{secrets.randbelow(1_000_000):06d}"
    session.add(
        PasswordResetCode(
            user_id=user.id,
            code_hash=_code_hash(code, settings),
            created_at=now,
            expires_at=now + CODE_TTL,
            failed_attempts=0,
            client_addr=client_addr,
        )
    )
    audit.record(session, action="auth.password_reset_requested", actor=actor, target=user)
    text = SMS_TEXT[user.language].format(code=code, minutes=int(CODE_TTL.total_seconds() // 60))
    return ResetText(user_id=user.id, phone=user.phone, text=text)


def confirm_reset(
    session: Session, *, login: str, code: str, new_password: str, client_addr: str | None, settings: Settings
) -> None:
    """Set a new password with a texted code; every sign-in of the account ends and its phones stop getting pushes."""
    user = _find_user(session, login)
    now = clock.utcnow()
    pending = None
    if user is not None:
        pending = session.scalar(
            select(PasswordResetCode)
            .where(
                PasswordResetCode.user_id == user.id,
                PasswordResetCode.used_at.is_(None),
                PasswordResetCode.expires_at > now,
            )
            .order_by(PasswordResetCode.id.desc())
            .limit(1)
            .with_for_update()
        )
    if user is None or pending is None or not hmac.compare_digest(pending.code_hash, _code_hash(code, settings)):
        if pending is not None:
            pending.failed_attempts += 1
            if pending.failed_attempts >= MAX_TRIES:
                pending.used_at = now
        raise ResetCodeInvalid(
            _("The code is wrong, expired or used up; ask for a new one."),
            errors={"json": {"code": [_("Not a valid code for this login.")]}},
        )
    problems = passwords.policy_problems(new_password, username=user.username, min_length=settings.password_min_length)
    if problems:
        # The code stays good: choosing a better password must not cost a new text.
        raise InvalidInput(_("The password does not meet the policy."), errors={"json": {"new_password": problems}})
    pending.used_at = now
    user.password_hash = passwords.hash_password(new_password)
    user.must_change_password = False
    user.failed_login_count = 0
    user.lockout_until = None
    ended = revoke_user_sessions(session, user, reason=RevokeReason.PASSWORD_RESET)
    # Whoever else held the account may have registered a phone; the owner's phones register again at sign-in.
    session.execute(
        update(Device)
        .where(Device.user_id == user.id, Device.removed_at.is_(None))
        .values(removed_at=now)
        .execution_options(synchronize_session=False)
    )
    audit.record(
        session,
        action="auth.password_reset_by_sms",
        actor=Actor(None, client_addr),
        target=user,
        details={"sessions_ended": ended},
    )


def _find_user(session: Session, login: str) -> User | None:
    """The user a username names, or the one user with this mobile number (a number two accounts share names none)."""
    login = login.strip()
    user = session.scalar(select(User).where(User.username == login.lower()))
    mobile = _MAINLAND_MOBILE.fullmatch(login.replace(" ", "").replace("-", ""))
    if user is not None or mobile is None:
        return user
    number = mobile.group(1)
    found = list(
        session.scalars(
            select(User)
            .where(func.replace(User.phone, "+86", "") == number, User.is_active.is_(True))
            .order_by(User.id)
            .limit(2)
        )
    )
    return found[0] if len(found) == 1 else None


def _retire_codes(session: Session, user: User) -> None:
    session.execute(
        update(PasswordResetCode)
        .where(PasswordResetCode.user_id == user.id, PasswordResetCode.used_at.is_(None))
        .values(used_at=clock.utcnow())
        .execution_options(synchronize_session=False)
    )


def _code_hash(code: str, settings: Settings) -> str:
    key = (settings.jwt_secret or "").encode()
    return hmac.new(key, b"password-reset:" + code.encode(), hashlib.sha256).hexdigest()
