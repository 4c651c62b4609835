import dataclasses
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import jwt
import pytest

from app.devices.models import ApnsEnvironment
from app.push.apns import ApnsAdapter
from app.push.base import Failed, InvalidToken, PushTarget, Retry, Sent
from app.push.credentials import ApnsTokenSigner
from tests.push.helpers import BUNDLE_ID, FakeClock, iphone, message
from tests.standins import Behaviour


@pytest.fixture
def adapter(push_settings, apns_standin):
    adapter = ApnsAdapter(push_settings.apns, timeout=5)
    yield adapter
    adapter.close()


def test_an_alert_reaches_apns_over_http2_with_apples_request_shape(adapter, apns_standin):
    notice = message()

    outcome = adapter.send(iphone(), notice)

    assert isinstance(outcome, Sent) and outcome.provider_message_id
    [received] = apns_standin.received
    assert received.status == 200
    assert received.request.listener == "production"
    assert received.request.path == "/3/device/" + "a1" * 32
    headers = received.headers
    assert headers["apns-topic"] == BUNDLE_ID
    assert headers["apns-push-type"] == "alert"
    assert headers["apns-priority"] == "10"
    assert headers["apns-collapse-id"] == "decl-123:inspection"
    assert abs(int(headers["apns-expiration"]) - (time.time() + 86400)) < 60
    assert received.request.json() == {
        "aps": {"alert": {"title": "查验通知 …1234"}, "sound": "default", "thread-id": "decl-123:inspection"},
        "notice_id": notice.notice_id,
        "kind": "notice",
    }


def test_the_provider_token_is_an_es256_jwt_naming_the_key_and_team(adapter, apns_standin):
    adapter.send(iphone(), message())

    scheme, token = apns_standin.received[0].headers["authorization"].split(" ")
    assert scheme == "bearer"
    assert jwt.get_unverified_header(token) | {"typ": "JWT"} == {
        "alg": "ES256",
        "kid": apns_standin.key_id,
        "typ": "JWT",
    }
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["iss"] == apns_standin.team_id
    assert abs(claims["iat"] - time.time()) < 60


def test_sandbox_tokens_go_to_the_sandbox_host(adapter, apns_standin):
    outcome = adapter.send(iphone(environment=ApnsEnvironment.SANDBOX), message())

    assert isinstance(outcome, Sent)
    assert apns_standin.received[0].request.listener == "sandbox"


def test_a_clear_push_is_a_silent_background_push_at_priority_5(adapter, apns_standin):
    notice = message(clear=True)

    outcome = adapter.send(iphone(), notice)

    assert isinstance(outcome, Sent)
    received = apns_standin.received[0]
    assert received.headers["apns-push-type"] == "background"
    assert received.headers["apns-priority"] == "5"
    assert received.request.json() == {"aps": {"content-available": 1}, "notice_id": notice.notice_id, "kind": "clear"}


def test_a_normal_priority_alert_goes_at_priority_5(adapter, apns_standin):
    adapter.send(iphone(), message(high_priority=False))

    assert apns_standin.received[0].headers["apns-priority"] == "5"


def test_a_collapse_key_over_64_bytes_is_hashed_to_a_stable_id(adapter, apns_standin):
    long_key = "decl-" + "9" * 80 + ":inspection"

    first = adapter.send(iphone(), message(collapse_key=long_key))
    adapter.send(iphone(), message(collapse_key=long_key))

    assert isinstance(first, Sent)
    ids = {entry.headers["apns-collapse-id"] for entry in apns_standin.received}
    assert len(ids) == 1 and len(ids.pop()) == 64


@pytest.mark.parametrize("reason", ["Unregistered", "BadDeviceToken", "DeviceTokenNotForTopic"])
def test_apples_dead_token_answers_mean_an_invalid_token(adapter, apns_standin, reason):
    apns_standin.dead_answer = reason

    outcome = adapter.send(iphone("dead-" + "b2" * 32), message())

    assert outcome == InvalidToken(f"APNs {reason}")


def test_too_many_requests_is_retried_after_the_providers_delay(adapter, apns_standin):
    apns_standin.script("c3" * 32, Behaviour.BUSY)

    outcome = adapter.send(iphone("c3" * 32), message())

    assert outcome == Retry(after_seconds=30.0, reason="APNs 429 TooManyRequests")


def test_service_unavailable_is_retried(adapter, apns_standin):
    outcome = adapter.send(iphone("down-" + "d4" * 32), message())

    assert isinstance(outcome, Retry) and outcome.after_seconds is None


def test_an_oversized_payload_fails_without_reaching_apns(adapter, apns_standin):
    outcome = adapter.send(iphone(), message(title="检" * 1400))

    assert isinstance(outcome, Failed) and "4096" in outcome.reason
    assert apns_standin.received == []


def test_a_topic_the_key_may_not_use_is_a_failure_not_a_dead_token(adapter, apns_standin):
    target = dataclasses.replace(iphone(), bundle_id="cn.example.other")

    outcome = adapter.send(target, message())

    assert outcome == Failed("APNs 400 TopicDisallowed")


def test_a_device_without_a_bundle_id_is_not_sent(adapter, apns_standin):
    outcome = adapter.send(dataclasses.replace(iphone(), bundle_id=None), message())

    assert isinstance(outcome, Failed)
    assert apns_standin.received == []


def test_an_unreachable_apns_is_retried(push_settings):
    closed = dataclasses.replace(push_settings.apns, production_url="https://127.0.0.1:9")
    adapter = ApnsAdapter(closed, timeout=2)
    try:
        outcome = adapter.send(iphone(), message())
    finally:
        adapter.close()

    assert isinstance(outcome, Retry) and "unreachable" in outcome.reason


def test_one_provider_token_serves_many_pushes_from_many_threads(adapter, apns_standin):
    targets = [iphone(f"{n:064x}") for n in range(300)]
    # Switching threads often shakes out races, like the one in httpx's shared HTTP/2 connection.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        with ThreadPoolExecutor(max_workers=12) as pool:
            outcomes = list(pool.map(lambda target: adapter.send(target, message()), targets))
    finally:
        sys.setswitchinterval(interval)

    assert all(isinstance(outcome, Sent) for outcome in outcomes), {type(o).__name__ for o in outcomes}
    assert len(apns_standin.received) == 300
    assert len(apns_standin.provider_tokens()) == 1


def test_the_provider_token_is_renewed_after_50_minutes_and_not_before(push_settings):
    clock = FakeClock()
    signer = ApnsTokenSigner(
        key_id=push_settings.apns.key_id,
        team_id=push_settings.apns.team_id,
        private_key=push_settings.apns.private_key,
        clock=clock,
    )
    first = signer.token()
    clock.advance(49 * 60)
    assert signer.token() == first

    clock.advance(60)

    # ECDSA signatures are randomised, so a new signing gives a new token even within the same second.
    assert signer.token() != first


def test_an_expired_provider_token_is_renewed_only_if_20_minutes_old(push_settings):
    clock = FakeClock()
    settings = push_settings.apns
    signer = ApnsTokenSigner(
        key_id=settings.key_id, team_id=settings.team_id, private_key=settings.private_key, clock=clock
    )
    first = signer.token()

    clock.advance(5 * 60)
    signer.expire(first)
    assert signer.token() == first  # Apple answers TooManyProviderTokenUpdates to faster renewals

    clock.advance(20 * 60)
    signer.expire(first)
    assert signer.token() != first


def test_a_target_without_an_environment_goes_to_production(adapter, apns_standin):
    target = PushTarget(token="e5" * 32, platform=iphone().platform, bundle_id=BUNDLE_ID)

    adapter.send(target, message())

    assert apns_standin.received[0].request.listener == "production"
