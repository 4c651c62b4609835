import dataclasses
from urllib.parse import parse_qs

import jwt
import pytest

from app.push.base import Failed, InvalidToken, Retry, Sent
from app.push.fcm import FcmAdapter
from tests.push.helpers import android, message, sends
from tests.standins import Behaviour


@pytest.fixture
def adapter(push_settings, fcm_standin, clock):
    adapter = FcmAdapter(push_settings.fcm, timeout=5, clock=clock)
    yield adapter
    adapter.close()


def token_requests(standin):
    return [entry for entry in standin.received if entry.request.path == "/token"]


def test_a_notice_reaches_fcm_v1_with_its_request_shape(adapter, fcm_standin):
    notice = message()

    outcome = adapter.send(android("fcm-token-1"), notice)

    assert outcome == Sent(sends(fcm_standin)[0].body["name"])
    [received] = sends(fcm_standin)
    assert received.request.path == f"/v1/projects/{fcm_standin.project_id}/messages:send"
    assert received.headers["authorization"].startswith("Bearer ya29.standin-")
    body = received.request.json()["message"]
    assert body["token"] == "fcm-token-1"
    assert body["data"] == {"notice_id": notice.notice_id, "kind": "notice"}
    assert body["notification"] == {"title": "查验通知 …1234"}
    assert body["android"] == {
        "priority": "HIGH",
        "ttl": "86400s",
        "collapse_key": "decl-123:inspection",
        "notification": {"tag": "decl-123:inspection"},
    }
    assert body["apns"]["headers"]["apns-collapse-id"] == "decl-123:inspection"
    assert body["apns"]["headers"]["apns-push-type"] == "alert"


def test_a_clear_push_is_data_only(adapter, fcm_standin):
    notice = message(clear=True)

    assert isinstance(adapter.send(android(), notice), Sent)

    body = sends(fcm_standin)[0].request.json()["message"]
    assert "notification" not in body
    assert body["data"] == {"notice_id": notice.notice_id, "kind": "clear"}
    assert body["android"]["priority"] == "NORMAL"
    assert body["apns"]["payload"] == {"aps": {"content-available": 1}}


def test_the_access_token_comes_from_a_jwt_bearer_grant_signed_by_the_service_account(adapter, fcm_standin):
    adapter.send(android(), message())

    [grant] = token_requests(fcm_standin)
    form = {key: values[0] for key, values in parse_qs(grant.request.raw.decode()).items()}
    assert form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    claims = jwt.decode(form["assertion"], options={"verify_signature": False})
    assert claims["iss"] == fcm_standin.client_email
    assert claims["aud"] == fcm_standin.token_uri
    assert claims["scope"] == "https://www.googleapis.com/auth/firebase.messaging"
    assert 0 < claims["exp"] - claims["iat"] <= 3600
    assert jwt.get_unverified_header(form["assertion"])["alg"] == "RS256"


def test_the_access_token_is_fetched_once_and_reused(adapter, fcm_standin):
    for n in range(5):
        assert isinstance(adapter.send(android(f"fcm-token-{n}"), message()), Sent)

    assert len(token_requests(fcm_standin)) == 1
    assert len({entry.headers["authorization"] for entry in sends(fcm_standin)}) == 1


def test_the_access_token_is_renewed_shortly_before_it_expires(adapter, fcm_standin, clock):
    adapter.send(android(), message())
    clock.advance(3600 - 120)
    adapter.send(android(), message())
    assert len(token_requests(fcm_standin)) == 1

    clock.advance(90)
    adapter.send(android(), message())

    assert len(token_requests(fcm_standin)) == 2


def test_a_rejected_access_token_is_replaced_once_and_the_push_goes_out(adapter, fcm_standin):
    adapter.send(android(), message())
    fcm_standin.tokens.revoke_all()

    outcome = adapter.send(android(), message())

    assert isinstance(outcome, Sent)
    assert [entry.status for entry in sends(fcm_standin)] == [200, 401, 200]
    assert len(token_requests(fcm_standin)) == 2


def test_a_second_401_with_a_fresh_token_is_a_failure(adapter, fcm_standin):
    fcm_standin.tokens.ttl = 0  # every token it hands out is already expired (reset() restores it)

    outcome = adapter.send(android(), message())

    assert isinstance(outcome, Failed) and "401" in outcome.reason
    assert len(sends(fcm_standin)) == 2


@pytest.mark.parametrize("answer", ["UNREGISTERED", "INVALID_ARGUMENT", "SENDER_ID_MISMATCH"])
def test_fcms_dead_token_answers_mean_an_invalid_token(adapter, fcm_standin, answer):
    fcm_standin.dead_answer = answer

    outcome = adapter.send(android("dead-fcm-token"), message())

    assert isinstance(outcome, InvalidToken)


def test_quota_exceeded_is_retried_after_the_providers_delay(adapter, fcm_standin):
    fcm_standin.script("fcm-token-9", Behaviour.BUSY)

    outcome = adapter.send(android("fcm-token-9"), message())

    assert isinstance(outcome, Retry) and outcome.after_seconds == 30.0


def test_unavailable_is_retried(adapter, fcm_standin):
    outcome = adapter.send(android("down-fcm-token"), message())

    assert isinstance(outcome, Retry) and outcome.after_seconds is None and "503" in outcome.reason


def test_an_oversized_message_fails_before_anything_is_sent(adapter, fcm_standin):
    outcome = adapter.send(android(), message(title="检" * 1400))

    assert isinstance(outcome, Failed) and "4096" in outcome.reason
    assert fcm_standin.received == []


def test_a_service_account_the_token_endpoint_refuses_is_a_failure(push_settings, fcm_standin):
    wrong = dataclasses.replace(push_settings.fcm, client_email="someone@else.iam.gserviceaccount.com")
    adapter = FcmAdapter(wrong, timeout=5)
    try:
        outcome = adapter.send(android(), message())
    finally:
        adapter.close()

    assert isinstance(outcome, Failed) and "refused our credentials" in outcome.reason
    assert sends(fcm_standin) == []


def test_an_unreachable_token_endpoint_is_retried(push_settings):
    unreachable = dataclasses.replace(push_settings.fcm, token_uri="http://127.0.0.1:9/token")
    adapter = FcmAdapter(unreachable, timeout=2)
    try:
        outcome = adapter.send(android(), message())
    finally:
        adapter.close()

    assert isinstance(outcome, Retry) and "unreachable" in outcome.reason
