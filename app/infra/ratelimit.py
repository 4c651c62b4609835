"""Rate limits on the few routes that need them, counted by `limits` in memory (one process) or Redis (several).

The budgets are checked by the decorators below on the routes they guard, and nowhere else. Flask-Limiter,
the extension built on the same library, ran its before- and after-request pass on every request of the API
to serve two decorated routes, and on a public trace-code lookup that pass cost more than the lookup's own
database read.
"""

from __future__ import annotations

import functools
import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, current_app, request
from limits import RateLimitItem, parse
from limits.errors import StorageError
from limits.storage import Storage, storage_from_string
from limits.strategies import FixedWindowRateLimiter
from werkzeug.exceptions import TooManyRequests

from app.config import Settings
from app.errors import NotFound
from app.infra.context import the_app, the_request

log = logging.getLogger(__name__)

EXTENSION = "rate_limiter"
IN_PROCESS = "memory://"


class WindowCounters(Storage):
    """Fixed-window counters in this process's memory: what `memory://` names here.

    `limits`' own memory storage starts a timer thread on nearly every hit and walks every key each time it fires
    (a hundred times a second under steady load): with 20,000 client addresses counted, a fifth of a core went to
    that alone. Here an expired window is dropped when its key is next used, and a sweep for the rest runs at most
    every `sweep_seconds`.
    """

    STORAGE_SCHEME = None  # made directly, never from a URI

    def __init__(self, *, clock: Callable[[], float] = time.time, sweep_seconds: float = 10.0) -> None:
        super().__init__()
        self._clock = clock
        self._sweep_seconds = sweep_seconds
        self._windows: dict[str, tuple[int, float]] = {}  # key: (count, end of its window)
        self._next_sweep = clock() + sweep_seconds
        self._lock = threading.Lock()

    @property
    def base_exceptions(self) -> type[Exception]:
        return ValueError  # nothing here raises

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        now = self._clock()
        with self._lock:
            count, ends = self._windows.get(key, (0, 0.0))
            if ends <= now:
                count, ends = 0, now + expiry
            count += amount
            self._windows[key] = (count, ends)
            if now >= self._next_sweep:
                self._sweep(now)
        return count

    def get(self, key: str) -> int:
        count, ends = self._windows.get(key, (0, 0.0))
        return count if ends > self._clock() else 0

    def get_expiry(self, key: str) -> float:
        now = self._clock()
        _, ends = self._windows.get(key, (0, 0.0))
        return ends if ends > now else now

    def check(self) -> bool:
        return True

    def reset(self) -> int:
        with self._lock:
            dropped = len(self._windows)
            self._windows.clear()
        return dropped

    def clear(self, key: str) -> None:
        with self._lock:
            self._windows.pop(key, None)

    def __len__(self) -> int:
        return len(self._windows)

    def _sweep(self, now: float) -> None:
        self._windows = {key: window for key, window in self._windows.items() if window[1] > now}
        self._next_sweep = now + self._sweep_seconds


_T = TypeVar("_T")


class RateLimiter:
    """Fixed-window budgets per client address and scope, under one key prefix per environment.

    While a shared storage (Redis) cannot be reached, each process counts in its own memory and tries the storage
    again after `RETRY_SHARED_SECONDS`: every budget still holds, per process, and nobody gets a 500 for it.
    Neither failing open (no limit at all while Redis is down) nor failing closed (no sign-in at all).
    """

    RETRY_SHARED_SECONDS = 5.0

    def __init__(self, storage_uri: str, *, key_prefix: str) -> None:
        self._local = FixedWindowRateLimiter(WindowCounters())
        self._shared: FixedWindowRateLimiter | None = None
        if storage_uri != IN_PROCESS:
            options = _REDIS_TIMEOUTS if storage_uri.startswith(("redis://", "rediss://")) else {}
            self._shared = FixedWindowRateLimiter(storage_from_string(storage_uri, wrap_exceptions=True, **options))
        self._shared_down_until = 0.0
        self._prefix = key_prefix

    def spend(self, limit: str, scope: str, client: str) -> None:
        """Take one request from the budget; 429 with Retry-After once it is spent."""
        item = _item(limit)

        def take(strategy: FixedWindowRateLimiter) -> None:
            if not strategy.hit(item, self._prefix, scope, client):
                self._refuse(strategy, item, scope, client)

        self._counted(take)

    def check(self, limit: str, scope: str, client: str) -> None:
        """429 if the budget is spent, without taking from it."""
        item = _item(limit)

        def test(strategy: FixedWindowRateLimiter) -> None:
            if not strategy.test(item, self._prefix, scope, client):
                self._refuse(strategy, item, scope, client)

        self._counted(test)

    def retry_after(self, limit: str, scope: str, client: str) -> int | None:
        """Seconds until the budget has room again, or None while it has room now (nothing is taken)."""
        item = _item(limit)

        def wait(strategy: FixedWindowRateLimiter) -> int | None:
            if strategy.test(item, self._prefix, scope, client):
                return None
            reset = strategy.get_window_stats(item, self._prefix, scope, client).reset_time
            return max(1, math.ceil(reset - time.time()))

        return self._counted(wait)

    def charge(self, limit: str, scope: str, client: str) -> None:
        """Take one request from the budget after the fact (the answer has gone out; nothing to refuse)."""
        self._counted(lambda strategy: strategy.hit(_item(limit), self._prefix, scope, client))

    def _counted(self, action: Callable[[FixedWindowRateLimiter], _T]) -> _T:
        if self._shared is not None and time.monotonic() >= self._shared_down_until:
            try:
                return action(self._shared)
            except StorageError as error:
                self._shared_down_until = time.monotonic() + self.RETRY_SHARED_SECONDS
                log.warning(
                    "Rate-limit storage unreachable (%s); counting in this process for the next %.0f s",
                    error.storage_error,
                    self.RETRY_SHARED_SECONDS,
                )
        return action(self._local)

    def _refuse(self, strategy: FixedWindowRateLimiter, item: RateLimitItem, scope: str, client: str) -> None:
        reset = strategy.get_window_stats(item, self._prefix, scope, client).reset_time
        raise TooManyRequests(retry_after=max(1, math.ceil(reset - time.time())))


# A Redis that is down or unreachable must cost a request a second at most, not hang it.
_REDIS_TIMEOUTS = {"socket_connect_timeout": 1.0, "socket_timeout": 1.0}


def init_app(app: Flask, settings: Settings) -> None:
    app.extensions[EXTENSION] = RateLimiter(settings.rate_limit_storage_uri, key_prefix=settings.rate_limit_key_prefix)


@functools.lru_cache(maxsize=32)
def _item(text: str) -> RateLimitItem:
    return parse(text)


def limiter() -> RateLimiter:
    """The app's limiter, for budgets spent by a service rather than a decorator (failed sign-ins)."""
    return _limiter()


def _limiter() -> RateLimiter:
    return current_app.extensions[EXTENSION]


def _limit(setting: str) -> str:
    # Read per request, so one setting serves every process and tests can lower it.
    return current_app.config[setting]


def per_client(setting: str, *, scope: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Each client address gets the budget the config value `setting` names ("10 per minute") on this route."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def limited(*args: Any, **kwargs: Any) -> Any:
            _limiter().spend(_limit(setting), scope, request.remote_addr or "")
            return view(*args, **kwargs)

        return limited

    return decorate


def public_lookup(view: Callable[..., Any]) -> Callable[..., Any]:
    """Public trace-code lookups, per client address (TRACE_RATE_LIMIT), and a tighter budget
    (TRACE_UNKNOWN_RATE_LIMIT) spent and checked only by lookups of codes that do not exist, against enumeration.

    A hit never looks at the unknown budget: behind one shared Wi-Fi or carrier NAT, someone's typos or a
    forger's probing must not turn a genuine code into a 429 for everyone else on that address. The price is
    that past the unknown budget a prober still tells hits (200) from misses (429), at the general rate: with
    random 16-character serials that is no practical way to find codes. The hit path does one budget hit, no more.
    """

    @functools.wraps(view)
    def limited(*args: Any, **kwargs: Any) -> Any:
        # The app and request themselves, not their attributes through the proxies (app/infra/context.py says why).
        app = the_app()
        limiter, client = app.extensions[EXTENSION], the_request().remote_addr or ""
        limiter.spend(app.config["TRACE_RATE_LIMIT"], "trace", client)
        try:
            response = view(*args, **kwargs)
        except NotFound:
            limiter.spend(app.config["TRACE_UNKNOWN_RATE_LIMIT"], "trace-unknown", client)
            raise
        if getattr(response, "status_code", 200) == 404:  # the resolver's page for an unknown code
            limiter.spend(app.config["TRACE_UNKNOWN_RATE_LIMIT"], "trace-unknown", client)
        return response

    return limited
