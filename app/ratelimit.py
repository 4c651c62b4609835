"""The rate limiter; its storage is memory in one process, Redis when several share the limits."""

from flask import current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

limiter = Limiter(key_func=get_remote_address)


def login_limit() -> str:
    # Read per request, so one setting serves every process and tests can lower it.
    return current_app.config["LOGIN_RATE_LIMIT"]
