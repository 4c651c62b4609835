"""Accounts: creation, the rules between roles and enterprises, state changes and passwords.

They live with auth, above the users' model, because a change of password or state ends the account's sign-ins.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.audit import service as audit
from app.audit.service import Actor
from app.auth import api_keys, passwords
from app.auth import service as auth
from app.auth.models import RevokeReason
from app.common.pagination import Page, paginate, where_given
from app.config import Settings
from app.enterprises import service as enterprises
from app.enterprises.models import Enterprise, EnterpriseKind
from app.errors import Conflict, InvalidInput, NotFound
from app.i18n import _, _l
from app.users.models import Language, Role, User

# Declarants act for a customs broker, warehouse operators and the X-ray lines in their warehouses for an in-zone
# enterprise; every other role works for the park or customs and belongs to no enterprise.
ENTERPRISE_KIND_FOR_ROLE = {
    Role.DECLARANT: EnterpriseKind.AGENT,
    Role.WAREHOUSE_OPERATOR: EnterpriseKind.ZONE,
    Role.XRAY_LINE: EnterpriseKind.ZONE,
}


class UsernameTaken(Conflict):
    code, title = "username_taken", _l("Username taken")


class LastAdmin(Conflict):
    code, title = "last_admin", _l("Last active admin")


@dataclass(frozen=True)
class PasswordResetResult:
    user: User
    temporary_password: str


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(_("User %(user_id)s does not exist.", user_id=user_id))
    return user


def find_user_by_username(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username.strip().lower()))


def list_users(
    session: Session,
    *,
    role: Role | None = None,
    enterprise_id: int | None = None,
    q: str | None = None,
    active: bool | None = None,
    cursor: int | None = None,
    limit: int,
) -> Page[User]:
    """Users, newest first."""
    statement = where_given(
        select(User), (User.role, role), (User.enterprise_id, enterprise_id), (User.is_active, active)
    )
    if q:
        statement = statement.where(
            or_(
                User.username.icontains(q, autoescape=True),
                User.display_name.icontains(q, autoescape=True),
                User.phone.icontains(q, autoescape=True),
            )
        )
    return paginate(session, statement, key=User.id, cursor=cursor, limit=limit)


def create_user(
    session: Session,
    *,
    actor: Actor,
    settings: Settings,
    username: str,
    display_name: str,
    role: Role,
    password: str,
    phone: str | None = None,
    enterprise_id: int | None = None,
    language: Language = Language.ZH,
    must_change_password: bool = True,
) -> User:
    """Create an account; unless told otherwise its first sign-in must set a new password."""
    _check_password(password, username=username, settings=settings, field="password")
    if find_user_by_username(session, username) is not None:
        raise UsernameTaken(
            _("The username %(username)s is taken.", username=username),
            errors={"json": {"username": [_("Already taken.")]}},
        )
    enterprise = _enterprise_for_role(session, role, enterprise_id)
    user = User(
        username=username,
        display_name=display_name,
        phone=phone,
        role=role,
        language=language,
        enterprise=enterprise,
        password_hash=passwords.hash_password(password),
        must_change_password=must_change_password,
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        action="admin.user_created",
        actor=actor,
        target=user,
        details={"username": user.username, "role": role.value, "enterprise_id": enterprise_id},
    )
    return user


def update_user(session: Session, user_id: int, *, actor: Actor, **changes: Any) -> User:
    """Change a user's profile, role, enterprise or state; the last active admin stays one."""
    user = get_user(session, user_id)
    before = _snapshot(user)
    role = changes.get("role", user.role)
    enterprise_id = changes.get("enterprise_id", user.enterprise_id)
    if "role" in changes or "enterprise_id" in changes:
        # Assign the relationship, not just the key, so the answer shows the new enterprise.
        user.enterprise = _enterprise_for_role(session, role, enterprise_id)
    stays_admin = (
        role is Role.ADMIN and changes.get("active", user.is_active) and not changes.get("locked", user.is_locked)
    )
    if not stays_admin:
        _ensure_another_admin(session, user)

    for field in ("display_name", "phone", "role"):
        if field in changes:
            setattr(user, field, changes[field])
    if "active" in changes:
        user.is_active = changes["active"]
    if "locked" in changes:
        user.is_locked = changes["locked"]
        if not user.is_locked:
            # Unlocking also lifts an automatic lockout: the admin has spoken to the user.
            user.lockout_until = None
            user.failed_login_count = 0
    session.flush()

    changed = audit.changes(before, _snapshot(user))
    if changed:
        # A machine account's keys open what it is now, in this process at once (elsewhere within seconds).
        api_keys.forget_account(user.id)
    if not user.may_sign_in and before["active"] and not before["locked"]:
        auth.revoke_user_sessions(session, user, reason=RevokeReason.ACCOUNT_DISABLED)
    if changed:
        audit.record(session, action="admin.user_updated", actor=actor, target=user, details=changed)
    return user


def update_profile(session: Session, user: User, **changes: Any) -> User:
    """A user changes their own name, phone or notice language."""
    for field, value in changes.items():
        setattr(user, field, value)
    session.flush()
    return user


def reset_password(
    session: Session, user_id: int, *, actor: Actor, settings: Settings, temporary_password: str | None = None
) -> PasswordResetResult:
    """Set a temporary password, end the user's sessions, and require a change at next sign-in."""
    user = get_user(session, user_id)
    if temporary_password is None:
        temporary_password = passwords.generate_temporary_password()
    else:
        _check_password(temporary_password, username=user.username, settings=settings, field="temporary_password")
    user.password_hash = passwords.hash_password(temporary_password)
    user.must_change_password = True
    user.failed_login_count = 0
    user.lockout_until = None
    auth.revoke_user_sessions(session, user, reason=RevokeReason.PASSWORD_RESET)
    audit.record(session, action="admin.user_password_reset", actor=actor, target=user)
    return PasswordResetResult(user=user, temporary_password=temporary_password)


def change_password(
    session: Session,
    user: User,
    *,
    current_password: str,
    new_password: str,
    keep_session: uuid.UUID,
    actor: Actor,
    settings: Settings,
) -> None:
    """Change one's own password; every other sign-in of the account ends."""
    if not passwords.verify_password(user.password_hash, current_password):
        raise InvalidInput(
            _("The current password is wrong."), errors={"json": {"current_password": [_("Does not match.")]}}
        )
    _check_password(new_password, username=user.username, settings=settings, field="new_password")
    if passwords.verify_password(user.password_hash, new_password):
        raise InvalidInput(
            _("Choose a password different from the current one."),
            errors={"json": {"new_password": [_("Same as the current password.")]}},
        )
    user.password_hash = passwords.hash_password(new_password)
    user.must_change_password = False
    auth.revoke_user_sessions(session, user, reason=RevokeReason.PASSWORD_CHANGED, keep=keep_session)
    audit.record(session, action="user.password_changed", actor=actor, target=user)


def _check_password(password: str, *, username: str, settings: Settings, field: str) -> None:
    problems = passwords.policy_problems(password, username=username, min_length=settings.password_min_length)
    if problems:
        raise InvalidInput(_("The password does not meet the policy."), errors={"json": {field: problems}})


def _enterprise_for_role(session: Session, role: Role, enterprise_id: int | None) -> Enterprise | None:
    """The enterprise a user of `role` may belong to, or a field error explaining why not."""
    required_kind = ENTERPRISE_KIND_FOR_ROLE.get(role)
    if required_kind is None:
        if enterprise_id is not None:
            raise InvalidInput(
                _("A %(role)s does not belong to an enterprise.", role=role.value),
                errors={"json": {"enterprise_id": [_("Must be empty for this role.")]}},
            )
        return None
    if enterprise_id is None:
        raise InvalidInput(
            _("A %(role)s must belong to an enterprise.", role=role.value),
            errors={"json": {"enterprise_id": [_("Required for this role.")]}},
        )
    try:
        enterprise = enterprises.get_enterprise(session, enterprise_id)
    except NotFound:
        raise InvalidInput(
            _("Enterprise %(enterprise_id)s does not exist.", enterprise_id=enterprise_id),
            errors={"json": {"enterprise_id": [_("No such enterprise.")]}},
        ) from None
    if not enterprise.is_active or not enterprise.has_kind(required_kind):
        raise InvalidInput(
            _(
                "A %(role)s must belong to an active enterprise of kind %(required_kind)s.",
                role=role.value,
                required_kind=required_kind.value,
            ),
            errors={
                "json": {
                    "enterprise_id": [
                        _("Not an active %(required_kind)s enterprise.", required_kind=required_kind.value)
                    ]
                }
            },
        )
    return enterprise


def _ensure_another_admin(session: Session, user: User) -> None:
    if user.role is not Role.ADMIN or not user.may_sign_in:
        return
    # Lock the admin rows so two admins demoting each other at once cannot both succeed.
    others = session.scalars(
        select(User.id)
        .where(User.role == Role.ADMIN, User.is_active.is_(True), User.is_locked.is_(False), User.id != user.id)
        .with_for_update()
    ).all()
    if not others:
        raise LastAdmin(_("%(username)s is the last active admin; make another admin first.", username=user.username))


def _snapshot(user: User) -> dict[str, Any]:
    return {
        "display_name": user.display_name,
        "phone": user.phone,
        "role": user.role.value,
        "enterprise_id": user.enterprise_id,
        "active": user.is_active,
        "locked": user.is_locked,
    }
