"""A stand-in for FCM HTTP v1 and the Google OAuth token endpoint it trusts."""

from __future__ import annotations

import itertools
import json
import re
import secrets
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qs

import jwt

from tests.standins.base import AccessTokens, Behaviour, HttpStandIn, Reply, Request, Workdir, bearer, parse_json_object
from tests.standins.keys import rsa_key

SEND_PATH = re.compile(r"^/v1/projects/(?P<project>[^/]+)/messages:send$")
TOKEN_PATH = "/token"
TTL = re.compile(r"^\d+(\.\d{1,9})?s$")
MAX_MESSAGE_BYTES = 4096
SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
FCM_ERROR = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest"

# FCM's three dead-token answers (firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode).
DEAD_ANSWERS = {
    "UNREGISTERED": (404, "NOT_FOUND", "Requested entity was not found."),
    "INVALID_ARGUMENT": (400, "INVALID_ARGUMENT", "The registration token is not a valid FCM registration token"),
    "SENDER_ID_MISMATCH": (403, "PERMISSION_DENIED", "SenderId mismatch"),
}


def fcm_error(
    status: int, name: str, message: str, *, error_code: str | None = None, field: str | None = None
) -> Reply:
    details: list[dict[str, Any]] = []
    if error_code:
        details.append({"@type": FCM_ERROR, "errorCode": error_code})
    if field:
        details.append({"@type": BAD_REQUEST, "fieldViolations": [{"field": field, "description": message}]})
    return Reply(status, {"error": {"code": status, "message": message, "status": name, "details": details}})


class FcmStandIn(HttpStandIn):
    name = "fcm"

    def __init__(
        self,
        *,
        project_id: str = "smart-park-standin",
        client_email: str = "push@smart-park-standin.iam.gserviceaccount.com",
        token_ttl: int = 3600,
        directory: Path | None = None,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self.project_id = project_id
        self.client_email = client_email
        self.tokens = AccessTokens(token_ttl)
        # Which of FCM's dead-token answers a DEAD token gets.
        self.dead_answer = "UNREGISTERED"
        self.service_account_file: Path | None = None
        self._workdir = Workdir(directory)
        self._public_key: Any = None
        self._ids = itertools.count(1)

    @property
    def token_uri(self) -> str:
        return self.url + TOKEN_PATH

    def reset(self) -> None:
        super().reset()
        self.dead_answer = "UNREGISTERED"
        self.tokens.reset()

    def start(self) -> Self:
        private_key, self._public_key = rsa_key()
        super().start()
        folder = self._workdir.open("fcm")
        self.service_account_file = folder / "service-account.json"
        # The file names Google's real token endpoint; FCM_TOKEN_URI points the adapter here instead.
        account = {
            "type": "service_account",
            "project_id": self.project_id,
            "private_key_id": secrets.token_hex(20),
            "private_key": private_key,
            "client_email": self.client_email,
            "client_id": "100000000000000000001",
            "token_uri": "https://oauth2.googleapis.com/token",
        }
        self.service_account_file.write_text(json.dumps(account))
        return self

    def stop(self) -> None:
        super().stop()
        self._workdir.close()

    def env(self) -> dict[str, str]:
        return {
            "FCM_SERVICE_ACCOUNT_FILE": str(self.service_account_file),
            "FCM_TOKEN_URI": self.token_uri,
            "FCM_BASE_URL": self.url,
        }

    def handle(self, request: Request) -> Reply:
        if request.method == "POST" and request.path == TOKEN_PATH:
            return self._record(request, None, self._issue_token(request))
        match = SEND_PATH.match(request.path)
        if request.method != "POST" or match is None or match["project"] != self.project_id:
            return self._record(request, None, fcm_error(404, "NOT_FOUND", "Requested entity was not found."))
        if not self.tokens.valid(bearer(request.headers)):
            return self._record(
                request,
                None,
                fcm_error(
                    401,
                    "UNAUTHENTICATED",
                    "Request had invalid authentication credentials. Expected OAuth 2 access token",
                ),
            )
        if len(request.raw) > MAX_MESSAGE_BYTES:
            return self._record(
                request, None, fcm_error(400, "INVALID_ARGUMENT", "Message is too big", error_code="INVALID_ARGUMENT")
            )
        body = parse_json_object(request.raw)
        message = body.get("message") if body else None
        token = message.get("token") if isinstance(message, dict) else None
        problem = self._shape_problem(message)
        if problem:
            field, text = problem
            reply = fcm_error(400, "INVALID_ARGUMENT", text, error_code="INVALID_ARGUMENT", field=field)
            return self._record(request, token if isinstance(token, str) else None, reply)
        assert isinstance(token, str)
        return self._record(request, token, self._answer(token))

    def _answer(self, token: str) -> Reply:
        behaviour = self.behaviour(token)
        if behaviour is Behaviour.DEAD:
            status, name, text = DEAD_ANSWERS[self.dead_answer]
            field = "message.token" if self.dead_answer == "INVALID_ARGUMENT" else None
            return fcm_error(status, name, text, error_code=self.dead_answer, field=field)
        if behaviour is Behaviour.BUSY:
            reply = fcm_error(429, "RESOURCE_EXHAUSTED", "Quota exceeded.", error_code="QUOTA_EXCEEDED")
            return Reply(reply.status, reply.body, {"retry-after": str(self.retry_after)})
        if behaviour is Behaviour.DOWN:
            return fcm_error(503, "UNAVAILABLE", "The service is currently unavailable.", error_code="UNAVAILABLE")
        return Reply(200, {"name": f"projects/{self.project_id}/messages/0:{next(self._ids)}"})

    @staticmethod
    def _shape_problem(message: Any) -> tuple[str, str] | None:
        """The first way `message` breaks FCM v1's rules, as (field, description)."""
        if not isinstance(message, dict):
            return "message", "Invalid JSON payload received. Expected a message object."
        if not isinstance(message.get("token"), str) or not message["token"]:
            return "message.token", "A message needs a target token."
        data = message.get("data", {})
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            return "message.data", "Invalid value at 'message.data': data values must be strings."
        notification = message.get("notification")
        if notification is not None and not (
            isinstance(notification, dict) and isinstance(notification.get("title"), str)
        ):
            return "message.notification", "Invalid notification."
        android = message.get("android", {})
        if not isinstance(android, dict):
            return "message.android", "Invalid android config."
        if android.get("priority", "NORMAL") not in ("HIGH", "NORMAL"):
            return "message.android.priority", "Invalid value at 'message.android.priority'."
        if "ttl" in android and not (isinstance(android["ttl"], str) and TTL.match(android["ttl"])):
            return "message.android.ttl", "Invalid value at 'message.android.ttl': use a duration such as '3.5s'."
        headers = (message.get("apns") or {}).get("headers", {})
        if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
            return "message.apns.headers", "APNs headers must be strings."
        if len(headers.get("apns-collapse-id", "").encode()) > 64:
            return "message.apns.headers", "apns-collapse-id must be at most 64 bytes."
        return None

    def _issue_token(self, request: Request) -> Reply:
        form = {key: values[0] for key, values in parse_qs(request.raw.decode()).items()}
        if form.get("grant_type") != JWT_BEARER:
            return Reply(400, {"error": "unsupported_grant_type", "error_description": "Invalid grant_type"})
        try:
            claims = jwt.decode(
                form.get("assertion", ""),
                self._public_key,
                algorithms=["RS256"],
                audience=self.token_uri,
                issuer=self.client_email,
                options={"require": ["iss", "aud", "iat", "exp"]},
            )
        except jwt.InvalidTokenError as error:
            return Reply(400, {"error": "invalid_grant", "error_description": f"Invalid JWT: {error}"})
        if SCOPE not in str(claims.get("scope", "")).split():
            return Reply(400, {"error": "invalid_scope", "error_description": "Missing the firebase.messaging scope"})
        if claims["exp"] - claims["iat"] > 3600:
            return Reply(400, {"error": "invalid_grant", "error_description": "JWT lifetime is over an hour"})
        return self.tokens.issue("ya29.standin-")
