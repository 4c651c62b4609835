"""JPush (极光) v3, the aggregator that reaches Chinese Android phones through their vendors' channels."""

from __future__ import annotations

import zlib
from typing import Any, ClassVar

import httpx

from app.devices.models import ApnsEnvironment, Platform, PushProvider
from app.push.base import (
    Failed,
    InvalidToken,
    Outcome,
    PushMessage,
    PushTarget,
    Retry,
    Sent,
    SharedClientAdapter,
    apns_collapse_id,
    app_data,
    encode,
    json_object,
    one_line,
    oversized,
    retry_after_seconds,
    retryable_status,
)
from app.push.settings import JPushSettings

# JPush keeps offline messages at most 10 days.
JPUSH_MAX_TTL = 10 * 24 * 3600


class JPushAdapter(SharedClientAdapter):
    """JPush (极光) v3, the aggregator that reaches Chinese Android phones through their vendors' channels."""

    provider = PushProvider.JPUSH
    PLATFORMS: ClassVar[dict[Platform, str]] = {
        Platform.ANDROID: "android",
        Platform.IOS: "ios",
        Platform.HARMONY: "hmos",
    }
    # "Cannot find user by this audience": the registration id is unknown or idle for 255 days.
    DEAD_CODES = frozenset({1011})
    RATE_LIMITED = 2002

    def __init__(self, settings: JPushSettings, *, timeout: float) -> None:
        super().__init__(timeout, auth=(settings.app_key, settings.master_secret))
        self._url = f"{settings.base_url.rstrip('/')}/v3/push"

    def _send(self, target: PushTarget, message: PushMessage) -> Outcome:
        body = encode(self._body(target, message))
        if too_large := oversized(body, "JPush"):
            return too_large
        response = self._client.post(self._url, content=body, headers={"content-type": "application/json"})
        answer = json_object(response)
        if response.status_code == 200 and "msg_id" in answer:
            return Sent(str(answer["msg_id"]))
        error = answer.get("error")
        error = error if isinstance(error, dict) else {}
        code = error.get("code")
        summary = one_line("JPush", response.status_code, code, error.get("message"))
        if code in self.DEAD_CODES:
            return InvalidToken(summary)
        if retryable_status(response.status_code) or code == self.RATE_LIMITED:
            return Retry(_jpush_retry_after(response), summary)
        return Failed(summary)

    def _body(self, target: PushTarget, message: PushMessage) -> dict[str, Any]:
        platform = self.PLATFORMS[target.platform]
        extras = app_data(message)
        options: dict[str, Any] = {
            # Echoed back and shown in JPush's console: lets support match a push to its notice.
            "sendno": zlib.crc32(message.notice_id.encode()) & 0x7FFFFFFF,
            "time_to_live": min(message.ttl_seconds, JPUSH_MAX_TTL),
            # 1 = a system/service message: vendors then neither silence it nor count it against a quota.
            "classification": 1,
            "third_party_channel": {
                "huawei": {"importance": "NORMAL", "category": "WORK"},
                "honor": {"importance": "NORMAL"},
            },
        }
        if target.platform is Platform.IOS:
            options["apns_production"] = target.apns_environment is not ApnsEnvironment.SANDBOX
            options["apns_collapse_id"] = apns_collapse_id(message.collapse_key)
        body: dict[str, Any] = {
            "platform": [platform],
            "audience": {"registration_id": [target.token]},
            "options": options,
        }
        if message.clear:
            if target.platform is Platform.IOS:
                body["notification"] = {"ios": {"alert": "", "content-available": True, "extras": extras}}
            else:
                # A pass-through message: the app removes the notice itself, nothing is shown.
                body["message"] = {"msg_content": "clear", "extras": extras}
            return body
        notification: dict[str, Any] = {"alert": message.title, "extras": extras}
        if target.platform is Platform.IOS:
            notification |= {"sound": "default", "thread-id": message.collapse_key}
        elif target.platform is Platform.HARMONY:
            notification |= {"category": "WORK", "intent": {"url": "action.system.home"}}
        body["notification"] = {platform: notification}
        return body


def _jpush_retry_after(response: httpx.Response) -> float | None:
    """JPush reports its rate-limit window in X-Rate-Limit-Reset rather than Retry-After."""
    after = retry_after_seconds(response)
    if after is not None:
        return after
    try:
        return max(0.0, float(response.headers["x-rate-limit-reset"]))
    except (KeyError, ValueError):
        return None
