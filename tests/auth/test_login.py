import sqlite3

import jwt
import pytest

from app.auth import passwords
from app.users.models import Role
from tests.conftest import TEST_JWT_SECRET, scratch_app
from tests.databases import configured_url, is_postgres
from tests.factories import PASSWORD, make_user

STRANGER = {"REMOTE_ADDR": "203.0.113.66"}
OWNER = {"REMOTE_ADDR": "192.0.2.10"}


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


def test_wrong_passwords_from_a_stranger_never_lock_the_owner_out(client, session):
    owner = make_user(session)
    for _ in range(20):
        login(client, owner.username, "wrong-password", environ_base=STRANGER)

    assert login(client, owner.username, environ_base=OWNER).status_code == 200


def test_service_accounts_cannot_be_locked_out_by_anyone(client, session):
    gateway = make_user(session, role=Role.CUSTOMS_GATEWAY)
    for _ in range(20):
        login(client, gateway.username, "wrong-password", environ_base=STRANGER)

    assert login(client, gateway.username, environ_base=OWNER).status_code == 200


def test_failures_from_one_address_throttle_that_address_for_that_account(client, session, app, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_FAILURE_LIMIT", "3 per 15 minutes")
    owner, other = make_user(session), make_user(session)
    failures = [login(client, owner.username, "wrong", environ_base=STRANGER).status_code for _ in range(4)]

    throttled = login(client, owner.username, environ_base=STRANGER)

    assert failures == [401, 401, 401, 429]
    assert throttled.status_code == 429
    assert throttled.json["code"] == "login_throttled"
    assert 0 < int(throttled.headers["Retry-After"]) <= 15 * 60
    assert login(client, owner.username, environ_base=OWNER).status_code == 200
    assert login(client, other.username, environ_base=STRANGER).status_code == 200


def test_an_account_guessed_at_from_many_addresses_still_admits_its_owner_where_they_sign_in(
    client, session, app, monkeypatch
):
    monkeypatch.setitem(app.config, "LOGIN_ACCOUNT_FAILURE_LIMIT", "5 per hour")
    owner = make_user(session)
    assert login(client, owner.username, environ_base=OWNER).status_code == 200
    for bot in range(6):
        login(client, owner.username, "wrong", environ_base={"REMOTE_ADDR": f"198.51.100.{bot + 1}"})

    from_a_new_address = login(client, owner.username, environ_base={"REMOTE_ADDR": "192.0.2.99"})
    from_the_owners_address = login(client, owner.username, environ_base=OWNER)

    assert from_a_new_address.status_code == 429
    assert from_the_owners_address.status_code == 200


def test_a_success_does_not_erase_earlier_failures_from_that_address(client, session, app, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_FAILURE_LIMIT", "2 per 15 minutes")
    user = make_user(session)
    login(client, user.username, "wrong", environ_base=STRANGER)
    assert login(client, user.username, environ_base=STRANGER).status_code == 200

    login(client, user.username, "wrong", environ_base=STRANGER)

    assert login(client, user.username, environ_base=STRANGER).status_code == 429


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


@pytest.mark.skipif(is_postgres(configured_url()), reason="SQLite's one write lock")
def test_the_slow_password_check_holds_no_write_lock(tmp_path, monkeypatch):
    with scratch_app(tmp_path) as app:
        with app.extensions["sessionmaker"]() as session:
            username = make_user(session).username
            session.commit()
        database = app.extensions["engine"].url.database
        real_verify, writers = passwords.verify_password, []

        def verify(password_hash, password):
            # Another writer, while the hash is being checked: it must get the lock at once.
            probe = sqlite3.connect(database, timeout=0, isolation_level=None)
            try:
                probe.execute("BEGIN IMMEDIATE")
                probe.execute("ROLLBACK")
                writers.append("got the lock")
            except sqlite3.OperationalError as error:
                writers.append(str(error))
            finally:
                probe.close()
            return real_verify(password_hash, password)

        monkeypatch.setattr(passwords, "verify_password", verify)
        response = login(app.test_client(), username)

    assert response.status_code == 200
    assert writers == ["got the lock"]
