"""Stand-in push providers and SMS gateway on 127.0.0.1 ephemeral ports, for tests, benchmarks and live runs.

    with StandIns() as standins:
        settings = PushSettings.from_env(standins.env())
        standins.fcm.script("token-1", Behaviour.BUSY, Behaviour.OK)

`python -m tests.standins` runs them all until SIGTERM and prints their URLs and env as JSON.
"""

from __future__ import annotations

from pathlib import Path
from typing import Self

from tests.standins.apns import ApnsStandIn
from tests.standins.base import Behaviour, Received, StandIn
from tests.standins.fcm import FcmStandIn
from tests.standins.huawei import HuaweiStandIn
from tests.standins.jpush import JPushStandIn
from tests.standins.sms import SmsStandIn

__all__ = [
    "ApnsStandIn",
    "Behaviour",
    "FcmStandIn",
    "HuaweiStandIn",
    "JPushStandIn",
    "Received",
    "SmsStandIn",
    "StandIn",
    "StandIns",
]


class StandIns:
    """All five stand-ins, started and stopped together."""

    def __init__(self, directory: Path | None = None) -> None:
        # Key files go under `directory`, or into temporary folders removed on stop.
        self.apns = ApnsStandIn(directory=directory)
        self.fcm = FcmStandIn(directory=directory)
        self.huawei = HuaweiStandIn()
        self.jpush = JPushStandIn()
        self.sms = SmsStandIn()

    @property
    def all(self) -> tuple[StandIn, ...]:
        return (self.apns, self.fcm, self.huawei, self.jpush, self.sms)

    def start(self) -> Self:
        started: list[StandIn] = []
        try:
            for standin in self.all:
                standin.start()
                started.append(standin)
        except BaseException:
            for standin in started:
                standin.stop()
            raise
        return self

    def stop(self) -> None:
        for standin in self.all:
            standin.stop()

    def reset(self) -> None:
        for standin in self.all:
            standin.reset()

    def env(self) -> dict[str, str]:
        """Every setting PushSettings.from_env needs to send through the stand-ins."""
        env: dict[str, str] = {}
        for standin in self.all:
            env |= standin.env()
        return env

    def urls(self) -> dict[str, str]:
        return {
            "apns_production": self.apns.url,
            "apns_sandbox": self.apns.sandbox_url,
            "fcm": self.fcm.url,
            "fcm_token": self.fcm.token_uri,
            "huawei": self.huawei.url,
            "huawei_oauth": self.huawei.oauth_url,
            "jpush": self.jpush.url,
            "sms": self.sms.url,
        }

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
