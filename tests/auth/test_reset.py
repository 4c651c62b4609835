"""A forgotten password, reset by a code texted through the SMS gateway (the stand-in the push tests use)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.auth.reset_routes import SMS_GATEWAY
from app.push.sms import build_sms_gateway
from app.users.models import Role
from tests.factories import make_device, make_user

REQUEST = "/api/v1/auth/password-reset"
CONFIRM = "/api/v1/auth/password-reset/confirm"
NEW_PASSWORD = "a-new-long-passphrase"


@pytest.fixture
def texts(app, push_settings, sms_standin, monkeypatch):
    """The app texts through the stand-in; returns what it received as (phone, text)."""
    gateway = build_sms_gateway(push_settings)
    monkeypatch.setitem(app.extensions, SMS_GATEWAY, gateway)
    yield lambda: [(r.request.json()["to"], r.request.json()["text"]) for r in sms_standin.received]
    gateway.close()


def ask(client, login, **kwargs):
    response = client.post(REQUEST, json={"login": login}, **kwargs)
    response.close()  # the text goes out once the answer has
    return response


def code_in(text: str) -> str:
    return re.search(r"\d{6}", text).group()


def test_a_code_is_texted_to_the_phone_on_the_account(client, session, texts):
    user = make_user(session, phone="13800138000")

    response = ask(client, user.username)

    assert response.status_code == 202
    [(phone, text)] = texts()
    assert phone == "13800138000" and "验证码" in text


def test_the_answer_is_the_same_for_nobody_and_for_an_account_without_a_phone(client, session, texts):
    user = make_user(session, phone="13800138001")
    without_phone = make_user(session)

    answers = [ask(client, login) for login in (user.username, "nobody-at-all", without_phone.username)]

    assert {response.status_code for response in answers} == {202}
    assert len({response.get_data() for response in answers}) == 1
    assert len(texts()) == 1


def test_the_mobile_number_works_as_the_login(client, session, texts):
    make_user(session, phone="+8613800138002")

    ask(client, "138 0013 8002")

    assert [phone for phone, _ in texts()] == ["+8613800138002"]


def test_the_code_sets_a_new_password_and_ends_every_session(client, session, texts, auth_headers):
    user = make_user(session, phone="13800138003")
    signed_in = auth_headers(user)
    make_device(session, user=user)
    ask(client, user.username)
    [(_, text)] = texts()

    confirmed = client.post(CONFIRM, json={"login": user.username, "code": code_in(text), "new_password": NEW_PASSWORD})

    assert confirmed.status_code == 204
    assert client.get("/api/v1/me", headers=signed_in).json["code"] == "session_revoked"
    login = client.post("/api/v1/auth/login", json={"username": user.username, "password": NEW_PASSWORD})
    assert login.status_code == 200
    headers = {"Authorization": f"Bearer {login.json['access_token']}"}
    assert client.get("/api/v1/devices", headers=headers).json["items"] == []
    actions = session.scalars(select(AuditEvent.action).where(AuditEvent.action.like("auth.password_reset%"))).all()
    assert {"auth.password_reset_requested", "auth.password_reset_by_sms"} <= set(actions)
    # Spent: the same code does not work twice.
    again = client.post(CONFIRM, json={"login": user.username, "code": code_in(text), "new_password": "x" * 20})
    assert again.json["code"] == "reset_code_invalid"


def test_a_wrong_code_and_a_code_for_nobody_fail_alike(client, session, texts):
    user = make_user(session, phone="13800138004")
    ask(client, user.username)
    [(_, text)] = texts()
    wrong = "000000" if code_in(text) != "000000" else "111111"

    for_user = client.post(CONFIRM, json={"login": user.username, "code": wrong, "new_password": NEW_PASSWORD})
    for_nobody = client.post(CONFIRM, json={"login": "nobody-at-all", "code": wrong, "new_password": NEW_PASSWORD})

    assert for_user.status_code == for_nobody.status_code == 422
    assert for_user.json["code"] == for_nobody.json["code"] == "reset_code_invalid"
    assert (
        for_user.json["errors"] == for_nobody.json["errors"] == {"json": {"code": ["Not a valid code for this login."]}}
    )


def test_five_wrong_codes_kill_the_code(client, session, texts):
    user = make_user(session, phone="13800138005")
    ask(client, user.username)
    [(_, text)] = texts()
    right = code_in(text)
    wrong = "000000" if right != "000000" else "111111"

    for _ in range(5):
        client.post(CONFIRM, json={"login": user.username, "code": wrong, "new_password": NEW_PASSWORD})
    late = client.post(CONFIRM, json={"login": user.username, "code": right, "new_password": NEW_PASSWORD})

    assert late.json["code"] == "reset_code_invalid"


def test_a_weak_new_password_is_refused_and_the_code_stays_good(client, session, texts):
    user = make_user(session, phone="13800138006")
    ask(client, user.username)
    [(_, text)] = texts()

    weak = client.post(CONFIRM, json={"login": user.username, "code": code_in(text), "new_password": "short"})
    strong = client.post(CONFIRM, json={"login": user.username, "code": code_in(text), "new_password": NEW_PASSWORD})

    assert weak.status_code == 422 and "new_password" in weak.json["errors"]["json"]
    assert strong.status_code == 204


def test_a_new_request_retires_the_earlier_code(client, session, texts):
    user = make_user(session, phone="13800138007")
    ask(client, user.username)
    ask(client, user.username)
    [(_, first), (_, second)] = texts()

    stale = client.post(CONFIRM, json={"login": user.username, "code": code_in(first), "new_password": NEW_PASSWORD})
    fresh = client.post(CONFIRM, json={"login": user.username, "code": code_in(second), "new_password": NEW_PASSWORD})

    assert (stale.status_code, fresh.status_code) == (422 if code_in(first) != code_in(second) else 204, 204)


def test_an_account_gets_few_texts_an_hour_and_the_answer_does_not_change(client, session, texts):
    user = make_user(session, phone="13800138008")

    answers = [ask(client, user.username) for _ in range(4)]

    assert [response.status_code for response in answers] == [202] * 4
    assert len(texts()) == 3


def test_requests_are_rate_limited_per_client_address(client, session, app, texts, monkeypatch):
    monkeypatch.setitem(app.config, "PASSWORD_RESET_RATE_LIMIT", "2 per minute")
    prober = {"REMOTE_ADDR": "203.0.113.77"}

    answers = [ask(client, f"guess-{n}", environ_base=prober).status_code for n in range(3)]

    assert answers == [202, 202, 429]


def test_machine_accounts_get_no_code(client, session, texts):
    gateway = make_user(session, role=Role.CUSTOMS_GATEWAY, phone="13800138009")

    assert ask(client, gateway.username).status_code == 202
    assert texts() == []
