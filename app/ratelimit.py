"""The rate limiter; its storage is memory in one process, Redis when several share the limits."""

import functools
import math
import time
from collections.abc import Callable
from typing import Any

from flask import current_app, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits import RateLimitItem, parse
from werkzeug.exceptions import TooManyRequests

from app.errors import NotFound

limiter = Limiter(key_func=get_remote_address)


def login_limit() -> str:
    # Read per request, so one setting serves every process and tests can lower it.
    return current_app.config["LOGIN_RATE_LIMIT"]


@functools.lru_cache(maxsize=32)
def _item(text: str) -> RateLimitItem:
    return parse(text)


def _check(setting: str, scope: str, client: str, *, spend: bool) -> None:
    """Spend one request of a budget (or only check it is not spent); 429 with Retry-After when it is."""
    item = _item(current_app.config[setting])
    # flask-limiter's own strategy and storage (shared over Redis when configured), without its per-request
    # machinery, which cost a public lookup more than its database work did.
    strategy = limiter.limiter
    if strategy.hit(item, scope, client) if spend else strategy.test(item, scope, client):
        return
    reset = strategy.get_window_stats(item, scope, client).reset_time
    raise TooManyRequests(retry_after=max(1, math.ceil(reset - time.time())))


def public_lookup(view: Callable[..., Any]) -> Callable[..., Any]:
    """Public trace-code lookups, per client address (TRACE_RATE_LIMIT), and a tighter budget
    (TRACE_UNKNOWN_RATE_LIMIT) spent only by lookups of codes that do not exist, against enumeration."""

    @functools.wraps(view)
    def limited(*args: Any, **kwargs: Any) -> Any:
        client = get_remote_address()
        _check("TRACE_UNKNOWN_RATE_LIMIT", "trace-unknown", client, spend=False)
        _check("TRACE_RATE_LIMIT", "trace", client, spend=True)
        try:
            response = view(*args, **kwargs)
        except NotFound:
            _spend_unknown(client)
            raise
        if getattr(response, "status_code", 200) == 404:  # the resolver's page for an unknown code
            _spend_unknown(client)
        return response

    limited.public_lookup = True  # type: ignore[attr-defined]
    return limited


@limiter.request_filter
def _limited_by_public_lookup() -> bool:
    """flask-limiter has nothing to add to a public lookup, which counts itself; skip its per-request work."""
    view_class = getattr(current_app.view_functions.get(request.endpoint or ""), "view_class", None)
    return getattr(getattr(view_class, request.method.lower(), None), "public_lookup", False)


def _spend_unknown(client: str) -> None:
    limiter.limiter.hit(_item(current_app.config["TRACE_UNKNOWN_RATE_LIMIT"]), "trace-unknown", client)
