"""The stand-ins themselves: scripting, their own request checks, and the script entry point."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from app.devices.models import PushProvider
from app.push.base import Retry, Sent
from app.push.fcm import FcmAdapter
from app.push.jpush import JPushAdapter
from app.push.providers import build_adapters
from app.push.settings import PushSettings
from tests.push.helpers import android, iphone, message
from tests.standins import Behaviour

ROOT = Path(__file__).resolve().parents[2]


def test_a_scripted_token_plays_its_behaviours_in_order_and_keeps_the_last(push_settings, jpush_standin):
    jpush_standin.script("reg-1", Behaviour.BUSY, Behaviour.DOWN, Behaviour.OK)
    adapter = JPushAdapter(push_settings.jpush, timeout=5)
    try:
        outcomes = [adapter.send(android("reg-1"), message()) for _ in range(4)]
    finally:
        adapter.close()

    assert [type(outcome) for outcome in outcomes] == [Retry, Retry, Sent, Sent]


def test_a_flaky_token_is_refused_once_then_accepted(push_settings, jpush_standin):
    adapter = JPushAdapter(push_settings.jpush, timeout=5)
    try:
        first, second = (adapter.send(android("flaky-reg-2"), message()) for _ in range(2))
    finally:
        adapter.close()

    assert isinstance(first, Retry) and isinstance(second, Sent)


def test_the_fcm_stand_in_refuses_what_fcm_would_refuse(push_settings, fcm_standin):
    adapter = FcmAdapter(push_settings.fcm, timeout=5)
    try:
        adapter.send(android(), message())
    finally:
        adapter.close()
    send_url = fcm_standin.url + f"/v1/projects/{fcm_standin.project_id}/messages:send"
    authorization = {"authorization": fcm_standin.received[-1].headers["authorization"]}

    numbers = httpx.post(send_url, headers=authorization, json={"message": {"token": "t", "data": {"n": 1}}})
    anonymous = httpx.post(send_url, json={"message": {"token": "t"}})
    wrong_grant = httpx.post(fcm_standin.token_uri, data={"grant_type": "client_credentials"})

    assert numbers.status_code == 400
    assert numbers.json()["error"]["details"][0]["errorCode"] == "INVALID_ARGUMENT"
    assert anonymous.status_code == 401
    assert wrong_grant.status_code == 400


def test_the_entry_point_serves_every_stand_in_until_sigterm(tmp_path):
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.standins", "--directory", str(tmp_path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        announced = json.loads(process.stdout.readline())
        settings = PushSettings.from_env(announced["env"])
        adapters = build_adapters(settings)
        try:
            outcomes = {
                provider: adapter.send(iphone() if provider is PushProvider.APNS else android(), message())
                for provider, adapter in adapters.items()
            }
        finally:
            for adapter in adapters.values():
                adapter.close()
        stats = httpx.get(announced["urls"]["jpush"] + "/_standin/stats").json()
    finally:
        process.send_signal(signal.SIGTERM)
        exit_code = process.wait(timeout=10)

    assert len(outcomes) == 4
    assert all(isinstance(outcome, Sent) for outcome in outcomes.values()), outcomes
    assert stats == {"received": 1, "by_status": {"200": 1}}
    assert exit_code == 0


def test_a_slow_token_is_recorded_at_once_and_answered_after_the_delay(push_settings, jpush_standin):
    jpush_standin.slow_seconds = 0.5
    adapter = JPushAdapter(push_settings.jpush, timeout=5)
    outcome: list[object] = []
    sender = threading.Thread(target=lambda: outcome.append(adapter.send(android("slow-reg-3"), message())))
    try:
        started = time.monotonic()
        sender.start()
        assert jpush_standin.wait_for(1, timeout=2)
        recorded_after = time.monotonic() - started
        sender.join(timeout=5)
        answered_after = time.monotonic() - started
    finally:
        adapter.close()

    assert recorded_after < 0.4 <= 0.5 <= answered_after
    assert isinstance(outcome[0], Sent)
