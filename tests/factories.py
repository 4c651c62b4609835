"""Plain functions that put rows in the test's transaction."""

from __future__ import annotations

import itertools
from functools import cache
from typing import Any

from sqlalchemy.orm import Session
from stdnum.cn import uscc

from app.auth import passwords
from app.enterprises.models import Enterprise, EnterpriseKind, EnterpriseKindLink
from app.users.models import Role, User

PASSWORD = "correct-horse-battery"
_sequence = itertools.count(1)


@cache
def _password_hash() -> str:
    # Hashed once per run: argon2 is slow on purpose, and tests create many users.
    return passwords.hash_password(PASSWORD)


def valid_uscc(serial: int) -> str:
    body = f"91500000MA{serial:07d}"
    return body + uscc.calc_check_digit(body)


def make_enterprise(session: Session, *, kinds: list[EnterpriseKind] | None = None, **overrides: Any) -> Enterprise:
    serial = next(_sequence)
    enterprise = Enterprise(
        name=overrides.pop("name", f"Test Enterprise {serial}"),
        uscc=overrides.pop("uscc", valid_uscc(serial)),
        customs_reg_code=overrides.pop("customs_reg_code", f"50022{serial:05d}"),
        **overrides,
    )
    enterprise.kind_links = [EnterpriseKindLink(kind=kind) for kind in (kinds or [EnterpriseKind.AGENT])]
    session.add(enterprise)
    session.flush()
    return enterprise


_DEFAULT_KIND = {Role.DECLARANT: EnterpriseKind.AGENT, Role.WAREHOUSE_OPERATOR: EnterpriseKind.ZONE}


def make_user(session: Session, *, role: Role = Role.DECLARANT, **overrides: Any) -> User:
    serial = next(_sequence)
    if "enterprise" not in overrides and "enterprise_id" not in overrides and role in _DEFAULT_KIND:
        overrides["enterprise"] = make_enterprise(session, kinds=[_DEFAULT_KIND[role]])
    password = overrides.pop("password", None)
    user = User(
        username=overrides.pop("username", f"{role.value.replace('_', '-')}-{serial}"),
        display_name=overrides.pop("display_name", f"Test {role.value} {serial}"),
        role=role,
        password_hash=passwords.hash_password(password) if password else _password_hash(),
        **overrides,
    )
    session.add(user)
    session.flush()
    return user
