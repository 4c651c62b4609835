"""Registering enterprises and deciding who may see them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session, selectinload

from app.audit import service as audit
from app.audit.service import Actor
from app.common.pagination import Page, paginate, where_given
from app.enterprises.models import CreditLevel, Enterprise, EnterpriseKind, EnterpriseKindLink
from app.errors import Conflict, NotFound
from app.i18n import _, _l
from app.users.models import Role, User

# Roles that see every enterprise; everyone else sees only their own.
PARK_WIDE_ROLES = frozenset({Role.ADMIN, Role.CUSTOMS_OFFICER})


class EnterpriseCodeTaken(Conflict):
    code, title = "enterprise_code_taken", _l("Enterprise code already registered")


def get_enterprise(session: Session, enterprise_id: int) -> Enterprise:
    enterprise = session.get(Enterprise, enterprise_id)
    if enterprise is None:
        raise NotFound(_("Enterprise %(enterprise_id)s does not exist.", enterprise_id=enterprise_id))
    return enterprise


def find_enterprise_by_uscc(session: Session, uscc: str) -> Enterprise | None:
    return session.scalar(select(Enterprise).where(Enterprise.uscc == uscc))


def get_enterprise_for(session: Session, enterprise_id: int, *, viewer: User) -> Enterprise:
    """An enterprise as `viewer` may see it: another enterprise's data is simply not there."""
    if viewer.role not in PARK_WIDE_ROLES and viewer.enterprise_id != enterprise_id:
        raise NotFound(_("Enterprise %(enterprise_id)s does not exist.", enterprise_id=enterprise_id))
    return get_enterprise(session, enterprise_id)


def list_enterprises(
    session: Session,
    *,
    kind: EnterpriseKind | None = None,
    q: str | None = None,
    active: bool | None = None,
    cursor: int | None = None,
    limit: int,
) -> Page[Enterprise]:
    """Enterprises, newest first."""
    statement: Select[Any] = select(Enterprise).options(selectinload(Enterprise.kind_links))
    if kind is not None:
        statement = statement.where(
            Enterprise.id.in_(select(EnterpriseKindLink.enterprise_id).where(EnterpriseKindLink.kind == kind))
        )
    if q:
        # autoescape: a % or _ typed by the user is a character to find, not a wildcard.
        statement = statement.where(
            or_(
                Enterprise.name.icontains(q, autoescape=True),
                Enterprise.uscc.icontains(q, autoescape=True),
                Enterprise.customs_reg_code.icontains(q, autoescape=True),
            )
        )
    statement = where_given(statement, (Enterprise.is_active, active))
    return paginate(session, statement, key=Enterprise.id, cursor=cursor, limit=limit)


def register_enterprise(
    session: Session,
    *,
    actor: Actor,
    name: str,
    uscc: str,
    customs_reg_code: str,
    kinds: Iterable[EnterpriseKind],
    credit_level: CreditLevel,
    general_taxpayer_pilot: bool,
) -> Enterprise:
    """Register an enterprise; its credit code and customs code must be new to the park."""
    _ensure_codes_free(session, uscc=uscc, customs_reg_code=customs_reg_code)
    enterprise = Enterprise(
        name=name,
        uscc=uscc,
        customs_reg_code=customs_reg_code,
        credit_level=credit_level,
        general_taxpayer_pilot=general_taxpayer_pilot,
    )
    _set_kinds(enterprise, kinds)
    session.add(enterprise)
    session.flush()
    audit.record(
        session, action="admin.enterprise_created", actor=actor, target=enterprise, details=_snapshot(enterprise)
    )
    return enterprise


def update_enterprise(session: Session, enterprise_id: int, *, actor: Actor, **changes: Any) -> Enterprise:
    """Change an enterprise's details or deactivate it; enterprises are never deleted."""
    enterprise = get_enterprise(session, enterprise_id)
    before = _snapshot(enterprise)
    if "customs_reg_code" in changes and changes["customs_reg_code"] != enterprise.customs_reg_code:
        _ensure_codes_free(session, customs_reg_code=changes["customs_reg_code"])
    if "kinds" in changes:
        _set_kinds(enterprise, changes.pop("kinds"))
    if "active" in changes:
        enterprise.is_active = changes.pop("active")
    for field, value in changes.items():
        setattr(enterprise, field, value)
    session.flush()
    changed = audit.changes(before, _snapshot(enterprise))
    if changed:
        audit.record(session, action="admin.enterprise_updated", actor=actor, target=enterprise, details=changed)
    return enterprise


def _ensure_codes_free(session: Session, *, uscc: str | None = None, customs_reg_code: str | None = None) -> None:
    if uscc and find_enterprise_by_uscc(session, uscc) is not None:
        raise EnterpriseCodeTaken(
            _("An enterprise with credit code %(uscc)s is already registered.", uscc=uscc),
            errors={"json": {"uscc": [_("Already registered.")]}},
        )
    if customs_reg_code and session.scalar(
        select(Enterprise.id).where(Enterprise.customs_reg_code == customs_reg_code)
    ):
        raise EnterpriseCodeTaken(
            _(
                "An enterprise with customs code %(customs_reg_code)s is already registered.",
                customs_reg_code=customs_reg_code,
            ),
            errors={"json": {"customs_reg_code": [_("Already registered.")]}},
        )


def _set_kinds(enterprise: Enterprise, kinds: Iterable[EnterpriseKind]) -> None:
    wanted = set(kinds)
    enterprise.kind_links = [link for link in enterprise.kind_links if link.kind in wanted]
    present = set(enterprise.kinds)
    enterprise.kind_links.extend(EnterpriseKindLink(kind=kind) for kind in sorted(wanted - present))


def _snapshot(enterprise: Enterprise) -> dict[str, Any]:
    return {
        "name": enterprise.name,
        "uscc": enterprise.uscc,
        "customs_reg_code": enterprise.customs_reg_code,
        "kinds": sorted(kind.value for kind in enterprise.kinds),
        "credit_level": enterprise.credit_level.value,
        "general_taxpayer_pilot": enterprise.general_taxpayer_pilot,
        "active": enterprise.is_active,
    }
