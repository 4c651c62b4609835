"""Pytest fixtures for the stand-in providers; registered in tests/conftest.py with

    pytest_plugins = ["tests.standins.fixtures"]

The servers start once per session; each per-provider fixture forgets earlier tests' requests and scripts.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.push.settings import PushSettings
from tests.standins import ApnsStandIn, FcmStandIn, HuaweiStandIn, JPushStandIn, SmsStandIn, StandIns


@pytest.fixture(scope="session")
def push_standins(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandIns]:
    with StandIns(tmp_path_factory.mktemp("standins")) as standins:
        yield standins


@pytest.fixture
def push_env(push_standins: StandIns) -> dict[str, str]:
    """Environment variables pointing PushSettings (or a live gunicorn and dispatcher) at fresh stand-ins."""
    push_standins.reset()
    return push_standins.env()


@pytest.fixture
def push_settings(push_env: dict[str, str]) -> PushSettings:
    return PushSettings.from_env(push_env)


@pytest.fixture
def apns_standin(push_standins: StandIns) -> ApnsStandIn:
    push_standins.apns.reset()
    return push_standins.apns


@pytest.fixture
def fcm_standin(push_standins: StandIns) -> FcmStandIn:
    push_standins.fcm.reset()
    return push_standins.fcm


@pytest.fixture
def huawei_standin(push_standins: StandIns) -> HuaweiStandIn:
    push_standins.huawei.reset()
    return push_standins.huawei


@pytest.fixture
def jpush_standin(push_standins: StandIns) -> JPushStandIn:
    push_standins.jpush.reset()
    return push_standins.jpush


@pytest.fixture
def sms_standin(push_standins: StandIns) -> SmsStandIn:
    push_standins.sms.reset()
    return push_standins.sms
