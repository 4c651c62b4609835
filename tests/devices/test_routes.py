from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.common import clock
from app.devices.models import Device
from app.users.models import Role
from tests.devices.helpers import DEVICES, IPHONE_TOKEN, android, iphone, listed, put
from tests.factories import make_user


def move_clock(monkeypatch, **delta) -> datetime:
    later = clock.utcnow() + timedelta(**delta)
    monkeypatch.setattr(clock, "utcnow", lambda: later)
    return later


def test_the_first_registration_creates_the_device(client, session, auth_headers):
    response = put(client, auth_headers(make_user(session)), "install-0001", iphone())

    assert response.status_code == 201
    assert response.json["device_id"] == "install-0001"
    assert response.json["apns_environment"] == "production"
    assert (response.json["active"], response.json["stale"]) == (True, False)
    assert "token" not in response.json


def test_registering_again_refreshes_the_same_row(client, session, auth_headers, monkeypatch):
    headers = auth_headers(make_user(session))
    first = put(client, headers, "install-0001", iphone()).json
    row_id = session.scalar(select(Device.id).where(Device.device_id == "install-0001"))
    later = move_clock(monkeypatch, hours=5)

    again = put(client, headers, "install-0001", iphone(app_version="2.4.0"))

    assert again.status_code == 200
    assert again.json["app_version"] == "2.4.0"
    assert datetime.fromisoformat(again.json["last_seen_at"]) == later
    assert again.json["token_updated_at"] == first["token_updated_at"]
    assert session.scalars(select(Device.id).where(Device.device_id == "install-0001")).all() == [row_id]


def test_a_new_token_moves_token_updated_at(client, session, auth_headers, monkeypatch):
    headers = auth_headers(make_user(session))
    put(client, headers, "install-0001", iphone())
    later = move_clock(monkeypatch, hours=5)

    again = put(client, headers, "install-0001", iphone(token="cd" * 32)).json

    assert datetime.fromisoformat(again["token_updated_at"]) == later


@pytest.mark.parametrize("device_id", ["short", "x" * 65, "has space", "ünïcode-id"])
def test_a_malformed_device_id_is_refused(client, session, auth_headers, device_id):
    response = put(client, auth_headers(make_user(session)), device_id, iphone())

    assert response.status_code == 422
    assert list(response.json["errors"]) == ["path"]
    assert "device_id" in response.json["errors"]["path"]


def test_unknown_platforms_and_providers_are_refused(client, session, auth_headers):
    body = iphone(platform="symbian", provider="mipush")

    response = put(client, auth_headers(make_user(session)), "install-0001", body)

    assert response.status_code == 422
    assert set(response.json["errors"]["json"]) == {"platform", "provider"}


def test_apns_needs_its_environment_and_bundle_id(client, session, auth_headers):
    body = iphone(apns_environment=None, bundle_id=None)

    response = put(client, auth_headers(make_user(session)), "install-0001", body)

    assert response.status_code == 422
    assert response.json["errors"]["json"] == {
        "apns_environment": ["Required for APNs: sandbox or production."],
        "bundle_id": ["Required for APNs: it is the push topic."],
    }


@pytest.mark.parametrize(
    "token",
    ["ab" * 31, "ab" * 32 + "a", "zz" * 32, "<" + "ab" * 32 + ">", "ab" * 101],
    ids=["short", "odd", "not-hex", "bracketed", "too-long"],
)
def test_a_malformed_apns_token_is_refused(client, session, auth_headers, token):
    response = put(client, auth_headers(make_user(session)), "install-0001", iphone(token=token))

    assert response.status_code == 422
    assert list(response.json["errors"]["json"]) == ["token"]


def test_other_providers_take_any_visible_token_but_no_apns_environment(client, session, auth_headers):
    headers = auth_headers(make_user(session))

    spaced = put(client, headers, "install-0001", android(token="has a space in it"))
    with_environment = put(client, headers, "install-0001", android(apns_environment="production"))

    assert spaced.json["errors"]["json"] == {"token": ["8-512 visible ASCII characters without spaces."]}
    assert with_environment.json["errors"]["json"] == {"apns_environment": ["Only for APNs; leave it out."]}


def test_a_provider_must_serve_the_platform(client, session, auth_headers):
    response = put(client, auth_headers(make_user(session)), "install-0001", android(provider="apns"))

    assert response.status_code == 422
    assert response.json["errors"]["json"]["provider"] == ["apns does not deliver to android devices."]


def test_fields_a_newer_app_sends_are_ignored(client, session, auth_headers):
    response = put(client, auth_headers(make_user(session)), "install-0001", iphone(push_key="future-field"))

    assert response.status_code == 201


def test_apns_tokens_are_one_token_in_either_case(client, session, auth_headers):
    first, second = make_user(session), make_user(session)
    put(client, auth_headers(first), "install-0001", iphone(token=IPHONE_TOKEN.upper()))

    put(client, auth_headers(second), "install-0002", iphone(token=IPHONE_TOKEN))

    assert listed(client, auth_headers(first)) == {}


def test_a_token_registered_by_another_user_moves_to_them(client, session, auth_headers):
    first, second = make_user(session), make_user(session)
    put(client, auth_headers(first), "install-0001", iphone())

    taken = put(client, auth_headers(second), "install-0002", iphone())

    assert taken.status_code == 201
    assert listed(client, auth_headers(first)) == {}
    assert set(listed(client, auth_headers(second))) == {"install-0002"}
    live = select(func.count()).where(Device.token == IPHONE_TOKEN, Device.removed_at.is_(None))
    assert session.scalar(live) == 1


def test_a_device_registered_by_another_user_moves_to_them(client, session, auth_headers):
    first, second = make_user(session), make_user(session)
    put(client, auth_headers(first), "install-0001", iphone())

    taken = put(client, auth_headers(second), "install-0001", iphone())

    assert taken.status_code == 201
    assert listed(client, auth_headers(first)) == {}
    assert set(listed(client, auth_headers(second))) == {"install-0001"}


def test_another_users_device_id_without_its_token_is_refused(client, session, auth_headers):
    owner, stranger = make_user(session), make_user(session)
    put(client, auth_headers(owner), "install-0001", iphone())

    refused = put(client, auth_headers(stranger), "install-0001", android())

    assert refused.status_code == 409
    assert refused.json["code"] == "device_registered_elsewhere"
    assert set(listed(client, auth_headers(owner))) == {"install-0001"}
    assert listed(client, auth_headers(stranger)) == {}
    assert session.scalar(select(Device.token).where(Device.device_id == "install-0001")) == IPHONE_TOKEN


def test_a_signed_out_device_id_of_another_user_still_needs_its_token(client, session, auth_headers):
    owner, stranger = make_user(session), make_user(session)
    put(client, auth_headers(owner), "install-0001", iphone())
    client.delete(f"{DEVICES}/install-0001", headers=auth_headers(owner))

    refused = put(client, auth_headers(stranger), "install-0001", android())
    handed_over = put(client, auth_headers(stranger), "install-0001", iphone())

    assert refused.status_code == 409
    assert handed_over.status_code == 201


def test_signing_out_removes_the_device_until_it_registers_again(client, session, auth_headers):
    headers = auth_headers(make_user(session))
    put(client, headers, "install-0001", iphone())

    removed = client.delete(f"{DEVICES}/install-0001", headers=headers)
    after_sign_out = listed(client, headers)
    back = put(client, headers, "install-0001", iphone())

    assert removed.status_code == 204
    assert after_sign_out == {}
    assert back.status_code == 201
    assert set(listed(client, headers)) == {"install-0001"}


def test_a_repeated_sign_out_still_succeeds(client, session, auth_headers):
    headers = auth_headers(make_user(session))
    put(client, headers, "install-0001", iphone())
    client.delete(f"{DEVICES}/install-0001", headers=headers)

    assert client.delete(f"{DEVICES}/install-0001", headers=headers).status_code == 204


def test_nobody_can_remove_another_users_device(client, session, auth_headers):
    owner, other = make_user(session), make_user(session)
    put(client, auth_headers(owner), "install-0001", iphone())

    response = client.delete(f"{DEVICES}/install-0001", headers=auth_headers(other))

    assert response.status_code == 404
    assert response.json["code"] == "not_found"
    assert set(listed(client, auth_headers(owner))) == {"install-0001"}


def test_removing_an_unknown_device_is_not_found(client, session, auth_headers):
    response = client.delete(f"{DEVICES}/never-registered", headers=auth_headers(make_user(session)))

    assert response.status_code == 404


def test_the_list_shows_only_your_devices(client, session, auth_headers):
    me, other = make_user(session), make_user(session)
    put(client, auth_headers(me), "install-0001", iphone())
    put(client, auth_headers(me), "install-0002", android())
    put(client, auth_headers(other), "install-0003", iphone(token="cd" * 32))

    devices = client.get(DEVICES, headers=auth_headers(me)).json

    assert [item["device_id"] for item in devices["items"]] == ["install-0002", "install-0001"]
    assert devices["next_cursor"] is None


def test_devices_unseen_for_30_days_are_listed_stale_and_inactive(client, session, auth_headers, monkeypatch):
    headers = auth_headers(make_user(session))
    put(client, headers, "install-0001", iphone())
    move_clock(monkeypatch, days=31)

    device = listed(client, headers)["install-0001"]

    assert (device["stale"], device["active"]) == (True, False)


@pytest.mark.parametrize(
    "role", [Role.DECLARANT, Role.WAREHOUSE_OPERATOR, Role.CUSTOMS_OFFICER, Role.GATE_OPERATOR, Role.ADMIN]
)
def test_people_of_every_role_register_their_phones(client, session, auth_headers, role):
    response = put(client, auth_headers(make_user(session, role=role)), "install-0001", iphone())

    assert response.status_code == 201


def test_the_customs_gateway_may_not_register_devices(client, session, auth_headers):
    headers = auth_headers(make_user(session, role=Role.CUSTOMS_GATEWAY))

    registered = put(client, headers, "install-0001", iphone())
    listing = client.get(DEVICES, headers=headers)

    assert (registered.status_code, listing.status_code) == (403, 403)


def test_registering_needs_an_access_token(client):
    response = put(client, {}, "install-0001", iphone())

    assert response.status_code == 401
    assert response.json["code"] == "authentication_required"


def test_signing_out_works_while_a_password_change_is_pending(client, session, auth_headers):
    user = make_user(session)
    headers = auth_headers(user)
    put(client, headers, "install-0001", iphone())
    user.must_change_password = True
    session.flush()

    assert client.delete(f"{DEVICES}/install-0001", headers=headers).status_code == 204
