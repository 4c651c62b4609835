import base64
import json
import time
from datetime import timedelta

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from app.auth import tokens
from app.common import clock
from tests.conftest import TEST_JWT_SECRET
from tests.factories import PASSWORD, make_user


@pytest.fixture
def user(session):
    return make_user(session)


@pytest.fixture
def pair(client, user):
    response = client.post("/api/v1/auth/login", json={"username": user.username, "password": PASSWORD})
    assert response.status_code == 200
    return response.json


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def me(client, token):
    return client.get("/api/v1/me", headers=bearer(token))


def claims_of(token):
    return jwt.decode(token, TEST_JWT_SECRET, algorithms=["HS256"], audience="smart-park-api", issuer="smart-park")


def test_a_fresh_access_token_works(client, pair):
    assert me(client, pair["access_token"]).status_code == 200


def test_no_token_is_a_401_with_a_challenge(client):
    response = client.get("/api/v1/me")

    assert response.status_code == 401
    assert response.json["code"] == "authentication_required"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def reissued(pair, settings, *, now):
    """The same sign-in's access token, as if it had been issued at `now`."""
    claims = claims_of(pair["access_token"])
    return tokens.encode_access_token(
        settings,
        user_id=int(claims["sub"]),
        session_id=claims["sid"],
        role=claims["role"],
        enterprise_id=claims["ent"],
        now=now,
    )


def test_an_expired_token_is_refused(client, pair, settings):
    expired = reissued(pair, settings, now=clock.utcnow() - timedelta(hours=1))

    response = me(client, expired)

    assert response.status_code == 401
    assert response.json["code"] == "token_expired"


def test_a_token_that_worked_is_refused_once_it_expires(client, pair, settings):
    nearly_expired = reissued(pair, settings, now=clock.utcnow() - settings.access_token_ttl + timedelta(seconds=2))
    assert me(client, nearly_expired).status_code == 200
    time.sleep(2.1)  # past exp, which the encoder rounds down to a whole second

    response = me(client, nearly_expired)

    assert response.status_code == 401
    assert response.json["code"] == "token_expired"


def test_a_tampered_payload_is_refused(client, pair):
    header, payload, signature = pair["access_token"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["role"] = "admin"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")

    response = me(client, f"{header}.{forged}.{signature}")

    assert response.status_code == 401
    assert response.json["code"] == "token_invalid"


def test_a_token_signed_with_another_key_is_refused(client, pair):
    claims = claims_of(pair["access_token"])
    forged = jwt.encode(claims, "another-secret-of-sufficient-length-0123456789", algorithm="HS256")

    assert me(client, forged).json["code"] == "token_invalid"


def test_alg_none_is_refused(client, pair):
    claims = claims_of(pair["access_token"])
    unsigned = jwt.encode(claims, None, algorithm="none")

    response = me(client, unsigned)

    assert response.status_code == 401
    assert response.json["code"] == "token_invalid"


def test_a_token_signed_with_another_algorithm_is_refused(client, pair):
    claims = claims_of(pair["access_token"])
    hs512 = jwt.encode(claims, TEST_JWT_SECRET, algorithm="HS512")
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rs256 = jwt.encode(claims, private_key, algorithm="RS256")

    assert me(client, hs512).json["code"] == "token_invalid"
    assert me(client, rs256).json["code"] == "token_invalid"


def test_a_token_without_exp_is_refused(client, pair):
    claims = claims_of(pair["access_token"])
    del claims["exp"]

    assert me(client, jwt.encode(claims, TEST_JWT_SECRET, algorithm="HS256")).json["code"] == "token_invalid"


def test_garbage_is_refused(client):
    assert me(client, "not.a.jwt").json["code"] == "token_invalid"


def test_refresh_rotates_the_pair(client, pair):
    response = client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})

    assert response.status_code == 200
    assert response.json["refresh_token"] != pair["refresh_token"]
    assert me(client, response.json["access_token"]).status_code == 200


def test_reusing_a_retired_refresh_token_revokes_the_whole_family(client, pair):
    rotated = client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}).json

    replay = client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})

    assert replay.status_code == 401
    assert replay.json["code"] == "refresh_token_reused"
    # The thief's copy and the legitimate holder's newer tokens are all dead now.
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": rotated["refresh_token"]}).json["code"] == (
        "session_revoked"
    )
    assert me(client, rotated["access_token"]).json["code"] == "session_revoked"
    assert me(client, pair["access_token"]).json["code"] == "session_revoked"


def test_refresh_token_reuse_is_audited(client, pair, user, session):
    client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})

    from app.audit import service as audit

    events = audit.list_events(session, action="auth.refresh_token_reused", limit=10).items
    assert [event.target_id for event in events] == [str(user.id)]


def test_an_unknown_refresh_token_is_refused(client):
    response = client.post("/api/v1/auth/refresh", json={"refresh_token": "made-up"})

    assert response.status_code == 401
    assert response.json["code"] == "refresh_token_invalid"


def test_an_expired_refresh_token_is_refused(client, pair, settings, monkeypatch):
    later = clock.utcnow() + settings.refresh_token_ttl + timedelta(minutes=1)
    monkeypatch.setattr(clock, "utcnow", lambda: later)

    response = client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})

    assert response.json["code"] == "refresh_token_invalid"


def test_logout_ends_the_access_and_refresh_tokens(client, pair):
    assert client.post("/api/v1/auth/logout", headers=bearer(pair["access_token"])).status_code == 204

    assert me(client, pair["access_token"]).json["code"] == "session_revoked"
    refresh = client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert refresh.json["code"] == "session_revoked"


def test_logout_leaves_other_sign_ins_alone(client, user, pair):
    other = client.post("/api/v1/auth/login", json={"username": user.username, "password": PASSWORD}).json

    client.post("/api/v1/auth/logout", headers=bearer(pair["access_token"]))

    assert me(client, other["access_token"]).status_code == 200


def test_a_deactivated_users_live_token_stops_working_at_once(client, session, user, pair):
    user.is_active = False
    session.flush()

    response = me(client, pair["access_token"])

    assert response.status_code == 401
    assert response.json["code"] == "account_disabled"


def test_an_admin_locked_users_live_token_stops_working(client, session, user, pair):
    user.is_locked = True
    session.flush()

    assert me(client, pair["access_token"]).json["code"] == "account_disabled"


def test_a_disabled_user_cannot_refresh(client, session, user, pair):
    user.is_active = False
    session.flush()

    response = client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})

    assert response.json["code"] == "account_disabled"
