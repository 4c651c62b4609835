"""The rate limiter; its storage is memory in one process, Redis when several share the limits."""

from flask import current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

limiter = Limiter(key_func=get_remote_address)


def login_limit() -> str:
    # Read per request, so one setting serves every process and tests can lower it.
    return current_app.config["LOGIN_RATE_LIMIT"]


def trace_limit() -> str:
    """Public trace-code lookups, per client address."""
    return current_app.config["TRACE_RATE_LIMIT"]


def trace_unknown_limit() -> str:
    """Lookups of codes that do not exist, per client address: a tighter budget against enumeration."""
    return current_app.config["TRACE_UNKNOWN_RATE_LIMIT"]
