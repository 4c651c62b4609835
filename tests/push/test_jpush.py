import base64
import dataclasses

import pytest

from app.devices.models import ApnsEnvironment
from app.push.base import Failed, InvalidToken, Retry, Sent
from app.push.jpush import JPushAdapter
from tests.push.helpers import android, harmony, iphone, message
from tests.standins import Behaviour


@pytest.fixture
def adapter(push_settings, jpush_standin):
    adapter = JPushAdapter(push_settings.jpush, timeout=5)
    yield adapter
    adapter.close()


def test_an_android_notice_reaches_jpush_v3_with_its_request_shape(adapter, jpush_standin):
    notice = message()

    outcome = adapter.send(android("1a0018970a2b3c4d"), notice)

    [received] = jpush_standin.received
    assert outcome == Sent(received.body["msg_id"])
    assert received.request.path == "/v3/push"
    credentials = f"{jpush_standin.app_key}:{jpush_standin.master_secret}".encode()
    assert received.headers["authorization"] == "Basic " + base64.b64encode(credentials).decode()
    body = received.request.json()
    assert body["platform"] == ["android"]
    assert body["audience"] == {"registration_id": ["1a0018970a2b3c4d"]}
    assert body["notification"] == {
        "android": {"alert": "查验通知 …1234", "extras": {"notice_id": notice.notice_id, "kind": "notice"}}
    }
    options = body["options"]
    assert isinstance(options["sendno"], int) and received.body["sendno"] == str(options["sendno"])
    assert options["time_to_live"] == 86400
    assert options["classification"] == 1
    assert options["third_party_channel"]["huawei"] == {"importance": "NORMAL", "category": "WORK"}
    assert "apns_production" not in options


def test_the_same_notice_always_gets_the_same_sendno(adapter, jpush_standin):
    notice = message()

    adapter.send(android(), notice)
    adapter.send(android(), notice)

    first, second = (entry.request.json()["options"]["sendno"] for entry in jpush_standin.received)
    assert first == second


def test_an_iphone_through_jpush_names_its_apns_environment_and_collapse_id(adapter, jpush_standin):
    adapter.send(iphone("ios-reg-1", environment=ApnsEnvironment.SANDBOX), message())

    body = jpush_standin.received[0].request.json()
    assert body["platform"] == ["ios"]
    assert body["options"]["apns_production"] is False
    assert body["options"]["apns_collapse_id"] == "decl-123:inspection"
    assert body["notification"]["ios"]["thread-id"] == "decl-123:inspection"
    assert body["notification"]["ios"]["sound"] == "default"


def test_a_harmonyos_notice_goes_out_as_a_work_notification(adapter, jpush_standin):
    assert isinstance(adapter.send(harmony(), message()), Sent)

    body = jpush_standin.received[0].request.json()
    assert body["platform"] == ["hmos"]
    assert body["notification"]["hmos"]["category"] == "WORK"


def test_a_clear_push_to_android_is_a_pass_through_message(adapter, jpush_standin):
    notice = message(clear=True)

    assert isinstance(adapter.send(android(), notice), Sent)

    body = jpush_standin.received[0].request.json()
    assert "notification" not in body
    assert body["message"] == {"msg_content": "clear", "extras": {"notice_id": notice.notice_id, "kind": "clear"}}


def test_a_clear_push_to_an_iphone_is_a_silent_background_notification(adapter, jpush_standin):
    assert isinstance(adapter.send(iphone("ios-reg-2"), message(clear=True)), Sent)

    ios = jpush_standin.received[0].request.json()["notification"]["ios"]
    assert ios["content-available"] is True and ios["alert"] == ""


def test_the_ttl_is_capped_at_jpushs_ten_days(adapter, jpush_standin):
    assert isinstance(adapter.send(android(), message(ttl_seconds=30 * 86400)), Sent)

    assert jpush_standin.received[0].request.json()["options"]["time_to_live"] == 10 * 86400


def test_error_1011_means_an_invalid_token(adapter, jpush_standin):
    outcome = adapter.send(android("dead-1a0018970a"), message())

    assert isinstance(outcome, InvalidToken) and "1011" in outcome.reason


def test_the_rate_limit_is_retried_when_jpushs_window_resets(adapter, jpush_standin):
    jpush_standin.script("1a0018970b", Behaviour.BUSY)

    outcome = adapter.send(android("1a0018970b"), message())

    assert isinstance(outcome, Retry) and outcome.after_seconds == 30.0 and "2002" in outcome.reason


def test_an_internal_timeout_is_retried(adapter, jpush_standin):
    outcome = adapter.send(android("down-1a0018970c"), message())

    assert isinstance(outcome, Retry) and "1030" in outcome.reason


def test_a_wrong_master_secret_is_a_failure(push_settings, jpush_standin):
    adapter = JPushAdapter(dataclasses.replace(push_settings.jpush, master_secret="wrong"), timeout=5)
    try:
        outcome = adapter.send(android(), message())
    finally:
        adapter.close()

    assert isinstance(outcome, Failed) and "1004" in outcome.reason


def test_an_oversized_push_fails_before_anything_is_sent(adapter, jpush_standin):
    outcome = adapter.send(android(), message(title="检" * 1400))

    assert isinstance(outcome, Failed)
    assert jpush_standin.received == []
