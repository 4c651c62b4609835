"""Device registry refusals. Their codes are part of the API."""

from app.errors import Conflict
from app.i18n import _l


class DeviceRegisteredElsewhere(Conflict):
    code, title = "device_registered_elsewhere", _l("Device registered to someone else")
