"""The process's list of the customs officers on duty, by customs office: app/notices/officers.py reads and keeps it
(its docstring says for how long and what that gives up); whatever changes who is on duty forgets it here."""

from __future__ import annotations

from typing import Any

from flask import Flask, has_app_context

from app.infra.context import the_app
from app.infra.ttl_cache import TtlCache

# How long a process believes the list it read (see app/notices/officers.py).
CACHE_SECONDS = 5.0
_KEY = "officers_on_duty"


def init_app(app: Flask) -> None:
    # One entry per customs office an alert named, and one for none: a few dozen at most.
    app.extensions[_KEY] = TtlCache(CACHE_SECONDS, max_entries=256)


def cache() -> TtlCache[str | None, Any] | None:
    """The app's cache, or None outside an app context (a script's session reads every time)."""
    return the_app().extensions.get(_KEY) if has_app_context() else None


def forget() -> None:
    """Forget every office's list in this process (an officer's settings changed; a test rolled its rows back)."""
    found = cache()
    if found is not None:
        found.clear()
