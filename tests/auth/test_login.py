from datetime import timedelta

import jwt

from app.common import clock
from app.users.models import Role
from tests.conftest import TEST_JWT_SECRET
from tests.factories import PASSWORD, make_user


def login(client, username, password=PASSWORD, **kwargs):
    return client.post("/api/v1/auth/login", json={"username": username, "password": password}, **kwargs)


def test_login_answers_a_bearer_token_pair(client, session):
    user = make_user(session, role=Role.DECLARANT)

    response = login(client, user.username)

    assert response.status_code == 200
    body = response.json
    assert body["token_type"] == "Bearer"
    assert 600 <= body["expires_in"] <= 1200
    assert body["refresh_token"]
    claims = jwt.decode(
        body["access_token"], TEST_JWT_SECRET, algorithms=["HS256"], audience="smart-park-api", issuer="smart-park"
    )
    assert claims["sub"] == str(user.id)
    assert claims["role"] == "declarant"
    assert claims["ent"] == user.enterprise_id
    assert {"jti", "iat", "exp", "sid"} <= claims.keys()
    assert claims["exp"] - claims["iat"] == body["expires_in"]


def test_login_accepts_the_username_in_any_case(client, session):
    user = make_user(session)

    assert login(client, f"  {user.username.upper()} ").status_code == 200


def test_wrong_password_and_unknown_user_get_the_same_answer(client, session):
    user = make_user(session)

    wrong_password = login(client, user.username, "not-the-password")
    unknown_user = login(client, "nobody-by-this-name", "not-the-password")

    assert wrong_password.status_code == unknown_user.status_code == 401
    assert wrong_password.mimetype == "application/problem+json"
    for field in ("code", "title", "detail", "type"):
        assert wrong_password.json[field] == unknown_user.json[field]
    assert wrong_password.json["code"] == "invalid_credentials"


def test_repeated_failures_lock_the_account_even_for_the_right_password(client, session, settings):
    user = make_user(session)
    for _ in range(settings.lockout_threshold):
        assert login(client, user.username, "wrong-password").status_code == 401

    response = login(client, user.username)

    assert response.status_code == 401
    assert response.json["code"] == "invalid_credentials"
    session.refresh(user)
    assert user.lockout_until is not None


def test_lockout_expires(client, session, settings, monkeypatch):
    user = make_user(session)
    for _ in range(settings.lockout_threshold):
        login(client, user.username, "wrong-password")
    later = clock.utcnow() + settings.lockout_duration + timedelta(seconds=1)
    monkeypatch.setattr(clock, "utcnow", lambda: later)

    assert login(client, user.username).status_code == 200


def test_a_success_resets_the_failure_count(client, session, settings):
    user = make_user(session)
    for _ in range(settings.lockout_threshold - 1):
        login(client, user.username, "wrong-password")
    assert login(client, user.username).status_code == 200

    login(client, user.username, "wrong-password")

    assert login(client, user.username).status_code == 200


def test_deactivated_and_admin_locked_users_cannot_sign_in(client, session):
    inactive = make_user(session, is_active=False)
    locked = make_user(session, is_locked=True)

    assert login(client, inactive.username).json["code"] == "invalid_credentials"
    assert login(client, locked.username).json["code"] == "invalid_credentials"


def test_users_of_a_deactivated_enterprise_cannot_sign_in(client, session):
    user = make_user(session)
    user.enterprise.is_active = False
    session.flush()

    assert login(client, user.username).status_code == 401


def test_logins_are_rate_limited_per_client_address(client, session, app, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_RATE_LIMIT", "3 per minute")
    user = make_user(session)
    address = {"REMOTE_ADDR": "203.0.113.7"}

    answers = [login(client, user.username, environ_base=address).status_code for _ in range(4)]
    other_address = login(client, user.username, environ_base={"REMOTE_ADDR": "203.0.113.8"})

    assert answers == [200, 200, 200, 429]
    assert other_address.status_code == 200


def test_rate_limited_answer_is_a_problem_with_retry_after(client, session, app, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_RATE_LIMIT", "1 per minute")
    address = {"REMOTE_ADDR": "203.0.113.9"}
    login(client, "someone", environ_base=address)

    response = login(client, "someone", environ_base=address)

    assert response.status_code == 429
    assert response.mimetype == "application/problem+json"
    assert response.json["code"] == "rate_limited"
    assert int(response.headers["Retry-After"]) > 0


def test_login_validates_its_body(client):
    response = client.post("/api/v1/auth/login", json={"username": "x"})

    assert response.status_code == 422
    assert response.json["errors"] == {"json": {"password": ["Missing data for required field."]}}
