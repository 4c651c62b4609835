"""Signing in to the console: the API's accounts and rules, a cookie naming a sign-in, CSRF on every form."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app.audit.models import AuditEvent
from app.auth import service as auth
from app.auth.models import AuthSession, RevokeReason
from app.common import clock
from app.users.models import Role
from tests.console.conftest import PASSWORD, csrf_of
from tests.factories import make_user


def _sign_in_form(client, username, password):
    page = client.get("/console/login")
    return client.post(
        "/console/login", data={"username": username, "password": password, "csrf_token": csrf_of(page.data)}
    )


def test_a_page_sends_whoever_is_not_signed_in_to_the_sign_in_form(client):
    answer = client.get("/console/admin/users?q=x")

    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("/console/login?next=/console/admin/users")


def test_an_admin_signs_in_with_the_api_password_and_lands_where_they_were_going(client, session):
    admin = make_user(session, role=Role.ADMIN, password=PASSWORD)
    page = client.get("/console/login?next=/console/admin/users")

    answer = client.post(
        "/console/login",
        data={
            "username": admin.username,
            "password": PASSWORD,
            "next": "/console/admin/users",
            "csrf_token": csrf_of(page.data),
        },
    )

    assert answer.status_code == 302
    assert answer.headers["Location"] == "/console/admin/users"
    assert client.get("/console/admin/users").status_code == 200
    entry = session.scalar(select(AuditEvent).where(AuditEvent.action == "auth.login").order_by(AuditEvent.id.desc()))
    assert (entry.actor_username, entry.details) == (admin.username, {"channel": "console"})


def test_the_cookie_is_http_only_same_site_strict_and_scoped_to_the_console(client, session):
    admin = make_user(session, role=Role.ADMIN, password=PASSWORD)

    answer = _sign_in_form(client, admin.username, PASSWORD)

    cookie = answer.headers["Set-Cookie"]
    assert cookie.startswith("park_console=")
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert "Path=/console" in cookie
    assert "Secure" not in cookie  # plain http, and CONSOLE_COOKIE_SECURE left at auto


def test_over_https_the_cookie_is_secure(app, session):
    admin = make_user(session, role=Role.ADMIN, password=PASSWORD)
    client = app.test_client()
    page = client.get("/console/login", base_url="https://park.example")

    answer = client.post(
        "/console/login",
        base_url="https://park.example",
        headers={"Referer": "https://park.example/console/login"},
        data={"username": admin.username, "password": PASSWORD, "csrf_token": csrf_of(page.data)},
    )

    assert answer.status_code == 302
    assert "Secure" in answer.headers["Set-Cookie"]


def test_a_wrong_password_is_refused_in_the_same_words_and_audited(client, session):
    admin = make_user(session, role=Role.ADMIN, password=PASSWORD)

    answer = _sign_in_form(client, admin.username, "not-the-password")

    assert answer.status_code == 401
    assert b"Invalid username or password." in answer.data
    assert session.scalar(
        select(AuditEvent.details).where(AuditEvent.action == "auth.login_failed").order_by(AuditEvent.id.desc())
    ) == {"reason": "bad_password"}


def test_a_machine_account_never_signs_in_to_the_console(client, session):
    gateway = make_user(session, role=Role.CUSTOMS_GATEWAY, password=PASSWORD)

    assert _sign_in_form(client, gateway.username, PASSWORD).status_code == 401


def test_a_form_posted_without_its_csrf_token_is_refused(client, session):
    admin = make_user(session, role=Role.ADMIN, password=PASSWORD)
    client.get("/console/login")

    answer = client.post("/console/login", data={"username": admin.username, "password": PASSWORD})

    assert answer.status_code == 400
    assert b"Form refused" in answer.data
    assert "park_console=" not in answer.headers.get("Set-Cookie", "") or "sid" not in answer.headers["Set-Cookie"]


def test_a_signed_in_form_with_another_sessions_token_is_refused(console_client, app, session):
    admin = make_user(session, role=Role.ADMIN)
    client = console_client(admin)
    stranger = app.test_client()
    foreign_token = csrf_of(stranger.get("/console/login").data)

    answer = client.post("/console/logout", data={"csrf_token": foreign_token})

    assert answer.status_code == 400
    assert client.get("/console/").status_code == 200  # still signed in


def test_another_role_is_refused_an_admins_page(console_client, session):
    client = console_client(make_user(session, role=Role.CUSTOMS_OFFICER))

    answer = client.get("/console/admin/users")

    assert answer.status_code == 403
    assert b"Your role may not open this page." in answer.data


def test_the_menu_shows_an_admins_pages_to_admins_only(console_client, session):
    admin_page = console_client(make_user(session, role=Role.ADMIN)).get("/console/").data
    officer_page = console_client(make_user(session, role=Role.CUSTOMS_OFFICER)).get("/console/").data

    assert b'href="/console/admin/users"' in admin_page
    assert b'href="/console/admin/users"' not in officer_page


def test_a_reset_password_forces_the_change_form_first(console_client, session):
    user = make_user(session, role=Role.ADMIN, must_change_password=True)
    client = console_client(user)

    assert client.get("/console/").headers["Location"] == "/console/password"
    page = client.get("/console/password")
    answer = client.post(
        "/console/password",
        data={"current_password": PASSWORD, "new_password": "a-Brand-new-passw0rd", "csrf_token": csrf_of(page.data)},
    )

    assert answer.headers["Location"] == "/console/"
    assert client.get("/console/").status_code == 200


def test_a_weak_new_password_is_refused_beside_its_field(console_client, session):
    client = console_client(make_user(session, role=Role.ADMIN, must_change_password=True))
    page = client.get("/console/password")

    answer = client.post(
        "/console/password",
        data={"current_password": PASSWORD, "new_password": "short", "csrf_token": csrf_of(page.data)},
    )

    assert answer.status_code == 400
    assert b'class="field-error"' in answer.data


def test_signing_out_ends_the_sign_in_in_the_database(console_client, session):
    admin = make_user(session, role=Role.ADMIN)
    client = console_client(admin)
    page = client.get("/console/")

    answer = client.post("/console/logout", data={"csrf_token": csrf_of(page.data)})

    assert answer.headers["Location"] == "/console/login"
    sign_in = session.scalar(select(AuthSession).where(AuthSession.user_id == admin.id))
    assert sign_in.revoke_reason is RevokeReason.LOGOUT
    assert client.get("/console/").status_code == 302


def test_signing_out_everywhere_from_the_api_ends_the_console_too(console_client, session):
    admin = make_user(session, role=Role.ADMIN)
    client = console_client(admin)

    auth.revoke_user_sessions(session, admin, reason=RevokeReason.ENDED_ELSEWHERE)
    session.flush()

    answer = client.get("/console/")
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("/console/login")


def test_a_disabled_account_is_signed_out_at_its_next_page(console_client, session):
    officer = make_user(session, role=Role.CUSTOMS_OFFICER)
    client = console_client(officer)

    officer.is_active = False
    session.flush()

    assert client.get("/console/").status_code == 302


def test_a_sign_in_idle_past_the_timeout_ends(console_client, session, settings):
    admin = make_user(session, role=Role.ADMIN)
    client = console_client(admin)
    sign_in = session.scalar(select(AuthSession).where(AuthSession.user_id == admin.id))
    sign_in.last_refreshed_at = clock.utcnow() - settings.console_idle - timedelta(seconds=1)
    session.flush()

    answer = client.get("/console/")

    assert answer.status_code == 302
    session.refresh(sign_in)
    assert sign_in.revoke_reason is RevokeReason.IDLE
    assert b"without activity" in client.get("/console/login").data


def test_each_page_keeps_a_sign_in_alive(console_client, session, settings):
    admin = make_user(session, role=Role.ADMIN)
    client = console_client(admin)
    sign_in = session.scalar(select(AuthSession).where(AuthSession.user_id == admin.id))
    sign_in.last_refreshed_at = clock.utcnow() - settings.console_idle + timedelta(minutes=1)
    session.flush()

    assert client.get("/console/").status_code == 200
    session.refresh(sign_in)
    assert clock.utcnow() - sign_in.last_refreshed_at < timedelta(minutes=1)


def test_next_never_leads_off_the_console(client, session):
    admin = make_user(session, role=Role.ADMIN, password=PASSWORD)
    page = client.get("/console/login")

    answer = client.post(
        "/console/login",
        data={
            "username": admin.username,
            "password": PASSWORD,
            "next": "//evil.example/console/",
            "csrf_token": csrf_of(page.data),
        },
    )

    assert answer.headers["Location"] == "/console/"
