"""A stand-in for the plain HTTP+JSON SMS gateway."""

from __future__ import annotations

import itertools
import re
import secrets
from typing import Any

from tests.standins.base import Behaviour, HttpStandIn, Reply, Request, bearer, parse_json_object

SEND_PATH = "/sms"
PHONE = re.compile(r"^\+?\d{6,15}$")
MAX_TEXT = 500


class SmsStandIn(HttpStandIn):
    """Phones are scripted with script(); there is no prefix convention for numbers."""

    name = "sms"

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.api_key = secrets.token_urlsafe(24)
        self._ids = itertools.count(1)

    def env(self) -> dict[str, str]:
        return {"SMS_GATEWAY_URL": self.url + SEND_PATH, "SMS_API_KEY": self.api_key}

    def reset(self) -> None:
        """As every stand-in, and message ids count from 1 again: each test sees its own texts' ids."""
        super().reset()
        self._ids = itertools.count(1)

    def handle(self, request: Request) -> Reply:
        if request.method != "POST" or request.path != SEND_PATH:
            return self._record(request, None, Reply(404, {"error": "not found"}))
        if bearer(request.headers) != self.api_key:
            return self._record(request, None, Reply(401, {"error": "invalid api key"}))
        body = parse_json_object(request.raw) or {}
        phone, text = body.get("to"), body.get("text")
        if not (isinstance(phone, str) and PHONE.match(phone)):
            return self._record(request, None, Reply(400, {"error": "'to' must be a phone number"}))
        if not (isinstance(text, str) and 0 < len(text) <= MAX_TEXT):
            return self._record(request, phone, Reply(400, {"error": f"'text' must be 1-{MAX_TEXT} characters"}))
        behaviour = self.behaviour(phone)
        if behaviour is Behaviour.DEAD:
            reply = Reply(400, {"error": "number cannot receive messages"})
        elif behaviour is Behaviour.BUSY:
            reply = Reply(429, {"error": "slow down"}, {"retry-after": str(self.retry_after)})
        elif behaviour is Behaviour.DOWN:
            reply = Reply(503, {"error": "gateway unavailable"})
        else:
            reply = Reply(200, {"id": f"sms-{next(self._ids)}"})
        return self._record(request, phone, reply)
