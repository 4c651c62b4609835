"""Messages, device addresses and a movable clock for the adapter tests."""

from __future__ import annotations

import uuid
from typing import Any

from app.devices.models import ApnsEnvironment, Platform
from app.push.base import PushMessage, PushTarget

BUNDLE_ID = "cn.example.park"


def sends(standin: Any) -> list[Any]:
    """The pushes a stand-in received (its token endpoint's requests left out)."""
    return [entry for entry in standin.received if entry.request.path.endswith("messages:send")]


def message(**overrides: Any) -> PushMessage:
    fields: dict[str, Any] = {
        "notice_id": str(uuid.uuid4()),
        "title": "查验通知 …1234",
        "collapse_key": "decl-123:inspection",
        "high_priority": True,
    }
    return PushMessage(**(fields | overrides))


def iphone(token: str = "a1" * 32, environment: ApnsEnvironment = ApnsEnvironment.PRODUCTION) -> PushTarget:
    return PushTarget(token=token, platform=Platform.IOS, apns_environment=environment, bundle_id=BUNDLE_ID)


def android(token: str = "android-token-0001") -> PushTarget:
    return PushTarget(token=token, platform=Platform.ANDROID)


def harmony(token: str = "harmony-token-0001") -> PushTarget:
    return PushTarget(token=token, platform=Platform.HARMONY)


class FakeClock:
    """Stands in for time.monotonic in the credential caches."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
