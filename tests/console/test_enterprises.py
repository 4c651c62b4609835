"""Admins register and change enterprises in the console through the enterprises service: same rules, same audit."""

from __future__ import annotations

from sqlalchemy import select

from app.audit.models import AuditEvent
from app.enterprises.models import Enterprise, EnterpriseKind
from app.users.models import Role
from tests.console.conftest import csrf_of
from tests.factories import make_enterprise, make_user, valid_uscc

USCC = valid_uscc(987)


def _admin(console_client, session):
    return console_client(make_user(session, role=Role.ADMIN))


def test_an_admin_registers_an_enterprise_with_its_kinds_and_pilot_flag(console_client, session):
    client = _admin(console_client, session)
    page = client.get("/console/admin/enterprises/new")

    answer = client.post(
        "/console/admin/enterprises/new",
        data={
            "name": "渝新仓储有限公司",
            "uscc": USCC,
            "customs_reg_code": "5002640099",
            "kinds": ["zone_enterprise", "logistics_enterprise"],
            "credit_level": "general",
            "general_taxpayer_pilot": "true",
            "csrf_token": csrf_of(page.data),
        },
    )

    assert answer.status_code == 302, answer.data
    enterprise = session.scalar(select(Enterprise).where(Enterprise.uscc == USCC))
    assert enterprise.kinds == [EnterpriseKind.LOGISTICS, EnterpriseKind.ZONE]
    assert enterprise.general_taxpayer_pilot
    assert (
        session.scalar(
            select(AuditEvent.action).where(
                AuditEvent.target_type == "enterprises", AuditEvent.target_id == str(enterprise.id)
            )
        )
        == "admin.enterprise_created"
    )


def test_a_taken_customs_code_is_refused_beside_its_field(console_client, session):
    client = _admin(console_client, session)
    taken = make_enterprise(session)
    page = client.get("/console/admin/enterprises/new")

    answer = client.post(
        "/console/admin/enterprises/new",
        data={
            "name": "重复海关编码公司",
            "uscc": USCC,
            "customs_reg_code": taken.customs_reg_code,
            "kinds": ["ebc"],
            "csrf_token": csrf_of(page.data),
        },
    )

    assert answer.status_code == 400
    assert b"Already registered." in answer.data


def test_unticking_the_pilot_flag_and_a_kind_saves_both(console_client, session):
    client = _admin(console_client, session)
    enterprise = make_enterprise(session, kinds=[EnterpriseKind.EBC, EnterpriseKind.ZONE], general_taxpayer_pilot=True)
    page = client.get(f"/console/admin/enterprises/{enterprise.id}")

    answer = client.post(
        f"/console/admin/enterprises/{enterprise.id}",
        data={
            "name": enterprise.name,
            "customs_reg_code": enterprise.customs_reg_code,
            "kinds": ["zone_enterprise"],
            "credit_level": "advanced_certified",
            "active": "true",
            "csrf_token": csrf_of(page.data),
        },
    )

    assert answer.status_code == 302
    session.refresh(enterprise)
    assert enterprise.kinds == [EnterpriseKind.ZONE]
    assert enterprise.general_taxpayer_pilot is False
    assert enterprise.is_active
    changed = session.scalar(
        select(AuditEvent.details).where(
            AuditEvent.action == "admin.enterprise_updated", AuditEvent.target_id == str(enterprise.id)
        )
    )
    assert set(changed) == {"kinds", "credit_level", "general_taxpayer_pilot"}


def test_an_officer_is_refused_the_enterprises(console_client, session):
    client = console_client(make_user(session, role=Role.CUSTOMS_OFFICER))

    assert client.get("/console/admin/enterprises").status_code == 403
