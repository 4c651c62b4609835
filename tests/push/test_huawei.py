import dataclasses
import json
from urllib.parse import parse_qs

import pytest

from app.push.base import Failed, InvalidToken, Retry, Sent
from app.push.huawei import HuaweiAdapter
from tests.push.helpers import android, message, sends
from tests.standins import Behaviour


@pytest.fixture
def adapter(push_settings, huawei_standin, clock):
    adapter = HuaweiAdapter(push_settings.huawei, timeout=5, clock=clock)
    yield adapter
    adapter.close()


def token_requests(standin):
    return [entry for entry in standin.received if entry.request.path == "/oauth2/v3/token"]


def test_a_notice_reaches_push_kit_as_a_work_notification(adapter, huawei_standin):
    notice = message()

    outcome = adapter.send(android("hw-token-1"), notice)

    [received] = sends(huawei_standin)
    assert outcome == Sent(received.body["requestId"])
    assert received.request.path == f"/v1/{huawei_standin.app_id}/messages:send"
    assert received.headers["authorization"].startswith("Bearer ")
    body = received.request.json()
    assert body["validate_only"] is False
    assert body["message"]["token"] == ["hw-token-1"]
    assert json.loads(body["message"]["data"]) == {"notice_id": notice.notice_id, "kind": "notice"}
    assert body["message"]["android"] == {
        "urgency": "HIGH",
        "ttl": "86400s",
        "notification": {
            "title": "查验通知 …1234",
            "body": "查验通知 …1234",
            "click_action": {"type": 3},
            "tag": "decl-123:inspection",
            "category": "WORK",
            "importance": "NORMAL",
        },
    }


def test_a_clear_push_is_a_data_message(adapter, huawei_standin):
    assert isinstance(adapter.send(android(), message(clear=True)), Sent)

    android_config = sends(huawei_standin)[0].request.json()["message"]["android"]
    assert android_config == {"urgency": "NORMAL", "ttl": "86400s"}


def test_the_access_token_comes_from_the_client_credentials_grant_and_is_reused(adapter, huawei_standin):
    for n in range(4):
        assert isinstance(adapter.send(android(f"hw-token-{n}"), message()), Sent)

    [grant] = token_requests(huawei_standin)
    form = {key: values[0] for key, values in parse_qs(grant.request.raw.decode()).items()}
    assert form == {
        "grant_type": "client_credentials",
        "client_id": huawei_standin.app_id,
        "client_secret": huawei_standin.client_secret,
    }
    assert len({entry.headers["authorization"] for entry in sends(huawei_standin)}) == 1


def test_the_access_token_is_renewed_when_its_hour_is_nearly_up(adapter, huawei_standin, clock):
    adapter.send(android(), message())
    clock.advance(3600 - 30)

    adapter.send(android(), message())

    assert len(token_requests(huawei_standin)) == 2


def test_an_expired_access_token_80200003_is_replaced_once_and_the_push_goes_out(adapter, huawei_standin):
    adapter.send(android(), message())
    huawei_standin.tokens.revoke_all()

    outcome = adapter.send(android(), message())

    assert isinstance(outcome, Sent)
    assert [entry.body["code"] for entry in sends(huawei_standin)] == ["80000000", "80200003", "80000000"]
    assert len(token_requests(huawei_standin)) == 2


def test_all_tokens_invalid_80300007_means_an_invalid_token(adapter, huawei_standin):
    outcome = adapter.send(android("dead-hw-token"), message())

    assert isinstance(outcome, InvalidToken) and "80300007" in outcome.reason


def test_a_partial_success_listing_our_token_means_an_invalid_token(adapter, huawei_standin):
    huawei_standin.dead_answer = "80100000"

    outcome = adapter.send(android("dead-hw-token"), message())

    assert isinstance(outcome, InvalidToken) and "80100000" in outcome.reason


def test_flow_control_is_retried_after_the_providers_delay(adapter, huawei_standin):
    huawei_standin.script("hw-token-7", Behaviour.BUSY)

    outcome = adapter.send(android("hw-token-7"), message())

    assert isinstance(outcome, Retry) and outcome.after_seconds == 30.0


def test_a_system_error_is_retried(adapter, huawei_standin):
    outcome = adapter.send(android("down-hw-token"), message())

    assert isinstance(outcome, Retry) and "81000001" in outcome.reason


def test_an_oversized_message_fails_before_anything_is_sent(adapter, huawei_standin):
    outcome = adapter.send(android(), message(title="检" * 800))

    assert isinstance(outcome, Failed)
    assert huawei_standin.received == []


def test_a_wrong_client_secret_is_a_failure(push_settings, huawei_standin):
    adapter = HuaweiAdapter(dataclasses.replace(push_settings.huawei, client_secret="wrong"), timeout=5)
    try:
        outcome = adapter.send(android(), message())
    finally:
        adapter.close()

    assert isinstance(outcome, Failed) and "refused our credentials" in outcome.reason
    assert sends(huawei_standin) == []
