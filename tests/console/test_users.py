"""Admins manage users in the console through the API's own use cases: the same rules, the same audit."""

from __future__ import annotations

import re

from sqlalchemy import select

from app.audit.models import AuditEvent
from app.auth import passwords
from app.auth.models import AuthSession
from app.users.models import Role, User
from tests.console.conftest import csrf_of
from tests.factories import make_enterprise, make_user

ONE_TIME = re.compile(rb'id="one-time-password" class="secret">([^<]+)<')


def _post(client, path, data, page="/console/"):
    return client.post(path, data={**data, "csrf_token": csrf_of(client.get(page).data)})


def test_users_are_searched_by_name(console_client, session):
    client = console_client(make_user(session, role=Role.ADMIN))
    make_user(session, role=Role.GATE_OPERATOR, username="gate-hu", display_name="胡卡口")
    make_user(session, role=Role.GATE_OPERATOR, username="gate-li", display_name="李卡口")

    page = client.get("/console/admin/users?q=胡").data.decode()

    assert 'data-username="gate-hu"' in page
    assert 'data-username="gate-li"' not in page


def test_users_page_on_past_the_first_page(console_client, session):
    client = console_client(make_user(session, role=Role.ADMIN))
    for serial in range(26):
        make_user(session, role=Role.GATE_OPERATOR, username=f"pager-{serial:02d}")

    first = client.get("/console/admin/users?q=pager-").data.decode()
    older = re.search(r'href="(/console/admin/users\?[^"]*cursor=[^"]+)"', first).group(1).replace("&amp;", "&")
    second = client.get(older).data.decode()

    assert first.count('data-username="pager-') == 25
    assert second.count('data-username="pager-') == 1
    assert 'data-username="pager-00"' in second


def test_an_admin_creates_a_user_whose_one_time_password_works_once(console_client, session, app):
    client = console_client(make_user(session, role=Role.ADMIN))
    broker = make_enterprise(session, kinds=["agent"])

    answer = _post(
        client,
        "/console/admin/users/new",
        {"username": "Zhou.Bao", "display_name": "周报关", "role": "declarant", "enterprise_id": str(broker.id)},
        page="/console/admin/users/new",
    )

    assert answer.status_code == 200
    password = ONE_TIME.search(answer.data).group(1).decode()
    user = session.scalar(select(User).where(User.username == "zhou.bao"))
    assert (user.role, user.enterprise_id, user.must_change_password) == (Role.DECLARANT, broker.id, True)
    assert passwords.verify_password(user.password_hash, password)
    assert session.scalar(select(AuditEvent.action).where(AuditEvent.target_id == str(user.id))) == "admin.user_created"
    # Shown once: the user's page never shows it again.
    assert password.encode() not in client.get(f"/console/admin/users/{user.id}").data


def test_the_services_rules_refuse_a_declarant_without_a_broker(console_client, session):
    client = console_client(make_user(session, role=Role.ADMIN))

    answer = _post(
        client,
        "/console/admin/users/new",
        {"username": "no-broker", "display_name": "x", "role": "declarant"},
        page="/console/admin/users/new",
    )

    assert answer.status_code == 400
    assert b"Required for this role." in answer.data
    assert session.scalar(select(User).where(User.username == "no-broker")) is None


def test_a_bad_username_is_refused_beside_its_field(console_client, session):
    client = console_client(make_user(session, role=Role.ADMIN))

    answer = _post(
        client,
        "/console/admin/users/new",
        {"username": "A B", "display_name": "x", "role": "gate_operator"},
        page="/console/admin/users/new",
    )

    assert answer.status_code == 400
    assert b"lower-case letters" in answer.data


def test_disabling_a_user_ends_their_sign_ins_and_is_audited(console_client, session):
    client = console_client(make_user(session, role=Role.ADMIN))
    officer = make_user(session, role=Role.CUSTOMS_OFFICER)
    officer_client = console_client(officer)

    answer = _post(client, f"/console/admin/users/{officer.id}/state", {"change": "disable"})

    assert answer.headers["Location"] == f"/console/admin/users/{officer.id}"
    session.refresh(officer)
    assert officer.is_active is False
    assert all(s.is_revoked for s in session.scalars(select(AuthSession).where(AuthSession.user_id == officer.id)))
    assert officer_client.get("/console/").status_code == 302
    entry = session.scalar(
        select(AuditEvent).where(AuditEvent.action == "admin.user_updated", AuditEvent.target_id == str(officer.id))
    )
    assert entry.details == {"active": {"from": True, "to": False}}


def test_the_last_admin_cannot_disable_themselves(console_client, session):
    for other in session.scalars(select(User).where(User.role == Role.ADMIN)):
        other.is_active = False
    admin = make_user(session, role=Role.ADMIN)
    client = console_client(admin)

    answer = _post(client, f"/console/admin/users/{admin.id}/state", {"change": "disable"})

    assert answer.status_code == 302
    assert b"last active admin" in client.get(answer.headers["Location"]).data
    session.refresh(admin)
    assert admin.is_active


def test_an_admin_unlocks_a_locked_user(console_client, session):
    client = console_client(make_user(session, role=Role.ADMIN))
    locked = make_user(session, role=Role.GATE_OPERATOR, is_locked=True)

    _post(client, f"/console/admin/users/{locked.id}/state", {"change": "unlock"})

    session.refresh(locked)
    assert locked.is_locked is False


def test_a_password_reset_shows_the_temporary_password_once(console_client, session):
    client = console_client(make_user(session, role=Role.ADMIN))
    officer = make_user(session, role=Role.CUSTOMS_OFFICER)

    answer = _post(client, f"/console/admin/users/{officer.id}/password-reset", {})

    password = ONE_TIME.search(answer.data).group(1).decode()
    session.refresh(officer)
    assert officer.must_change_password
    assert passwords.verify_password(officer.password_hash, password)


def test_an_unknown_state_change_is_refused(console_client, session):
    client = console_client(make_user(session, role=Role.ADMIN))
    officer = make_user(session, role=Role.CUSTOMS_OFFICER)

    assert _post(client, f"/console/admin/users/{officer.id}/state", {"change": "promote"}).status_code == 400


def test_an_officer_cannot_post_an_admins_form(console_client, session):
    client = console_client(make_user(session, role=Role.CUSTOMS_OFFICER))
    other = make_user(session, role=Role.GATE_OPERATOR)

    answer = _post(client, f"/console/admin/users/{other.id}/state", {"change": "disable"})

    assert answer.status_code == 403
    session.refresh(other)
    assert other.is_active


def test_an_admins_form_without_its_csrf_token_changes_nothing(console_client, session):
    client = console_client(make_user(session, role=Role.ADMIN))
    other = make_user(session, role=Role.GATE_OPERATOR)

    answer = client.post(f"/console/admin/users/{other.id}/state", data={"change": "disable"})

    assert answer.status_code == 400
    session.refresh(other)
    assert other.is_active
