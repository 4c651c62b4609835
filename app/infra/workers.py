"""Background loops: the one way the scan writer, the notice hub and the push dispatcher run work off a request.

A `BackgroundLoops` belongs to one component. It starts that component's loops as daemon threads once per process
(gunicorn forks its workers after import, and threads do not survive a fork: a forked copy starts its own), runs each
step under one error policy (log it and carry on: a database restart must not end the loop), waits between steps on
one stop event, and on `stop()` sets that event, wakes anything blocked elsewhere and joins the threads it started.
The dispatcher runs its loop in the caller's thread (`run`), so a CLI signal handler only has to call `stop()`.

Threads or greenlets, as before: under gunicorn's gevent worker the standard library was monkey-patched before the
app was imported, so `threading.Thread` is a greenlet and `Event.wait`, `time.sleep` and `queue.get` yield to the hub;
elsewhere (gthread workers, the CLI, tests) they are OS threads. A step therefore must block only in patched calls
(sockets, the database driver, these waits), or pace itself with `app.infra.cooperative.pause()`;
`cooperative.under_gevent()` says which world a loop is in.

What it saves: the three components each had their own start-once flag, pid check, sleep loop and try/log/continue
(and the scan writer and the hub no way to stop at all). What it costs: nothing per request (no code of this module
runs on one); in semantics, waits between steps are `Event.wait` rather than `time.sleep`, so they end early on
`stop()`, and a stopped component is stopped for good in this process (`start` after `stop` starts nothing).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable


class BackgroundLoops:
    """The loops of one component in this process, started together once and stopped together."""

    def __init__(self, component: str, *, log: logging.Logger, wake: Callable[[], None] | None = None) -> None:
        self.component = component
        # The component's own logger: its failures keep the logger name they always had.
        self._log = log
        # Called by `stop()` for loops blocked on something other than `wait` (a queue, a socket read).
        self._wake = wake
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._started_in: int | None = None
        self._threads: list[threading.Thread] = []

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    @property
    def started(self) -> bool:
        """Its threads were started in this process (and it has not been stopped)."""
        return self._started_in == os.getpid() and not self._stop.is_set()

    def start(self, loops: dict[str, Callable[[], None]]) -> bool:
        """Start each loop (thread name: target) as a daemon thread, unless this process already did; True if now."""
        with self._lock:
            if self._started_in == os.getpid() or self._stop.is_set():
                return False
            self._started_in = os.getpid()
            self._threads = [threading.Thread(target=target, name=name, daemon=True) for name, target in loops.items()]
        for thread in self._threads:
            thread.start()
        return True

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`; True when `stop()` was asked (at once, if it already was)."""
        return self._stop.wait(seconds)

    def run(
        self,
        step: Callable[[], float],
        *,
        failure: str,
        retry_seconds: float,
        first_wait: float = 0.0,
    ) -> None:
        """Call `step` until stopped, waiting the seconds it returns before the next call (0: none).

        A step that raises is logged (`failure` is the message) and called again after `retry_seconds`.
        """
        log, pause = self._log, first_wait
        while not self.wait(pause):
            try:
                pause = step()
            except Exception:
                log.exception(failure)
                pause = retry_seconds

    def stop(self, timeout: float | None = 5.0) -> None:
        """Tell every loop to end, wake it, and join the threads this process started (each up to `timeout`)."""
        self._stop.set()
        if self._wake is not None:
            self._wake()
        me = threading.current_thread()
        for thread in self._threads:
            if thread is not me and thread.is_alive():
                thread.join(timeout)
