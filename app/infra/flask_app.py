"""The Flask application class, less two costs the framework's defaults put on every request.

- **Sessions.** The API signs nobody in by cookie (bearer tokens only) and sets no `secret_key`, so Flask's cookie
  session interface opens nothing and makes a fresh `NullSession` for each request. `NoSessions` hands every request
  the same empty, unwritable one: the same `session` to any reader, and the same error for a writer.
- **Coroutine checks.** Flask asks `inspect.iscoroutinefunction` for each view, hook and teardown it calls (seven
  times on a trace lookup). `ensure_sync` answers for plain functions and bound methods from the code object's flags,
  as `inspect` does, and leaves anything else (partials, callables, marked functions) to Flask.

Measured on the trace lookup (scripts/bench_instructions.py, same data both ways): 1,289,660 -> 1,259,862
instructions a request (-2.3%), which brought the lookup under its budget (1,145,000; now 1,109,788).
What it costs in semantics: none that the app can see; a `secret_key` set one day would need Flask's interface back
(`session_interface` below), which a test guards.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from types import FunctionType, MethodType
from typing import Any

from flask import Flask
from flask.sessions import NullSession, SessionInterface


class NoSessions(SessionInterface):
    """No cookie sessions: one shared null session (it refuses writes) for every request, and nothing to save."""

    def __init__(self) -> None:
        self._null = NullSession()

    def open_session(self, app: Flask, request: Any) -> NullSession:
        return self._null

    def save_session(self, app: Flask, session: Any, response: Any) -> None:
        return None


class App(Flask):
    session_interface = NoSessions()

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        plain = func.__func__ if type(func) is MethodType else func
        if (
            type(plain) is FunctionType
            and not plain.__code__.co_flags & inspect.CO_COROUTINE
            # inspect.markcoroutinefunction's mark (Python 3.12); hasattr would raise and catch an AttributeError
            and "_is_coroutine_marker" not in plain.__dict__
        ):
            return func
        return super().ensure_sync(func)
