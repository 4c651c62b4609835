"""The DomainError family and the one renderer of RFC 9457 problem details.

Every non-2xx answer leaves through `problem_response`. `code` values are part of the API:
add new ones, never reword old ones.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any, ClassVar

import psycopg
from flask import current_app, request
from flask.wrappers import Response
from sqlalchemy import exc as sa_exc
from werkzeug.exceptions import HTTPException

from app.field_errors import translate
from app.i18n import _l

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"

# Stable codes for plain HTTP failures; these use type "about:blank" as RFC 9457 advises.
HTTP_CODES: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    408: "request_timeout",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "rate_limited",
    500: "internal_error",
    503: "service_unavailable",
}


class DomainError(Exception):
    """A rule was broken; the message is the `detail` shown to the caller.

    `keeps_changes` marks errors whose bookkeeping must survive the rollback (a failed
    login's counter, a revoked token family): `db.transaction()` commits before re-raising.
    """

    status: int = 400
    code: str = "bad_request"
    title: str = _l("Bad request")
    keeps_changes: bool = False
    registry: ClassVar[dict[str, type[DomainError]]] = {}

    def __init__(
        self,
        detail: str,
        *,
        errors: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        detail = str(detail)  # a lazy text (_l) in the language of the request that raised it
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.headers = dict(headers or {})

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "code" in cls.__dict__:
            DomainError.registry[cls.code] = cls


class NotFound(DomainError):
    status, code, title = 404, "not_found", _l("Not found")


class Conflict(DomainError):
    status, code, title = 409, "conflict", _l("Conflict")


class InvalidInput(DomainError):
    """Input that passed the schema but breaks a rule only the service can check."""

    status, code, title = 422, "validation_failed", _l("Invalid input")

    @classmethod
    def of_field(cls, field: str, message: str, *, location: str = "json") -> InvalidInput:
        """One field's problem, reported under `errors.<location>.<field>` as the schemas report theirs."""
        return cls(message, errors={location: {field: [message]}})


class PermissionDenied(DomainError):
    status, code, title = 403, "forbidden", _l("Forbidden")


class Unauthorized(DomainError):
    status, code, title = 401, "unauthorized", _l("Unauthorized")

    def __init__(self, detail: str, **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": 'Bearer realm="smart-park", error="invalid_token"'})
        super().__init__(detail, **kwargs)


def problem_type(code: str) -> str:
    return current_app.config["PROBLEM_TYPE_BASE"] + code


def problem_response(
    *,
    status: int,
    code: str,
    detail: str,
    title: str | None = None,
    type_: str = "about:blank",
    errors: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": type_,
        "title": str(title or _HTTP_TITLES.get(status) or HTTPStatus(status).phrase),
        "status": status,
        "detail": translate(detail) if isinstance(detail, str) else str(detail),
        "instance": request.path,
        "code": code,
    }
    if errors:
        body["errors"] = translate(errors)  # marshmallow's own messages are English until here
    if (request_id := request.environ.get("smart_park.request_id")) is not None:  # app/infra/observe.py
        body["request_id"] = request_id
    response = current_app.json.response(body)
    response.status_code = status
    response.mimetype = PROBLEM_MEDIA_TYPE
    response.headers.update(headers or {})
    return response


def render_domain_error(error: DomainError) -> Response:
    return problem_response(
        status=error.status,
        code=error.code,
        title=error.title,
        type_=problem_type(error.code),
        detail=error.detail,
        errors=error.errors,
        headers=error.headers,
    )


_HTTP_DETAILS = {
    404: _l("No resource at this address."),
    405: _l("This method is not allowed on this resource."),
    413: _l("The request body is larger than this service accepts."),
    429: _l("Too many requests; wait before trying again."),
    500: _l("The server hit an unexpected error; it has been logged."),
}

# The status phrases used as `title` of plain HTTP problems (RFC 9457 4.2.1: the phrase, which MAY be localized).
_HTTP_TITLES = {
    400: _l("Bad Request"),
    401: _l("Unauthorized"),
    403: _l("Forbidden"),
    404: _l("Not Found"),
    405: _l("Method Not Allowed"),
    406: _l("Not Acceptable"),
    408: _l("Request Timeout"),
    409: _l("Conflict"),
    413: _l("Request Entity Too Large"),
    415: _l("Unsupported Media Type"),
    422: _l("Unprocessable Entity"),
    429: _l("Too Many Requests"),
    500: _l("Internal Server Error"),
    503: _l("Service Unavailable"),
}


def render_http_exception(error: HTTPException) -> Response:
    """Problem details for routing errors, webargs' parse errors, rate limits and crashes."""
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    messages = data.get("messages")
    headers = dict(data.get("headers") or {})
    retry_after = getattr(error, "retry_after", None)
    if retry_after is not None:  # a rate limit's 429 (werkzeug's TooManyRequests)
        headers["Retry-After"] = str(retry_after)
    if status == 405 and error.valid_methods:  # type: ignore[attr-defined]
        headers["Allow"] = ", ".join(sorted(error.valid_methods))  # type: ignore[attr-defined]
    if messages is not None:
        detail = {
            400: _l("The request body could not be parsed; see errors."),
            415: _l("The request body has a media type this endpoint does not accept; see errors."),
        }.get(status, _l("The request did not pass validation; see errors."))
        code = "malformed_request" if status == 400 else HTTP_CODES.get(status, "bad_request")
        return problem_response(
            status=status,
            code=code,
            type_=problem_type(code),
            detail=detail,
            errors=messages,
            headers=headers,
        )
    if status >= 500:
        detail = _HTTP_DETAILS[500]
    else:
        detail = _HTTP_DETAILS.get(status) or (error.description or HTTPStatus(status).description)
    return problem_response(
        status=status,
        code=HTTP_CODES.get(status, "http_error"),
        detail=detail,
        headers=headers,
    )


# The database is down, restarting, cut off or (SQLite) held by another writer past the busy timeout: the request
# may well succeed a moment later, so 503 with Retry-After (RFC 9110 15.6.4), not a 500. The DBAPI classes are
# here for the statements `app.db` runs on the driver directly, past SQLAlchemy's wrapping.
DATABASE_UNAVAILABLE: tuple[type[Exception], ...] = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.DisconnectionError,
    sa_exc.TimeoutError,  # the pool had no connection to give within pool_timeout
    sqlite3.OperationalError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
)
DATABASE_RETRY_AFTER_SECONDS = 5


def render_database_unavailable(error: Exception) -> Response:
    """503 problem with Retry-After for a database that cannot answer now; the cause goes to the log."""
    log.error("database unavailable for %s %s: %s", request.method, request.path, error)
    return problem_response(
        status=503,
        code=HTTP_CODES[503],
        detail=_l("The database cannot answer at the moment; try again shortly."),
        headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
    )
