from typing import Any

DEVICES = "/api/v1/devices"
IPHONE_TOKEN = "ab" * 32
JPUSH_TOKEN = "1a0018970a8f7a7c7b8"


def iphone(**overrides: Any) -> dict[str, Any]:
    """The body an iPhone build sends on launch; a None override leaves the field out."""
    body: dict[str, Any] = {
        "platform": "ios",
        "provider": "apns",
        "token": IPHONE_TOKEN,
        "app_version": "2.3.0",
        "os_version": "17.5",
        "apns_environment": "production",
        "bundle_id": "cn.example.park",
        "push_permission": True,
        "locale": "zh-CN",
    }
    body.update(overrides)
    return {key: value for key, value in body.items() if value is not None}


def android(**overrides: Any) -> dict[str, Any]:
    """An Android phone registered through JPush."""
    changes: dict[str, Any] = {
        "platform": "android",
        "provider": "jpush",
        "token": JPUSH_TOKEN,
        "apns_environment": None,
        "os_version": "Android 14",
    }
    return iphone(**(changes | overrides))


def put(client, headers, device_id, body):
    return client.put(f"{DEVICES}/{device_id}", json=body, headers=headers)


def listed(client, headers) -> dict[str, dict[str, Any]]:
    """The caller's devices as GET lists them, by device_id."""
    response = client.get(DEVICES, headers=headers)
    assert response.status_code == 200, response.json
    return {item["device_id"]: item for item in response.json["items"]}
