"""Push providers and the SMS gateway behind one small interface.

The dispatcher hands an adapter a device address and a minimal message (a notice id and a short
title; the app fetches the rest with its own token) and gets back one of four outcomes. Adapters
never raise for provider or network trouble, keep one connection pool each, and are safe to call
from the dispatcher's sending threads.
"""

from __future__ import annotations

import hashlib
import json
import queue
import ssl
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar, Protocol
from urllib.parse import quote

import httpx

from app.devices.models import ApnsEnvironment, Platform, PushProvider
from app.push.credentials import (
    AccessTokenCache,
    ApnsTokenSigner,
    CredentialError,
    fcm_token_fetcher,
    huawei_token_fetcher,
)
from app.push.settings import ApnsSettings, FcmSettings, HuaweiSettings, JPushSettings, PushSettings, SmsSettings

# APNs and FCM refuse larger payloads; the others allow about as much, and our titles are short.
MAX_PAYLOAD_BYTES = 4096
APNS_COLLAPSE_ID_MAX_BYTES = 64
# JPush keeps offline messages at most 10 days.
JPUSH_MAX_TTL = 10 * 24 * 3600
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


def _encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _summary(*parts: object) -> str:
    """A one-line reason for the delivery log: provider, status, its code and message, whichever it gave."""
    return " ".join(str(part) for part in parts if part not in (None, ""))


def _retryable_status(status: int) -> bool:
    return status == 429 or status >= 500


def _too_large(body: bytes, provider: str) -> Failed | None:
    if len(body) > MAX_PAYLOAD_BYTES:
        return Failed(f"{provider} payload is {len(body)} bytes, over the {MAX_PAYLOAD_BYTES}-byte limit")
    return None


def _apns_collapse_id(key: str) -> str:
    """APNs caps collapse ids at 64 bytes; a longer key is hashed, which keeps it stable."""
    if len(key.encode()) <= APNS_COLLAPSE_ID_MAX_BYTES:
        return key
    return hashlib.sha256(key.encode()).hexdigest()


def _app_data(message: PushMessage) -> dict[str, str]:
    """What the app reads from any push: which notice, and whether to show or remove it."""
    return {"notice_id": message.notice_id, "kind": "clear" if message.clear else "notice"}


class _Adapter:
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


class _SharedClientAdapter(_Adapter):
    """An HTTP/1.1 provider: one client whose connection pool all sending threads share safely."""

    def __init__(self, timeout: float, **options: Any) -> None:
        self._client = httpx.Client(timeout=timeout, limits=POOL_LIMITS, **options)

    def close(self) -> None:
        self._client.close()


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


class ApnsAdapter(_Adapter):
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
        body = _encode(self._payload(message))
        if too_large := _too_large(body, "APNs"):
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
            "apns-collapse-id": _apns_collapse_id(message.collapse_key),
            "content-type": "application/json",
        }
        with self._clients.borrow() as client:
            response = client.post(f"{host}/3/device/{quote(target.token, safe='')}", content=body, headers=headers)
        if response.status_code == 200:
            return Sent(response.headers.get("apns-id"))
        reason = str(_json_object(response).get("reason") or f"HTTP {response.status_code}")
        if response.status_code == 410 or reason in self.DEAD_REASONS:
            return InvalidToken(f"APNs {reason}")
        if reason == "ExpiredProviderToken":
            self._signer.expire(provider_token)
            return Retry(None, "APNs ExpiredProviderToken")
        if _retryable_status(response.status_code):
            return Retry(retry_after_seconds(response), f"APNs {response.status_code} {reason}")
        return Failed(f"APNs {response.status_code} {reason}")

    @staticmethod
    def _payload(message: PushMessage) -> dict[str, Any]:
        if message.clear:
            return {"aps": {"content-available": 1}, **_app_data(message)}
        aps = {"alert": {"title": message.title}, "sound": "default", "thread-id": message.collapse_key}
        return {"aps": aps, **_app_data(message)}


class FcmAdapter(_SharedClientAdapter):
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
        body = _encode({"message": self._message(target, message)})
        if too_large := _too_large(body, "FCM"):
            return too_large
        response = _post_with_fresh_token(self._client, self._url, body, self._tokens, rejected=_is_401)
        if response.status_code == 200:
            return Sent(_json_object(response).get("name"))
        error = _json_object(response).get("error")
        error = error if isinstance(error, dict) else {}
        details = [detail for detail in error.get("details") or [] if isinstance(detail, dict)]
        codes = {detail.get("errorCode") for detail in details} | {error.get("status")}
        summary = _summary("FCM", response.status_code, error.get("status"), error.get("message"))
        if codes & self.DEAD_CODES or ("INVALID_ARGUMENT" in codes and _names_the_token(error, details)):
            return InvalidToken(summary)
        if _retryable_status(response.status_code):
            return Retry(retry_after_seconds(response), summary)
        return Failed(summary)

    @staticmethod
    def _message(target: PushTarget, message: PushMessage) -> dict[str, Any]:
        collapse_id = _apns_collapse_id(message.collapse_key)
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
        fields: dict[str, Any] = {"token": target.token, "data": _app_data(message)}
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


def _post_with_fresh_token(
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


class JPushAdapter(_SharedClientAdapter):
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
        body = _encode(self._body(target, message))
        if too_large := _too_large(body, "JPush"):
            return too_large
        response = self._client.post(self._url, content=body, headers={"content-type": "application/json"})
        answer = _json_object(response)
        if response.status_code == 200 and "msg_id" in answer:
            return Sent(str(answer["msg_id"]))
        error = answer.get("error")
        error = error if isinstance(error, dict) else {}
        code = error.get("code")
        summary = _summary("JPush", response.status_code, code, error.get("message"))
        if code in self.DEAD_CODES:
            return InvalidToken(summary)
        if _retryable_status(response.status_code) or code == self.RATE_LIMITED:
            return Retry(_jpush_retry_after(response), summary)
        return Failed(summary)

    def _body(self, target: PushTarget, message: PushMessage) -> dict[str, Any]:
        platform = self.PLATFORMS[target.platform]
        extras = _app_data(message)
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
            options["apns_collapse_id"] = _apns_collapse_id(message.collapse_key)
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


class HuaweiAdapter(_SharedClientAdapter):
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
        body = _encode({"validate_only": False, "message": self._message(target, message)})
        if too_large := _too_large(body, "Huawei"):
            return too_large
        response = _post_with_fresh_token(self._client, self._url, body, self._tokens, rejected=self._token_rejected)
        answer = _json_object(response)
        code = str(answer.get("code", ""))
        summary = _summary("Huawei", response.status_code, code, answer.get("msg"))
        if code == self.SUCCESS:
            return Sent(answer.get("requestId"))
        if code == self.PARTIAL:
            # One token per request, so "partly delivered" means ours is either in the bad list or it went out.
            if target.token in _huawei_illegal_tokens(answer.get("msg")):
                return InvalidToken(summary)
            return Sent(answer.get("requestId"))
        if code == self.ALL_TOKENS_INVALID:
            return InvalidToken(summary)
        if _retryable_status(response.status_code) or code == self.INTERNAL_ERROR:
            return Retry(retry_after_seconds(response), summary)
        return Failed(summary)

    def _token_rejected(self, response: httpx.Response) -> bool:
        return response.status_code == 401 or str(_json_object(response).get("code")) in self.TOKEN_REJECTED

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
        return {"token": [target.token], "data": json.dumps(_app_data(message)), "android": android}


def _huawei_illegal_tokens(msg: Any) -> list[str]:
    """Huawei puts the partial-success report in `msg` as a JSON string with an illegal_tokens list."""
    try:
        report = json.loads(msg) if isinstance(msg, str) else msg
    except ValueError:
        return []
    tokens = report.get("illegal_tokens") if isinstance(report, dict) else None
    return [token for token in tokens or [] if isinstance(token, str)]


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
            answer = _json_object(response)
            message_id = answer.get("id") or answer.get("message_id")
            return Sent(str(message_id) if message_id is not None else None)
        summary = _summary("SMS gateway", response.status_code, response.text[:200])
        if _retryable_status(response.status_code):
            return Retry(retry_after_seconds(response), summary)
        return Failed(summary)

    def close(self) -> None:
        self._client.close()


def build_adapters(settings: PushSettings) -> dict[PushProvider, PushAdapter]:
    """One adapter per configured provider; a provider without credentials gets none."""
    adapters: dict[PushProvider, PushAdapter] = {}
    timeout = settings.timeout_seconds
    if settings.apns:
        adapters[PushProvider.APNS] = ApnsAdapter(settings.apns, timeout=timeout)
    if settings.fcm:
        adapters[PushProvider.FCM] = FcmAdapter(settings.fcm, timeout=timeout)
    if settings.jpush:
        adapters[PushProvider.JPUSH] = JPushAdapter(settings.jpush, timeout=timeout)
    if settings.huawei:
        adapters[PushProvider.HUAWEI] = HuaweiAdapter(settings.huawei, timeout=timeout)
    return adapters


def build_sms_gateway(settings: PushSettings) -> SmsGateway | None:
    """The SMS gateway, if one is configured."""
    return SmsGateway(settings.sms, timeout=settings.timeout_seconds) if settings.sms else None
