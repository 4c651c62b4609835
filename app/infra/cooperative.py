"""Letting other requests run during long work on a gevent worker, and nothing at all elsewhere.

A gevent worker serves every request and open notice stream on one OS thread: CPU work or a C call that does not
return to gevent's hub stops all of them, and past gunicorn's `timeout` the arbiter kills the worker with everything
on it. Code that runs long calls `pause()` between bounded steps (a `Pacer` does it when the step took long enough).
Cost: under gevent, one turn of the event loop per pause (a poll of the sockets: a few µs when nothing is
ready); under gthread workers, the CLI and the tests, one cached boolean test.
"""

from __future__ import annotations

import functools
import sys
import time


@functools.cache
def under_gevent() -> bool:
    """gunicorn's gevent worker monkey-patched this process before it loaded the app (asked once, at first use)."""
    if "gevent" not in sys.modules:
        return False
    from gevent import monkey

    return bool(monkey.is_module_patched("socket"))


def pause() -> None:
    """Let every other greenlet (requests, streams, gunicorn's heartbeat) run, new connections included.

    gevent.idle(), not gevent.sleep(0): sleep(0) runs the greenlets already ready but does not poll the sockets, so
    a request arriving meanwhile waited about a second (measured with a CPU loop pausing every 10 ms: 0.4-0.7 s for
    a request with sleep(0), 0.03-0.09 s with idle()). A no-op without gevent.
    """
    if under_gevent():
        import gevent

        gevent.idle()


def sleep(seconds: float) -> None:
    """Wait without holding the worker: gevent's sleep under gevent, the thread's otherwise."""
    if under_gevent():
        import gevent

        gevent.sleep(seconds)
    else:
        time.sleep(seconds)


class Pacer:
    """Calls `pause()` from `tick()` once `every` seconds of work have passed since the last pause.

    A tick costs one monotonic clock read, so it may be called per row of a 100,000-row file.
    """

    def __init__(self, every: float = 0.01) -> None:
        self.every = every
        self._since = time.monotonic()

    def tick(self) -> None:
        now = time.monotonic()
        if now - self._since >= self.every:
            pause()
            self._since = time.monotonic()
