"""The SMS gateway: the last resort for an urgent notice nobody acknowledged."""

from __future__ import annotations

import httpx

from app.push.base import (
    POOL_LIMITS,
    Failed,
    Outcome,
    Retry,
    Sent,
    json_object,
    one_line,
    retry_after_seconds,
    retryable_status,
)
from app.push.settings import PushSettings, SmsSettings


class SmsGateway:
    """A plain HTTP+JSON SMS gateway: the last resort for an urgent notice nobody acknowledged."""

    def __init__(self, settings: SmsSettings, *, timeout: float) -> None:
        self._url = settings.url
        self._client = httpx.Client(
            timeout=timeout, limits=POOL_LIMITS, headers={"authorization": f"Bearer {settings.api_key}"}
        )

    def send(self, phone: str, text: str) -> Outcome:
        try:
            response = self._client.post(self._url, json={"to": phone, "text": text})
        except httpx.HTTPError as error:
            return Retry(None, f"SMS gateway unreachable: {error!r}")
        if response.is_success:
            answer = json_object(response)
            message_id = answer.get("id") or answer.get("message_id")
            return Sent(str(message_id) if message_id is not None else None)
        summary = one_line("SMS gateway", response.status_code, response.text[:200])
        if retryable_status(response.status_code):
            return Retry(retry_after_seconds(response), summary)
        return Failed(summary)

    def close(self) -> None:
        self._client.close()


def build_sms_gateway(settings: PushSettings) -> SmsGateway | None:
    """The SMS gateway, if one is configured."""
    return SmsGateway(settings.sms, timeout=settings.timeout_seconds) if settings.sms else None
