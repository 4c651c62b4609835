"""What the push outbox relies on: which devices are active, and dead tokens switched off."""

from datetime import timedelta

import pytest

from app.common import clock
from app.devices import service
from app.errors import NotFound
from tests.devices.helpers import iphone, listed, put
from tests.factories import make_device, make_user


def test_active_devices_leave_out_removed_invalidated_and_unpermitted_ones(session):
    user = make_user(session)
    now = clock.utcnow()
    active = make_device(session, user=user)
    make_device(session, user=user, removed_at=now)
    make_device(session, user=user, invalidated_at=now, invalid_reason="Unregistered")
    make_device(session, user=user, push_permission=False)
    make_device(session)

    assert service.active_devices(session, user.id) == [active]


def test_devices_unseen_for_30_days_get_no_pushes(client, session, auth_headers, monkeypatch):
    user = make_user(session)
    headers = auth_headers(user)
    put(client, headers, "install-0001", iphone())
    later = clock.utcnow() + timedelta(days=31)
    monkeypatch.setattr(clock, "utcnow", lambda: later)

    stale = service.active_devices(session, user.id)
    put(client, headers, "install-0001", iphone())

    assert stale == []
    assert [device.device_id for device in service.active_devices(session, user.id)] == ["install-0001"]


def test_an_invalidated_token_stays_off_until_the_app_sends_a_new_one(client, session, auth_headers):
    user = make_user(session)
    headers = auth_headers(user)
    put(client, headers, "install-0001", iphone())
    device = service.find_device(session, "install-0001")

    service.invalidate_token(session, device, reason="Unregistered")
    session.flush()
    same_token = put(client, headers, "install-0001", iphone()).json
    new_token = put(client, headers, "install-0001", iphone(token="cd" * 32)).json

    assert (same_token["active"], same_token["invalid_reason"]) == (False, "Unregistered")
    assert (new_token["active"], new_token["invalidated_at"], new_token["invalid_reason"]) == (True, None, None)
    assert service.active_devices(session, user.id) == [device]


def test_a_corrected_apns_environment_gets_another_try(client, session, auth_headers):
    headers = auth_headers(make_user(session))
    put(client, headers, "install-0001", iphone())
    # A development build's sandbox token sent to the production host fails as BadDeviceToken.
    service.invalidate_token(session, service.find_device(session, "install-0001"), reason="BadDeviceToken")
    session.flush()

    corrected = put(client, headers, "install-0001", iphone(apns_environment="sandbox")).json

    assert corrected["active"] is True


def test_a_dead_token_report_for_a_replaced_token_changes_nothing(client, session, auth_headers):
    user = make_user(session)
    headers = auth_headers(user)
    put(client, headers, "install-0001", iphone())
    device = service.find_device(session, "install-0001")
    sent_to = device.token
    put(client, headers, "install-0001", iphone(token="cd" * 32))

    service.invalidate_token(session, device.id, reason="Unregistered", token=sent_to)
    session.flush()

    assert listed(client, headers)["install-0001"]["active"] is True


def test_the_first_dead_token_report_is_kept(session):
    device = make_device(session)

    service.invalidate_token(session, device, reason="Unregistered")
    first_at = device.invalidated_at
    service.invalidate_token(session, device.id, reason="BadDeviceToken")

    assert (device.invalidated_at, device.invalid_reason) == (first_at, "Unregistered")


def test_invalidating_an_unknown_device_is_not_found(session):
    with pytest.raises(NotFound):
        service.invalidate_token(session, 10**12, reason="Unregistered")


def test_a_deactivated_users_devices_get_no_pushes(session):
    user = make_user(session)
    make_device(session, user=user)
    user.is_active = False
    session.flush()

    assert service.active_devices(session, user.id) == []
