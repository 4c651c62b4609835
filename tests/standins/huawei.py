"""A stand-in for Huawei Push Kit v1 messages:send and the Huawei OAuth endpoint it trusts."""

from __future__ import annotations

import itertools
import json
import re
import secrets
from typing import Any
from urllib.parse import parse_qs

from tests.standins.base import AccessTokens, Behaviour, HttpStandIn, Reply, Request, bearer, parse_json_object

SEND_PATH = re.compile(r"^/v1/(?P<app>[^/]+)/messages:send$")
TOKEN_PATH = "/oauth2/v3/token"
TTL = re.compile(r"^\d+(\.\d{1,9})?s$")
MAX_MESSAGE_BYTES = 4096
# Push Kit's self-classification: every class but MARKETING is "service and communication".
CATEGORIES = frozenset(
    [
        "IM",
        "VOIP",
        "SUBSCRIPTION",
        "TRAVEL",
        "HEALTH",
        "WORK",
        "ACCOUNT",
        "EXPRESS",
        "FINANCE",
        "DEVICE_REMINDER",
        "MAIL",
        "MARKETING",
    ]
)


def answer(status: int, code: str, msg: str, **extra: Any) -> Reply:
    return Reply(status, {"code": code, "msg": msg, "requestId": secrets.token_hex(12), **extra})


class HuaweiStandIn(HttpStandIn):
    name = "huawei"

    def __init__(self, *, app_id: str = "100200300", token_ttl: int = 3600, **options: Any) -> None:
        super().__init__(**options)
        self.app_id = app_id
        self.client_secret = secrets.token_hex(16)
        self.tokens = AccessTokens(token_ttl)
        # A dead token answered as "all tokens invalid" (80300007) or as partial success (80100000).
        self.dead_answer = "80300007"
        self._ids = itertools.count(1)

    @property
    def oauth_url(self) -> str:
        return self.url + TOKEN_PATH

    def reset(self) -> None:
        super().reset()
        self.dead_answer = "80300007"
        self.tokens.reset()

    def env(self) -> dict[str, str]:
        return {
            "HUAWEI_APP_ID": self.app_id,
            "HUAWEI_CLIENT_ID": self.app_id,
            "HUAWEI_CLIENT_SECRET": self.client_secret,
            "HUAWEI_PUSH_BASE_URL": self.url,
            "HUAWEI_OAUTH_URL": self.oauth_url,
        }

    def handle(self, request: Request) -> Reply:
        if request.method == "POST" and request.path == TOKEN_PATH:
            return self._record(request, None, self._issue_token(request))
        match = SEND_PATH.match(request.path)
        if request.method != "POST" or match is None or match["app"] != self.app_id:
            return self._record(request, None, Reply(404, {"msg": "Not Found"}))
        access_token = bearer(request.headers)
        if access_token is None:
            return self._record(request, None, answer(401, "80200001", "Oauth authentication error"))
        if not self.tokens.valid(access_token):
            return self._record(request, None, answer(401, "80200003", "Oauth Token expired."))
        if len(request.raw) > MAX_MESSAGE_BYTES:
            reply = answer(400, "80300008", "The message body size exceeds the default value")
            return self._record(request, None, reply)
        body = parse_json_object(request.raw)
        message = body.get("message") if body else None
        tokens = message.get("token") if isinstance(message, dict) else None
        if not (isinstance(tokens, list) and 1 <= len(tokens) <= 1000 and all(isinstance(t, str) for t in tokens)):
            reply = answer(400, "80300010", "The number of tokens in the message body exceeds the default value")
            return self._record(request, None, reply)
        token = tokens[0]
        problem = self._shape_problem(body, message)
        if problem:
            return self._record(request, token, answer(400, "80100003", f"Illegal message structure: {problem}"))
        return self._record(request, token, self._answer(token))

    def _answer(self, token: str) -> Reply:
        behaviour = self.behaviour(token)
        if behaviour is Behaviour.DEAD:
            if self.dead_answer == "80100000":
                report = {"success": 0, "failure": 1, "illegal_tokens": [token]}
                return answer(200, "80100000", json.dumps(report))
            return answer(400, "80300007", "All the tokens are invalid")
        if behaviour is Behaviour.BUSY:
            # Push Kit's flow control: no Huawei code to match on, the status and Retry-After carry it.
            return Reply(429, {"msg": "Too many requests"}, {"retry-after": str(self.retry_after)})
        if behaviour is Behaviour.DOWN:
            return answer(503, "81000001", "System inner error")
        return answer(200, "80000000", "Success")

    @staticmethod
    def _shape_problem(body: dict[str, Any], message: dict[str, Any]) -> str | None:
        if not isinstance(body.get("validate_only", False), bool):
            return "validate_only must be a boolean"
        if "data" in message and not isinstance(message["data"], str):
            return "message.data must be a JSON string"
        android = message.get("android", {})
        if not isinstance(android, dict):
            return "message.android must be an object"
        if android.get("urgency", "NORMAL") not in ("HIGH", "NORMAL"):
            return "android.urgency must be HIGH or NORMAL"
        if "ttl" in android and not (isinstance(android["ttl"], str) and TTL.match(android["ttl"])):
            return "android.ttl must be a duration such as '86400s'"
        if "collapse_key" in android and not (
            isinstance(android["collapse_key"], int) and -1 <= android["collapse_key"] <= 100
        ):
            return "android.collapse_key must be an integer from -1 to 100"
        notification = android.get("notification")
        if notification is None:
            return None if "data" in message else "a message needs data or a notification"
        if not isinstance(notification, dict) or not isinstance(notification.get("title"), str):
            return "android.notification.title is required"
        if (notification.get("click_action") or {}).get("type") not in (1, 2, 3, 4):
            return "android.notification.click_action.type must be 1-4"
        if notification.get("category", "MARKETING") not in CATEGORIES:
            return "android.notification.category is not a known class"
        if notification.get("importance", "NORMAL") not in ("LOW", "NORMAL", "HIGH"):
            return "android.notification.importance must be LOW, NORMAL or HIGH"
        return None

    def _issue_token(self, request: Request) -> Reply:
        form = {key: values[0] for key, values in parse_qs(request.raw.decode()).items()}
        if form.get("grant_type") != "client_credentials":
            return Reply(400, {"error": 1102, "sub_error": 20001, "error_description": "unsupported grant_type"})
        if form.get("client_id") != self.app_id or form.get("client_secret") != self.client_secret:
            return Reply(401, {"error": 1101, "sub_error": 20003, "error_description": "invalid client"})
        return self.tokens.issue("CgB6e3x9")
