"""Huawei Push Kit v1 (HMS Core phones)."""

from __future__ import annotations

import json
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
    app_data,
    encode,
    json_object,
    one_line,
    oversized,
    post_with_fresh_token,
    retry_after_seconds,
    retryable_status,
)
from app.push.credentials import AccessTokenCache, huawei_token_fetcher
from app.push.settings import HuaweiSettings


class HuaweiAdapter(SharedClientAdapter):
    """Huawei Push Kit v1 (HMS Core phones; HarmonyOS NEXT needs the v3 API, not yet done)."""

    provider = PushProvider.HUAWEI
    SUCCESS = "80000000"
    PARTIAL = "80100000"
    ALL_TOKENS_INVALID = "80300007"
    # Authentication failed / access token expired: refresh the token and send once more.
    TOKEN_REJECTED = frozenset({"80200001", "80200003"})
    INTERNAL_ERROR = "81000001"

    def __init__(
        self, settings: HuaweiSettings, *, timeout: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__(timeout)
        self._url = f"{settings.base_url.rstrip('/')}/v1/{quote(settings.app_id, safe='')}/messages:send"
        self._tokens = AccessTokenCache(
            huawei_token_fetcher(
                self._client,
                oauth_url=settings.oauth_url,
                client_id=settings.client_id,
                client_secret=settings.client_secret,
            ),
            clock=clock,
        )

    def _send(self, target: PushTarget, message: PushMessage) -> Outcome:
        body = encode({"validate_only": False, "message": self._message(target, message)})
        if too_large := oversized(body, "Huawei"):
            return too_large
        response = post_with_fresh_token(self._client, self._url, body, self._tokens, rejected=self._token_rejected)
        answer = json_object(response)
        code = str(answer.get("code", ""))
        summary = one_line("Huawei", response.status_code, code, answer.get("msg"))
        if code == self.SUCCESS:
            return Sent(answer.get("requestId"))
        if code == self.PARTIAL:
            # One token per request, so "partly delivered" means ours is either in the bad list or it went out.
            if target.token in _huawei_illegal_tokens(answer.get("msg")):
                return InvalidToken(summary)
            return Sent(answer.get("requestId"))
        if code == self.ALL_TOKENS_INVALID:
            return InvalidToken(summary)
        if retryable_status(response.status_code) or code == self.INTERNAL_ERROR:
            return Retry(retry_after_seconds(response), summary)
        return Failed(summary)

    def _token_rejected(self, response: httpx.Response) -> bool:
        return response.status_code == 401 or str(json_object(response).get("code")) in self.TOKEN_REJECTED

    @staticmethod
    def _message(target: PushTarget, message: PushMessage) -> dict[str, Any]:
        android: dict[str, Any] = {
            "urgency": "HIGH" if message.high_priority and not message.clear else "NORMAL",
            "ttl": f"{message.ttl_seconds}s",
        }
        if not message.clear:
            android["notification"] = {
                "title": message.title,
                "body": message.title,
                # 3 = open the app; it then fetches the notice itself.
                "click_action": {"type": 3},
                # Huawei's collapse_key is a 0-100 offline-cache group, so replacement on the phone uses the tag.
                "tag": message.collapse_key,
                # The service/"WORK" class: shown with sound on the lock screen, outside the marketing quota.
                "category": "WORK",
                "importance": "NORMAL",
            }
        return {"token": [target.token], "data": json.dumps(app_data(message)), "android": android}


def _huawei_illegal_tokens(msg: Any) -> list[str]:
    """Huawei puts the partial-success report in `msg` as a JSON string with an illegal_tokens list."""
    try:
        report = json.loads(msg) if isinstance(msg, str) else msg
    except ValueError:
        return []
    tokens = report.get("illegal_tokens") if isinstance(report, dict) else None
    return [token for token in tokens or [] if isinstance(token, str)]
