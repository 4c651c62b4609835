"""A per-process cache whose entries are believed for a few seconds, for a check every request would otherwise make
against the database: which machine account an API key belongs to (app/auth/api_keys.py).

What it saves, as measured (2026-12-07, the 2-core development VM, `scripts/bench_line_cost.py`, one X-ray line
scan through the WSGI app on PostgreSQL): the key's lookup was one round trip and an ORM load of the key, its
account and the account's enterprise on every request; answered from here, the request copies the account into its
session instead (`Session.merge(load=False)`, no SQL). The figures are in docs/benchmarks.md, section 9.

What it gives up: a change in the database reaches a process only when its entry expires, so each process may go
on believing what it read for up to `seconds`. For API keys that means a key revoked, or a machine account
disabled, locked or moved to another enterprise, or its enterprise deactivated, in another worker or host still
works there for up to that long (the default is 5 s). The process that makes the change forgets the entry at once
(`forget`, `forget_where`), so a revocation through the admin API stops the key at once in the worker that served
it. Only what was found valid is kept: an unknown or revoked key is looked up every time, and a key issued a moment
ago works at once everywhere.

The entries live in a dict of the process: a gevent worker's greenlets and a gthread worker's threads share it (each
operation is one dict operation under the GIL), workers and hosts do not. At most `max_entries` are kept (the
valid keys in use: a few per machine account); past that, the expired ones go, then everything.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    """Values believed for `seconds` after they were put (see the module docstring for what that gives up)."""

    def __init__(self, seconds: float, *, clock: Callable[[], float] = time.monotonic, max_entries: int = 1024) -> None:
        self.seconds = seconds
        self.clock = clock
        self.max_entries = max_entries
        self._entries: dict[K, tuple[float, V]] = {}

    def get(self, key: K) -> V | None:
        """The value put under `key` less than `seconds` ago, or None."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= self.clock():
            self._entries.pop(key, None)
            return None
        return entry[1]

    def put(self, key: K, value: V) -> None:
        if self.seconds <= 0:
            return
        now = self.clock()
        if len(self._entries) >= self.max_entries and key not in self._entries:
            for stale in [k for k, (expires, _value) in self._entries.items() if expires <= now]:
                self._entries.pop(stale, None)
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
        self._entries[key] = (now + self.seconds, value)

    def forget(self, key: K) -> None:
        self._entries.pop(key, None)

    def forget_where(self, matches: Callable[[V], bool]) -> None:
        """Forget every entry whose value `matches`."""
        for key in [k for k, (_expires, value) in list(self._entries.items()) if matches(value)]:
            self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
