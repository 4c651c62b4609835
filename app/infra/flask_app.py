"""The app's Flask class: Flask's own, with the coroutine check of each hook and view made without `inspect`.

Flask passes every hook and view it calls through `ensure_sync`, which asks `inspect.iscoroutinefunction` (an
unwrap of methods and partials, then the code's flags): eleven times for a public trace lookup (the hooks, the
view, flask-smorest's wrappers), each call again for the same few functions.

What it gives up: nothing of Flask's semantics. A plain function, or a method bound to one, is asked its code's
coroutine flag directly, which is what `inspect` asks of it; anything else (a partial, a callable object) goes to
Flask's own check, and a coroutine function is wrapped by Flask as before.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from types import FunctionType, MethodType
from typing import Any

from flask import Flask


class App(Flask):
    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        kind = type(func)
        plain = func if kind is FunctionType else func.__func__ if kind is MethodType else None  # type: ignore[attr-defined]
        if type(plain) is FunctionType and not plain.__code__.co_flags & inspect.CO_COROUTINE:
            return func
        return super().ensure_sync(func)
