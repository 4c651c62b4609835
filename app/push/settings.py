"""Push provider and SMS gateway settings, read once from the environment.

A provider whose credentials are absent is not configured, and its devices get no push. A provider
that is half configured is a deployment mistake, so start-up fails rather than drop pushes later.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from app.config import SettingsError

APNS_PRODUCTION_URL = "https://api.push.apple.com"
APNS_SANDBOX_URL = "https://api.sandbox.push.apple.com"
FCM_BASE_URL = "https://fcm.googleapis.com"
JPUSH_BASE_URL = "https://api.jpush.cn"
HUAWEI_PUSH_BASE_URL = "https://push-api.cloud.huawei.com"
HUAWEI_OAUTH_URL = "https://oauth-login.cloud.huawei.com/oauth2/v3/token"


@dataclass(frozen=True)
class ApnsSettings:
    key_id: str
    team_id: str
    private_key: str  # the .p8 file's PEM text
    production_url: str = APNS_PRODUCTION_URL
    sandbox_url: str = APNS_SANDBOX_URL
    # Extra CA to trust instead of the system store: only stand-ins and TLS-inspecting proxies need it.
    ca_file: str | None = None


@dataclass(frozen=True)
class FcmSettings:
    project_id: str
    client_email: str
    private_key: str  # PEM, from the service-account JSON
    private_key_id: str | None
    token_uri: str
    base_url: str = FCM_BASE_URL


@dataclass(frozen=True)
class JPushSettings:
    app_key: str
    master_secret: str
    base_url: str = JPUSH_BASE_URL


@dataclass(frozen=True)
class HuaweiSettings:
    app_id: str
    client_id: str
    client_secret: str
    base_url: str = HUAWEI_PUSH_BASE_URL
    oauth_url: str = HUAWEI_OAUTH_URL


@dataclass(frozen=True)
class SmsSettings:
    url: str
    api_key: str


@dataclass(frozen=True)
class PushSettings:
    apns: ApnsSettings | None = None
    fcm: FcmSettings | None = None
    jpush: JPushSettings | None = None
    huawei: HuaweiSettings | None = None
    sms: SmsSettings | None = None
    timeout_seconds: float = 10.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> PushSettings:
        return cls(
            apns=_apns(env),
            fcm=_fcm(env),
            jpush=_jpush(env),
            huawei=_huawei(env),
            sms=_sms(env),
            timeout_seconds=_positive_float(env, "PUSH_TIMEOUT_SECONDS", cls.timeout_seconds),
        )


def _get(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def _require_all(env: Mapping[str, str], names: tuple[str, ...], provider: str) -> dict[str, str] | None:
    """All of `names`, or None when none is set; some but not all is a mistake worth stopping for."""
    values = {name: _get(env, name) for name in names}
    present = {name: value for name, value in values.items() if value is not None}
    if not present:
        return None
    missing = [name for name in names if name not in present]
    if missing:
        raise SettingsError(f"{provider} is partly configured: set {', '.join(missing)} too, or none of its settings.")
    return present


def _positive_float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = _get(env, name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number of seconds, got {raw!r}.") from None
    if value <= 0:
        raise SettingsError(f"{name} must be positive, got {raw!r}.")
    return value


def _read(name: str, path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise SettingsError(f"{name} points at {path!r}, which cannot be read: {error.strerror}.") from None


def _apns(env: Mapping[str, str]) -> ApnsSettings | None:
    key_text = _get(env, "APNS_PRIVATE_KEY")
    key_file = _get(env, "APNS_PRIVATE_KEY_FILE")
    if key_text and key_file:
        raise SettingsError("Set APNS_PRIVATE_KEY or APNS_PRIVATE_KEY_FILE, not both.")
    ids = _require_all(env, ("APNS_KEY_ID", "APNS_TEAM_ID"), "APNs")
    if ids is None:
        if key_text or key_file:
            raise SettingsError("APNs is partly configured: set APNS_KEY_ID and APNS_TEAM_ID too.")
        return None
    if key_file:
        key_text = _read("APNS_PRIVATE_KEY_FILE", key_file)
    if not key_text:
        raise SettingsError("APNs is partly configured: set APNS_PRIVATE_KEY_FILE (the .p8 key) too.")
    ca_file = _get(env, "APNS_CA_FILE")
    if ca_file is not None and not Path(ca_file).is_file():
        raise SettingsError(f"APNS_CA_FILE points at {ca_file!r}, which is not a file.")
    return ApnsSettings(
        key_id=ids["APNS_KEY_ID"],
        team_id=ids["APNS_TEAM_ID"],
        private_key=key_text,
        production_url=_get(env, "APNS_PRODUCTION_URL") or APNS_PRODUCTION_URL,
        sandbox_url=_get(env, "APNS_SANDBOX_URL") or APNS_SANDBOX_URL,
        ca_file=ca_file,
    )


def _fcm(env: Mapping[str, str]) -> FcmSettings | None:
    path = _get(env, "FCM_SERVICE_ACCOUNT_FILE")
    if path is None:
        if _get(env, "FCM_PROJECT_ID") or _get(env, "FCM_TOKEN_URI"):
            raise SettingsError("FCM is partly configured: set FCM_SERVICE_ACCOUNT_FILE too.")
        return None
    try:
        account = json.loads(_read("FCM_SERVICE_ACCOUNT_FILE", path))
    except ValueError:
        raise SettingsError(f"FCM_SERVICE_ACCOUNT_FILE {path!r} is not JSON.") from None
    if not isinstance(account, dict):
        raise SettingsError(f"FCM_SERVICE_ACCOUNT_FILE {path!r} is not a service-account object.")
    project_id = _get(env, "FCM_PROJECT_ID") or account.get("project_id")
    token_uri = _get(env, "FCM_TOKEN_URI") or account.get("token_uri")
    fields = {
        "project_id": project_id,
        "client_email": account.get("client_email"),
        "private_key": account.get("private_key"),
        "token_uri": token_uri,
    }
    missing = [name for name, value in fields.items() if not isinstance(value, str) or not value]
    if missing:
        raise SettingsError(f"FCM_SERVICE_ACCOUNT_FILE {path!r} lacks {', '.join(missing)}.")
    return FcmSettings(
        project_id=fields["project_id"],
        client_email=fields["client_email"],
        private_key=fields["private_key"],
        private_key_id=account.get("private_key_id") or None,
        token_uri=fields["token_uri"],
        base_url=_get(env, "FCM_BASE_URL") or FCM_BASE_URL,
    )


def _jpush(env: Mapping[str, str]) -> JPushSettings | None:
    values = _require_all(env, ("JPUSH_APP_KEY", "JPUSH_MASTER_SECRET"), "JPush")
    if values is None:
        return None
    return JPushSettings(
        app_key=values["JPUSH_APP_KEY"],
        master_secret=values["JPUSH_MASTER_SECRET"],
        base_url=_get(env, "JPUSH_BASE_URL") or JPUSH_BASE_URL,
    )


def _huawei(env: Mapping[str, str]) -> HuaweiSettings | None:
    values = _require_all(env, ("HUAWEI_APP_ID", "HUAWEI_CLIENT_SECRET"), "Huawei Push Kit")
    if values is None:
        if _get(env, "HUAWEI_CLIENT_ID"):
            raise SettingsError("Huawei Push Kit is partly configured: set HUAWEI_APP_ID and HUAWEI_CLIENT_SECRET too.")
        return None
    return HuaweiSettings(
        app_id=values["HUAWEI_APP_ID"],
        # AppGallery Connect gives older apps one id for both; newer projects have a separate OAuth client.
        client_id=_get(env, "HUAWEI_CLIENT_ID") or values["HUAWEI_APP_ID"],
        client_secret=values["HUAWEI_CLIENT_SECRET"],
        base_url=_get(env, "HUAWEI_PUSH_BASE_URL") or HUAWEI_PUSH_BASE_URL,
        oauth_url=_get(env, "HUAWEI_OAUTH_URL") or HUAWEI_OAUTH_URL,
    )


def _sms(env: Mapping[str, str]) -> SmsSettings | None:
    values = _require_all(env, ("SMS_GATEWAY_URL", "SMS_API_KEY"), "The SMS gateway")
    if values is None:
        return None
    return SmsSettings(url=values["SMS_GATEWAY_URL"], api_key=values["SMS_API_KEY"])
