"""What every push provider shares: the message, the device address, the four outcomes, the adapter interface,
and the HTTP helpers the adapters build on.

The dispatcher hands an adapter a device address and a minimal message (a notice id and a short
title; the app fetches the rest with its own token) and gets back one of four outcomes. Adapters
never raise for provider or network trouble, keep one connection pool each, and are safe to call
from the dispatcher's sending threads.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

import httpx

from app.devices.models import ApnsEnvironment, Platform, PushProvider
from app.push.credentials import AccessTokenCache, CredentialError

# APNs and FCM refuse larger payloads; the others allow about as much, and our titles are short.
MAX_PAYLOAD_BYTES = 4096
APNS_COLLAPSE_ID_MAX_BYTES = 64
# Enough keep-alive connections for every dispatcher thread, so none reconnects per push.
POOL_LIMITS = httpx.Limits(max_connections=64, max_keepalive_connections=64)


@dataclass(frozen=True)
class PushMessage:
    notice_id: str
    title: str
    collapse_key: str
    high_priority: bool
    # A silent push telling the phone to drop the notice from its tray (it was read elsewhere).
    clear: bool = False
    ttl_seconds: int = 86400


@dataclass(frozen=True)
class PushTarget:
    token: str
    platform: Platform
    apns_environment: ApnsEnvironment | None = None
    bundle_id: str | None = None


@dataclass(frozen=True)
class Sent:
    provider_message_id: str | None


@dataclass(frozen=True)
class Retry:
    after_seconds: float | None
    reason: str


@dataclass(frozen=True)
class InvalidToken:
    reason: str


@dataclass(frozen=True)
class Failed:
    reason: str


Outcome = Sent | Retry | InvalidToken | Failed


class PushAdapter(Protocol):
    provider: PushProvider

    def send(self, target: PushTarget, message: PushMessage) -> Outcome: ...

    def close(self) -> None: ...


def retry_after_seconds(response: httpx.Response) -> float | None:
    """The provider's Retry-After (seconds or an HTTP date), if it gave one."""
    raw = response.headers.get("retry-after")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


def encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def one_line(*parts: object) -> str:
    """A one-line reason for the delivery log: provider, status, its code and message, whichever it gave."""
    return " ".join(str(part) for part in parts if part not in (None, ""))


def retryable_status(status: int) -> bool:
    return status == 429 or status >= 500


def oversized(body: bytes, provider: str) -> Failed | None:
    if len(body) > MAX_PAYLOAD_BYTES:
        return Failed(f"{provider} payload is {len(body)} bytes, over the {MAX_PAYLOAD_BYTES}-byte limit")
    return None


def apns_collapse_id(key: str) -> str:
    """APNs caps collapse ids at 64 bytes; a longer key is hashed, which keeps it stable."""
    if len(key.encode()) <= APNS_COLLAPSE_ID_MAX_BYTES:
        return key
    return hashlib.sha256(key.encode()).hexdigest()


def app_data(message: PushMessage) -> dict[str, str]:
    """What the app reads from any push: which notice, and whether to show or remove it."""
    return {"notice_id": message.notice_id, "kind": "clear" if message.clear else "notice"}


class HttpAdapter:
    """Turns transport and credential trouble into outcomes, so no provider problem reaches the dispatcher."""

    provider: PushProvider

    def send(self, target: PushTarget, message: PushMessage) -> Outcome:
        try:
            return self._send(target, message)
        except CredentialError as error:
            return Retry(None, error.reason) if error.retryable else Failed(error.reason)
        except httpx.HTTPError as error:
            return Retry(None, f"{self.provider.value} unreachable: {error!r}")

    def close(self) -> None:
        raise NotImplementedError

    def _send(self, target: PushTarget, message: PushMessage) -> Outcome:
        raise NotImplementedError


class SharedClientAdapter(HttpAdapter):
    """An HTTP/1.1 provider: one client whose connection pool all sending threads share safely."""

    def __init__(self, timeout: float, **options: Any) -> None:
        self._client = httpx.Client(timeout=timeout, limits=POOL_LIMITS, **options)

    def close(self) -> None:
        self._client.close()


def post_with_fresh_token(
    client: httpx.Client,
    url: str,
    body: bytes,
    tokens: AccessTokenCache,
    *,
    rejected: Callable[[httpx.Response], bool],
) -> httpx.Response:
    """Post with the cached access token; if the provider calls it expired, fetch a new one and post once more."""
    for attempt in range(2):
        access = tokens.token()
        response = client.post(
            url, content=body, headers={"authorization": f"Bearer {access}", "content-type": "application/json"}
        )
        if attempt == 0 and rejected(response):
            tokens.reject(access)
            continue
        return response
    return response
