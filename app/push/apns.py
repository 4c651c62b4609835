"""Apple Push Notification service: HTTP/2, a token-based (.p8) provider key, a client per sending thread."""

from __future__ import annotations

import queue
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

import httpx

from app.devices.models import ApnsEnvironment, PushProvider
from app.push.base import (
    Failed,
    HttpAdapter,
    InvalidToken,
    Outcome,
    PushMessage,
    PushTarget,
    Retry,
    Sent,
    apns_collapse_id,
    app_data,
    encode,
    json_object,
    oversized,
    retry_after_seconds,
    retryable_status,
)
from app.push.credentials import ApnsTokenSigner
from app.push.settings import ApnsSettings


class _ClientPool:
    """HTTP/2 clients lent to one thread at a time.

    httpx's sync HTTP/2 connection is not thread-safe: threads sharing one interleave stream ids and
    HPACK state (StreamIDTooLowError; iiasa/ixmp4#224). Each sending thread borrows a client of its
    own, so there are as many APNs connections as concurrent sends, which Apple encourages anyway.
    """

    def __init__(self, factory: Callable[[], httpx.Client]) -> None:
        self._factory = factory
        self._idle: queue.SimpleQueue[httpx.Client] = queue.SimpleQueue()
        self._made: list[httpx.Client] = []
        self._lock = threading.Lock()

    @contextmanager
    def borrow(self) -> Iterator[httpx.Client]:
        try:
            client = self._idle.get_nowait()
        except queue.Empty:
            client = self._factory()
            with self._lock:
                self._made.append(client)
        try:
            yield client
        finally:
            self._idle.put(client)

    def close(self) -> None:
        with self._lock:
            made, self._made = self._made, []
        for client in made:
            client.close()


class ApnsAdapter(HttpAdapter):
    """Apple Push Notification service over HTTP/2 with a token-based (.p8) provider key."""

    provider = PushProvider.APNS
    # Zulip drops the token on exactly these, and so do we (410 also covers ExpiredToken).
    DEAD_REASONS = frozenset({"Unregistered", "BadDeviceToken", "DeviceTokenNotForTopic"})

    def __init__(self, settings: ApnsSettings, *, timeout: float, clock: Callable[[], float] = time.monotonic) -> None:
        verify: ssl.SSLContext | bool = True
        if settings.ca_file:
            verify = ssl.create_default_context(cafile=settings.ca_file)
        self._clients = _ClientPool(lambda: httpx.Client(http2=True, verify=verify, timeout=timeout))
        self._signer = ApnsTokenSigner(
            key_id=settings.key_id, team_id=settings.team_id, private_key=settings.private_key, clock=clock
        )
        self._hosts = {
            ApnsEnvironment.PRODUCTION: settings.production_url.rstrip("/"),
            ApnsEnvironment.SANDBOX: settings.sandbox_url.rstrip("/"),
        }

    def close(self) -> None:
        self._clients.close()

    def _send(self, target: PushTarget, message: PushMessage) -> Outcome:
        if not target.bundle_id:
            return Failed("APNs needs the app's bundle id as the topic")
        body = encode(self._payload(message))
        if too_large := oversized(body, "APNs"):
            return too_large
        host = self._hosts[target.apns_environment or ApnsEnvironment.PRODUCTION]
        provider_token = self._signer.token()
        headers = {
            "authorization": f"bearer {provider_token}",
            "apns-topic": target.bundle_id,
            # Apple requires background pushes to go at priority 5 or it may throttle the app.
            "apns-push-type": "background" if message.clear else "alert",
            "apns-priority": "10" if message.high_priority and not message.clear else "5",
            "apns-expiration": str(int(time.time()) + message.ttl_seconds),
            "apns-collapse-id": apns_collapse_id(message.collapse_key),
            "content-type": "application/json",
        }
        with self._clients.borrow() as client:
            response = client.post(f"{host}/3/device/{quote(target.token, safe='')}", content=body, headers=headers)
        if response.status_code == 200:
            return Sent(response.headers.get("apns-id"))
        reason = str(json_object(response).get("reason") or f"HTTP {response.status_code}")
        if response.status_code == 410 or reason in self.DEAD_REASONS:
            return InvalidToken(f"APNs {reason}")
        if reason == "ExpiredProviderToken":
            self._signer.expire(provider_token)
            return Retry(None, "APNs ExpiredProviderToken")
        if retryable_status(response.status_code):
            return Retry(retry_after_seconds(response), f"APNs {response.status_code} {reason}")
        return Failed(f"APNs {response.status_code} {reason}")

    @staticmethod
    def _payload(message: PushMessage) -> dict[str, Any]:
        if message.clear:
            return {"aps": {"content-available": 1}, **app_data(message)}
        aps = {"alert": {"title": message.title}, "sound": "default", "thread-id": message.collapse_key}
        return {"aps": aps, **app_data(message)}
