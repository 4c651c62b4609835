import dataclasses

import pytest

from app.push.base import Failed, Retry, Sent
from app.push.settings import PushSettings
from app.push.sms import build_sms_gateway
from tests.standins import Behaviour

PHONE = "+8613800138000"


@pytest.fixture
def gateway(push_settings, sms_standin):
    gateway = build_sms_gateway(push_settings)
    yield gateway
    gateway.close()


def test_a_text_reaches_the_gateway_with_the_api_key(gateway, sms_standin):
    outcome = gateway.send(PHONE, "查验通知 …1234：请打开智慧园区 App 查看。")

    assert outcome == Sent("sms-1")
    [received] = sms_standin.received
    assert received.headers["authorization"] == f"Bearer {sms_standin.api_key}"
    assert received.request.json() == {"to": PHONE, "text": "查验通知 …1234：请打开智慧园区 App 查看。"}


def test_a_number_the_gateway_rejects_is_a_failure(gateway, sms_standin):
    sms_standin.script(PHONE, Behaviour.DEAD)

    outcome = gateway.send(PHONE, "查验通知")

    assert isinstance(outcome, Failed) and "400" in outcome.reason


def test_a_busy_gateway_is_retried_after_its_delay(gateway, sms_standin):
    sms_standin.script(PHONE, Behaviour.BUSY)

    assert gateway.send(PHONE, "查验通知") == Retry(30.0, 'SMS gateway 429 {"error": "slow down"}')


def test_a_gateway_outage_is_retried(gateway, sms_standin):
    sms_standin.script(PHONE, Behaviour.DOWN)

    outcome = gateway.send(PHONE, "查验通知")

    assert isinstance(outcome, Retry) and "503" in outcome.reason


def test_a_wrong_api_key_is_a_failure(push_settings, sms_standin):
    gateway = build_sms_gateway(
        dataclasses.replace(push_settings, sms=dataclasses.replace(push_settings.sms, api_key="x"))
    )
    try:
        outcome = gateway.send(PHONE, "查验通知")
    finally:
        gateway.close()

    assert isinstance(outcome, Failed) and "401" in outcome.reason


def test_an_unreachable_gateway_is_retried(push_settings):
    unreachable = dataclasses.replace(push_settings.sms, url="http://127.0.0.1:9/sms")
    gateway = build_sms_gateway(PushSettings(sms=unreachable, timeout_seconds=2))
    try:
        outcome = gateway.send(PHONE, "查验通知")
    finally:
        gateway.close()

    assert isinstance(outcome, Retry) and "unreachable" in outcome.reason
