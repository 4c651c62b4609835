"""Per-request plumbing: the request id (`X-Request-Id`), the security headers and the latency observation.

Every request is stamped on the way in by `RequestStart`, a WSGI wrapper round the Flask app: its id and its start
time go into the environ before Flask builds anything. Every answer passes one after-request step, `finish`, which
adds the security headers (app/infra/headers.py), sends the id back and observes the latency histogram.

A client's (or proxy's) X-Request-Id is kept when it is short and plain (it ends up in log lines and a label-free
header); anything else is replaced by 32 fresh random hex digits. Either way the response sends it back.

What the single step saves, measured on the trace lookup with scripts/bench_instructions.py (its --help command):
with a before- and two after-request hooks (request id, latency, security headers) the lookup cost 1,196,392
instructions; the stamp and this step take 3.2% off that on the same data (the current count is in
docs/benchmarks.md). Flask's hooks each pay its coroutine check and a trip through the context proxies, and
werkzeug's `Headers.extend` and `__setitem__` check every value for newlines and scan the list for an existing key.

What it costs in semantics: the API answers' three security headers and the id are appended to the response's
header list directly (werkzeug's `Headers._list`), which skips those checks: the values are constants checked once
at import, and an id that passed the pattern below (no newline can). An answer that already carries one of these
headers would carry it twice; none does (nothing else in the app sets them). The latency now runs from the stamp,
before Flask's request context is pushed, instead of from the first before-request hook: a few microseconds more
per request in the histogram.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from time import perf_counter
from typing import Any

from flask import Flask, Response, has_request_context, request
from werkzeug.datastructures import Headers

from app.infra import headers as security
from app.infra import metrics
from app.infra.context import the_request

HEADER = "X-Request-Id"
ID_KEY = "smart_park.request_id"
STARTED_KEY = "smart_park.request_started"
# Letters, digits and - _ . : up to 128: what proxies (nginx $request_id, Envoy, AWS ALB's Root=...) send.
_ACCEPTABLE = re.compile(r"[A-Za-z0-9_.:=-]{1,128}")
# Checked once here, by werkzeug itself, so that appending them per answer needs no check.
_API_HEADERS = list(Headers(security.API_HEADERS).items())


def _new_id() -> str:
    # 128 random bits as 32 hex digits, like uuid4().hex, at a fifth of its cost (no UUID object, no version bits).
    return os.urandom(16).hex()


def _id_of(environ: dict[str, Any]) -> str:
    given = environ.get("HTTP_X_REQUEST_ID")
    return given if given and _ACCEPTABLE.fullmatch(given) else _new_id()


class RequestStart:
    """WSGI wrapper: the request's id and start time, stamped into the environ before Flask sees the request."""

    def __init__(self, app: Callable[[dict[str, Any], Any], Iterable[bytes]]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        environ[ID_KEY] = _id_of(environ)
        environ[STARTED_KEY] = perf_counter()
        return self.app(environ, start_response)


def finish(response: Response) -> Response:
    """Security headers, the request id and the latency, for every answer (see the module docstring)."""
    current = the_request()
    environ = current.environ
    request_id = environ.get(ID_KEY)
    if request_id is None:  # a request that did not come through RequestStart (test_request_context)
        request_id = environ[ID_KEY] = _id_of(environ)
    if response.mimetype == "text/html":
        security.secure_page(response, path=current.path, request=current)
    else:
        response.headers._list.extend(_API_HEADERS)
    response.headers._list.append((HEADER, request_id))
    if current.method == "POST" and current.endpoint in security.TOKEN_ENDPOINTS:
        security.never_store(response)
    started = environ.get(STARTED_KEY)
    if started is not None:
        rule = current.url_rule
        metrics.observe_request(
            current.method, rule.rule if rule else None, response.status_code, perf_counter() - started
        )
    return response


def request_id() -> str | None:
    """The current request's id (None outside a request), for problem bodies and log lines."""
    return request.environ.get(ID_KEY) if has_request_context() else None


def init_app(app: Flask) -> None:
    """Stamp every request on the way in and register the one after-request step; call before any other wrapper
    or hook, so the clock starts once the body is in (app/infra/body_deadline.py) and every later hook has the id."""
    app.wsgi_app = RequestStart(app.wsgi_app)  # type: ignore[method-assign]
    app.after_request(finish)
