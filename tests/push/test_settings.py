import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from app.config import SettingsError
from app.devices.models import PushProvider
from app.push.base import retry_after_seconds
from app.push.providers import build_adapters
from app.push.settings import APNS_PRODUCTION_URL, FCM_BASE_URL, PushSettings
from app.push.sms import build_sms_gateway


def test_without_credentials_no_provider_is_configured():
    settings = PushSettings.from_env({})

    assert settings == PushSettings()
    assert build_adapters(settings) == {}
    assert build_sms_gateway(settings) is None


def test_the_stand_ins_env_configures_every_provider(push_env):
    settings = PushSettings.from_env(push_env)
    adapters = build_adapters(settings)
    try:
        assert set(adapters) == set(PushProvider)
        assert all(adapter.provider is provider for provider, adapter in adapters.items())
    finally:
        for adapter in adapters.values():
            adapter.close()
    assert settings.apns.ca_file == push_env["APNS_CA_FILE"]
    assert settings.fcm.token_uri == push_env["FCM_TOKEN_URI"]  # overrides the file's Google endpoint


@pytest.mark.parametrize(
    "env",
    [
        {"APNS_KEY_ID": "K"},
        {"APNS_KEY_ID": "K", "APNS_TEAM_ID": "T"},
        {"JPUSH_APP_KEY": "k"},
        {"HUAWEI_APP_ID": "1"},
        {"SMS_GATEWAY_URL": "http://sms"},
        {"FCM_TOKEN_URI": "http://token"},
    ],
)
def test_a_half_configured_provider_stops_start_up(env):
    with pytest.raises(SettingsError):
        PushSettings.from_env(env)


def test_an_unreadable_key_file_stops_start_up(tmp_path):
    with pytest.raises(SettingsError, match="cannot be read"):
        PushSettings.from_env(
            {"APNS_KEY_ID": "K", "APNS_TEAM_ID": "T", "APNS_PRIVATE_KEY_FILE": str(tmp_path / "missing.p8")}
        )


def test_the_apns_key_may_be_given_as_pem_text_with_apples_hosts_by_default(push_settings):
    pem = push_settings.apns.private_key

    settings = PushSettings.from_env({"APNS_KEY_ID": "K", "APNS_TEAM_ID": "T", "APNS_PRIVATE_KEY": pem})

    assert settings.apns.private_key == pem.strip()
    assert settings.apns.production_url == APNS_PRODUCTION_URL
    assert settings.apns.ca_file is None


def test_a_service_account_without_a_private_key_stops_start_up(tmp_path):
    account = tmp_path / "account.json"
    account.write_text(json.dumps({"project_id": "p", "client_email": "e", "token_uri": "https://t"}))

    with pytest.raises(SettingsError, match="private_key"):
        PushSettings.from_env({"FCM_SERVICE_ACCOUNT_FILE": str(account)})


def test_the_service_account_file_supplies_fcms_project_and_token_endpoint(push_env):
    settings = PushSettings.from_env({"FCM_SERVICE_ACCOUNT_FILE": push_env["FCM_SERVICE_ACCOUNT_FILE"]})

    assert settings.fcm.project_id == "smart-park-standin"
    assert settings.fcm.token_uri == "https://oauth2.googleapis.com/token"
    assert settings.fcm.base_url == FCM_BASE_URL


@pytest.mark.parametrize("raw", ["soon", "0", "-3"])
def test_a_bad_push_timeout_stops_start_up(raw):
    with pytest.raises(SettingsError, match="PUSH_TIMEOUT_SECONDS"):
        PushSettings.from_env({"PUSH_TIMEOUT_SECONDS": raw})


def test_retry_after_is_read_as_seconds_or_as_an_http_date():
    in_two_minutes = format_datetime(datetime.now(UTC) + timedelta(minutes=2), usegmt=True)

    assert retry_after_seconds(httpx.Response(429, headers={"retry-after": "7"})) == 7.0
    assert 100 < retry_after_seconds(httpx.Response(503, headers={"retry-after": in_two_minutes})) <= 120
    assert retry_after_seconds(httpx.Response(503, headers={"retry-after": "whenever"})) is None
    assert retry_after_seconds(httpx.Response(503)) is None
