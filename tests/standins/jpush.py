"""A stand-in for JPush (极光) REST API v3 /v3/push."""

from __future__ import annotations

import base64
import binascii
import itertools
import secrets
from typing import Any

from tests.standins.base import Behaviour, HttpStandIn, Reply, Request, parse_json_object

PUSH_PATH = "/v3/push"
PLATFORMS = frozenset({"android", "ios", "hmos", "quickapp"})
MAX_BODY_BYTES = 4096
MAX_TTL = 10 * 24 * 3600
RATE_LIMIT = 600


def error(status: int, code: int, message: str, **extra: Any) -> Reply:
    return Reply(status, {**extra, "error": {"code": code, "message": message}})


class JPushStandIn(HttpStandIn):
    name = "jpush"

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.app_key = secrets.token_hex(12)
        self.master_secret = secrets.token_hex(12)
        self._ids = itertools.count(1_800_000_000)

    def env(self) -> dict[str, str]:
        return {"JPUSH_APP_KEY": self.app_key, "JPUSH_MASTER_SECRET": self.master_secret, "JPUSH_BASE_URL": self.url}

    def handle(self, request: Request) -> Reply:
        if request.method != "POST" or request.path != PUSH_PATH:
            return self._record(request, None, error(404, 1020, "Not found"))
        if not self._authenticated(request.headers.get("authorization", "")):
            return self._record(request, None, error(401, 1004, "Authen failed"))
        if len(request.raw) > MAX_BODY_BYTES:
            return self._record(request, None, error(400, 1005, "Msg content too long"))
        body = parse_json_object(request.raw)
        if body is None:
            return self._record(request, None, error(400, 1003, "Invalid parameter: the body is not a JSON object"))
        audience = body.get("audience")
        ids = audience.get("registration_id") if isinstance(audience, dict) else None
        if not (isinstance(ids, list) and 1 <= len(ids) <= 1000 and all(isinstance(i, str) and i for i in ids)):
            return self._record(request, None, error(400, 1002, "Missing parameter: audience.registration_id"))
        token = ids[0]
        problem = self._shape_problem(body)
        if problem:
            code, text = problem
            return self._record(request, token, error(400, code, text))
        return self._record(request, token, self._answer(token, body["options"]["sendno"]))

    def _answer(self, token: str, sendno: int) -> Reply:
        msg_id = next(self._ids)
        behaviour = self.behaviour(token)
        if behaviour is Behaviour.DEAD:
            text = "cannot find user by this audience or has been inactive for more than 255 days"
            return error(400, 1011, text, msg_id=msg_id)
        if behaviour is Behaviour.BUSY:
            # JPush says when its one-minute window resets rather than sending Retry-After.
            headers = {
                "x-rate-limit-limit": str(RATE_LIMIT),
                "x-rate-limit-remaining": "0",
                "x-rate-limit-reset": str(self.retry_after),
            }
            reply = error(429, 2002, "Rate limit exceeded")
            return Reply(reply.status, reply.body, headers)
        if behaviour is Behaviour.DOWN:
            return error(503, 1030, "Internal service timeout")
        return Reply(200, {"sendno": str(sendno), "msg_id": str(msg_id)})

    def _authenticated(self, header: str) -> bool:
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(encoded, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return False
        return secrets.compare_digest(decoded, f"{self.app_key}:{self.master_secret}")

    @staticmethod
    def _shape_problem(body: dict[str, Any]) -> tuple[int, str] | None:
        """The first rule of the v3 push object that `body` breaks, as (JPush code, message)."""
        platform = body.get("platform")
        targets = PLATFORMS if platform == "all" else platform
        if not (isinstance(targets, list | frozenset) and targets and set(targets) <= PLATFORMS):
            return 1003, "Invalid parameter: platform"
        notification, message = body.get("notification"), body.get("message")
        if notification is None and message is None:
            return 1002, "Missing parameter: notification or message"
        if notification is not None:
            if not isinstance(notification, dict) or not set(notification) - {"alert"} <= set(targets):
                return 1003, "Invalid parameter: notification platforms must be among the push's platforms"
            for name, content in notification.items():
                if name != "alert" and not (isinstance(content, dict) and isinstance(content.get("alert"), str)):
                    return 1002, f"Missing parameter: notification.{name}.alert"
                if name == "ios" and not isinstance(content.get("extras", {}), dict):
                    return 1003, "Invalid parameter: notification.ios.extras"
        if message is not None and not (isinstance(message, dict) and isinstance(message.get("msg_content"), str)):
            return 1002, "Missing parameter: message.msg_content"
        options = body.get("options")
        if not isinstance(options, dict):
            return 1002, "Missing parameter: options"
        sendno = options.get("sendno")
        if not isinstance(sendno, int) or isinstance(sendno, bool) or not 0 <= sendno < 2**31:
            return 1003, "Invalid parameter: options.sendno must be an int"
        ttl = options.get("time_to_live", 86400)
        if not isinstance(ttl, int) or not 0 <= ttl <= MAX_TTL:
            return 1003, "Invalid parameter: options.time_to_live"
        if not isinstance(options.get("apns_production", True), bool):
            return 1003, "Invalid parameter: options.apns_production"
        if len(str(options.get("apns_collapse_id", "")).encode()) > 64:
            return 1003, "Invalid parameter: options.apns_collapse_id is over 64 bytes"
        if not isinstance(options.get("third_party_channel", {}), dict):
            return 1003, "Invalid parameter: options.third_party_channel"
        return None
