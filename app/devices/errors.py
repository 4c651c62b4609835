"""Device registry refusals. Their codes are part of the API."""

from app.errors import Conflict


class DeviceRegisteredElsewhere(Conflict):
    code, title = "device_registered_elsewhere", "Device registered to someone else"
