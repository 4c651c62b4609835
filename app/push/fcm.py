"""Firebase Cloud Messaging HTTP v1, for phones with Google services."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx

from app.devices.models import PushProvider
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
    post_with_fresh_token,
    retry_after_seconds,
    retryable_status,
)
from app.push.credentials import AccessTokenCache, fcm_token_fetcher
from app.push.settings import FcmSettings


class FcmAdapter(SharedClientAdapter):
    """Firebase Cloud Messaging HTTP v1, for phones with Google services."""

    provider = PushProvider.FCM
    DEAD_CODES = frozenset({"UNREGISTERED", "SENDER_ID_MISMATCH"})

    def __init__(self, settings: FcmSettings, *, timeout: float, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(timeout)
        self._url = f"{settings.base_url.rstrip('/')}/v1/projects/{quote(settings.project_id, safe='')}/messages:send"
        self._tokens = AccessTokenCache(
            fcm_token_fetcher(
                self._client,
                client_email=settings.client_email,
                private_key=settings.private_key,
                private_key_id=settings.private_key_id,
                token_uri=settings.token_uri,
            ),
            clock=clock,
        )

    def _send(self, target: PushTarget, message: PushMessage) -> Outcome:
        body = encode({"message": self._message(target, message)})
        if too_large := oversized(body, "FCM"):
            return too_large
        response = post_with_fresh_token(self._client, self._url, body, self._tokens, rejected=_is_401)
        if response.status_code == 200:
            return Sent(json_object(response).get("name"))
        error = json_object(response).get("error")
        error = error if isinstance(error, dict) else {}
        details = [detail for detail in error.get("details") or [] if isinstance(detail, dict)]
        codes = {detail.get("errorCode") for detail in details} | {error.get("status")}
        summary = one_line("FCM", response.status_code, error.get("status"), error.get("message"))
        if codes & self.DEAD_CODES or ("INVALID_ARGUMENT" in codes and _names_the_token(error, details)):
            return InvalidToken(summary)
        if retryable_status(response.status_code):
            return Retry(retry_after_seconds(response), summary)
        return Failed(summary)

    @staticmethod
    def _message(target: PushTarget, message: PushMessage) -> dict[str, Any]:
        collapse_id = apns_collapse_id(message.collapse_key)
        android: dict[str, Any] = {
            "priority": "HIGH" if message.high_priority and not message.clear else "NORMAL",
            "ttl": f"{message.ttl_seconds}s",
            "collapse_key": message.collapse_key,
        }
        apns: dict[str, Any] = {
            "headers": {
                "apns-collapse-id": collapse_id,
                "apns-push-type": "background" if message.clear else "alert",
                "apns-priority": "10" if message.high_priority and not message.clear else "5",
                "apns-expiration": str(int(time.time()) + message.ttl_seconds),
            }
        }
        fields: dict[str, Any] = {"token": target.token, "data": app_data(message)}
        if message.clear:
            apns["payload"] = {"aps": {"content-available": 1}}
        else:
            fields["notification"] = {"title": message.title}
            # The tag makes a later notice about the same declaration replace this one in the tray.
            android["notification"] = {"tag": message.collapse_key}
        return {**fields, "android": android, "apns": apns}


def _names_the_token(error: dict[str, Any], details: list[dict[str, Any]]) -> bool:
    """INVALID_ARGUMENT means a dead token only when FCM blames the token, not the rest of the message."""
    for detail in details:
        for violation in detail.get("fieldViolations") or []:
            if isinstance(violation, dict) and violation.get("field") == "message.token":
                return True
    return "registration token" in str(error.get("message", "")).lower()


def _is_401(response: httpx.Response) -> bool:
    return response.status_code == 401
