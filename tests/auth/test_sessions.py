"""A user's own sign-ins: listed with device and network, ended one at a time or all but this one."""

from app.users.models import Role
from tests.devices.helpers import iphone, put
from tests.factories import PASSWORD, make_user

SESSIONS = "/api/v1/me/sessions"
PHONE = {"REMOTE_ADDR": "198.51.100.23", "HTTP_USER_AGENT": "SmartPark/2.4 (iPhone)"}
DESK = {"REMOTE_ADDR": "2001:db8:1234:5678::9", "HTTP_USER_AGENT": "SmartPark/2.4 (Android)"}


def sign_in(client, user, environ):
    response = client.post(
        "/api/v1/auth/login", json={"username": user.username, "password": PASSWORD}, environ_base=environ
    )
    assert response.status_code == 200
    return {"Authorization": f"Bearer {response.json['access_token']}"}, response.json["refresh_token"]


def test_sessions_list_device_app_version_network_and_mark_the_current_one(client, session):
    user = make_user(session, role=Role.DECLARANT)
    phone, _ = sign_in(client, user, PHONE)
    desk, _ = sign_in(client, user, DESK)
    put(client, phone, "install-phone-1", iphone(app_version="2.4.0"))

    listed = client.get(SESSIONS, headers=desk)

    assert listed.status_code == 200
    items = {item["network"]: item for item in listed.json["items"]}
    assert set(items) == {"198.51.100.0/24", "2001:db8:1234::/48"}
    assert items["2001:db8:1234::/48"]["current"] is True and items["2001:db8:1234::/48"]["device"] is None
    on_phone = items["198.51.100.0/24"]
    assert on_phone["current"] is False
    assert on_phone["device"] == {
        "device_id": "install-phone-1",
        "platform": "ios",
        "app_version": "2.4.0",
        "os_version": "17.5",
    }
    assert on_phone["user_agent"] == "SmartPark/2.4 (iPhone)"
    assert on_phone["last_seen_at"] >= on_phone["signed_in_at"]
    assert listed.json["has_more"] is False


def test_nobody_else_sees_my_sessions(client, session):
    mine, theirs = make_user(session), make_user(session)
    sign_in(client, mine, PHONE)
    headers, _ = sign_in(client, theirs, DESK)

    listed = client.get(SESSIONS, headers=headers).json["items"]

    assert [item["network"] for item in listed] == ["2001:db8:1234::/48"]


def test_revoking_a_second_device_ends_its_tokens_and_its_pushes(client, session):
    user = make_user(session)
    phone, phone_refresh = sign_in(client, user, PHONE)
    desk, _ = sign_in(client, user, DESK)
    put(client, phone, "install-phone-1", iphone())
    [other] = [item for item in client.get(SESSIONS, headers=desk).json["items"] if not item["current"]]

    revoked = client.delete(f"{SESSIONS}/{other['id']}", headers=desk)

    assert revoked.status_code == 204
    assert client.get("/api/v1/me", headers=phone).json["code"] == "session_revoked"
    refreshed = client.post("/api/v1/auth/refresh", json={"refresh_token": phone_refresh})
    assert refreshed.json["code"] == "session_revoked"
    assert client.get("/api/v1/devices", headers=desk).json["items"] == []
    assert [item["current"] for item in client.get(SESSIONS, headers=desk).json["items"]] == [True]
    # Ending it again changes nothing.
    assert client.delete(f"{SESSIONS}/{other['id']}", headers=desk).status_code == 204


def test_someone_elses_session_is_not_found(client, session):
    mine, theirs = make_user(session), make_user(session)
    headers, _ = sign_in(client, mine, PHONE)
    their_headers, _ = sign_in(client, theirs, DESK)
    [their_session] = client.get(SESSIONS, headers=their_headers).json["items"]

    response = client.delete(f"{SESSIONS}/{their_session['id']}", headers=headers)

    assert response.status_code == 404
    assert client.get("/api/v1/me", headers=their_headers).status_code == 200


def test_revoke_others_keeps_only_this_sign_in(client, session):
    user = make_user(session)
    phone, _ = sign_in(client, user, PHONE)
    tablet, _ = sign_in(client, user, PHONE)
    desk, _ = sign_in(client, user, DESK)

    response = client.post(f"{SESSIONS}/revoke-others", headers=desk)

    assert response.status_code == 200 and response.json == {"revoked": 2}
    assert client.get("/api/v1/me", headers=phone).status_code == 401
    assert client.get("/api/v1/me", headers=tablet).status_code == 401
    assert client.get("/api/v1/me", headers=desk).status_code == 200
    assert len(client.get(SESSIONS, headers=desk).json["items"]) == 1


def test_session_ids_that_are_not_uuids_are_not_found(client, session):
    headers, _ = sign_in(client, make_user(session), PHONE)

    assert client.delete(f"{SESSIONS}/not-a-uuid", headers=headers).status_code == 404
