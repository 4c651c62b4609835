"""The accessor every caller reads the run-time rules through: `current()`, cheap enough for the trace lookup.

Each process keeps the values in force in memory and reads `rule_settings` again (one SELECT of a few rows) once
they are older than RULES_CACHE_SECONDS (5 s by default). A change therefore reaches every worker on every host
within that time, without a restart; the process that made it forgets its copy at once (`forget()` after the
commit), so its own next request, and a test, sees the change immediately. Between refreshes a read costs a clock
reading and two comparisons, no query. Measured with scripts/bench_instructions.py on one trace code: 1,198,036
instructions a lookup against 1,189,210 before the rules came (+0.7%), the refreshes included, which under
callgrind's slowdown fall every few dozen lookups instead of every few thousand.
"""

from __future__ import annotations

import time
from decimal import Decimal

from flask import Flask, current_app
from sqlalchemy import select

from app import db
from app.config import Settings, current_settings
from app.rules.catalog import RuleValues, overrides_of, values_of
from app.rules.models import RuleSetting


class RuleCache:
    """One process's copy of the rules in force, refreshed after `ttl` seconds."""

    def __init__(self, *, ttl: float) -> None:
        self._ttl = ttl
        # (settings it was built on, monotonic expiry, values): swapped whole, so threads need no lock.
        self._held: tuple[Settings, float, RuleValues] | None = None

    def current(self, settings: Settings) -> RuleValues:
        """The values in force, read again from the database if the copy is older than the ttl."""
        held = self._held
        if held is not None and held[0] is settings and time.monotonic() < held[1]:
            return held[2]
        values = values_of(settings, _overrides())
        self._held = (settings, time.monotonic() + self._ttl, values)
        return values

    def forget(self) -> None:
        """Drop the copy: the next read goes to the database (after a change, and between tests)."""
        self._held = None


def _overrides() -> dict[str, Decimal]:
    # Outside the request's session: a read of its own, which on SQLite takes no write lock.
    with db.statement_read() as connection:
        return overrides_of(connection.execute(select(RuleSetting.key, RuleSetting.value)).all())


def init_app(app: Flask, settings: Settings) -> None:
    """Give the app its cache (create_app)."""
    app.extensions["rules"] = RuleCache(ttl=settings.rules_cache_seconds)


def current(settings: Settings | None = None) -> RuleValues:
    """The run-time rules in force for the running app (routes and commands; services receive the values).

    A caller that holds the app's settings already passes them, which saves the hot path a lookup.
    """
    return current_app.extensions["rules"].current(settings or current_settings())


def forget() -> None:
    """Make this process read the rules again on its next use: call it after committing a change."""
    current_app.extensions["rules"].forget()
