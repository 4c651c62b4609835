"""The push adapters this deployment sends through: one per provider that has credentials."""

from __future__ import annotations

from app.devices.models import PushProvider
from app.push.apns import ApnsAdapter
from app.push.base import PushAdapter
from app.push.fcm import FcmAdapter
from app.push.huawei import HuaweiAdapter
from app.push.jpush import JPushAdapter
from app.push.settings import PushSettings


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
