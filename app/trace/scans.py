"""Counted lookups written off the request path: a queue per process, drained in batches by one thread.

The same transaction keeps each code's totals and raises the clone alarms (risk warnings), so neither
costs the consumer's request anything.

A consumer's answer never waits for the scan's INSERT (nor, on SQLite, for the write lock). A scan still
in the queue when the process dies is lost; the counts are a fraud signal, not a ledger.
"""

from __future__ import annotations

import atexit
import logging
import queue
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from app.infra import metrics
from app.infra.workers import BackgroundLoops
from app.trace import alarms
from app.trace.lookup import CloneRules

log = logging.getLogger(__name__)


class ScanRecorder:
    def __init__(
        self, factory: sessionmaker[Session], *, rules: CloneRules, batch: int = 500, linger: float = 0.2
    ) -> None:
        self._factory = factory
        self._rules = rules
        self._batch = batch
        self._linger = linger
        self._queue: queue.SimpleQueue[dict[str, Any] | None] = queue.SimpleQueue()
        # stop() puts None in the queue, which wakes the writer from its blocking get.
        self._loops = BackgroundLoops("trace-scans", log=log, wake=lambda: self._queue.put(None))

    def record(self, scan: dict[str, Any], *, rules: CloneRules | None = None) -> None:
        """Queue one scan; the writer thread starts with the first (after gunicorn forked the worker).

        `rules` are the clone rules in force at the lookup (an admin may change them at run time, app/rules):
        the writer judges each batch by the latest given.
        """
        if rules is not None:
            self._rules = rules
        self._queue.put(scan)
        if not self._loops.started and self._loops.start({"trace-scan-recorder": self._run}):
            atexit.register(self.flush)

    def stop(self) -> None:
        """End the writer (after the batch in hand) and write what is still queued."""
        self._loops.stop()
        self.flush()

    @property
    def queued(self) -> int:
        """Scans waiting for the writer (the metrics sample it)."""
        return self._queue.qsize()

    def flush(self) -> None:
        """Write whatever is queued now (at exit, and for tests)."""
        while rows := self._take():
            self._write(rows)

    def _run(self) -> None:
        self._loops.run(self._write_next_batch, failure="the trace-scan writer failed", retry_seconds=0)

    def _write_next_batch(self) -> float:
        first = self._queue.get()
        if first is None:  # stop() woke us
            return 0
        # Let the scans of the next moments join this one: one commit (an fsync on SQLite) and one alarm per
        # code for many lookups, instead of one each; counts lag by this much at most.
        if self._queue.qsize() < self._batch:
            self._loops.wait(self._linger)
        self._write([first, *self._take(limit=self._batch - 1)])
        return 0

    def _take(self, *, limit: int | None = None) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        try:
            while len(rows) < (limit or self._batch):
                row = self._queue.get_nowait()
                if row is not None:  # the writer's wake-up call, not a scan
                    rows.append(row)
        except queue.Empty:
            pass
        return rows

    def _write(self, rows: list[dict[str, Any]]) -> None:
        try:
            with self._factory() as session, session.begin():
                alarms.record_scans(session, rows, rules=self._rules)
        except Exception:
            # A lost batch of scan records must not kill the writer: later scans still count.
            log.exception("could not record %d trace-code scans", len(rows))
            metrics.SCANS_DROPPED.inc(len(rows))
