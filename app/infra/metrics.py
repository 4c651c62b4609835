"""Prometheus metrics (prometheus-client): what the service counts, and `GET /metrics` to scrape them.

Under gunicorn each worker is a process of its own; gunicorn.conf.py points PROMETHEUS_MULTIPROC_DIR at a directory
before the workers start, prometheus-client then keeps every value in a memory-mapped file per process, and a scrape
of any worker adds up the files of all of them (prometheus-client's multiprocess mode). Gauges say how they add up
(`livesum`: the live workers' values summed). Without the variable (tests, the CLI) values live in this process.

Cost per request: one histogram observation (two locked adds, memory-mapped under gunicorn) through a child looked
up in a dict keyed by method, route and status. Figures that need a query (the outbox) are read at scrape time; the
pool and the scan queue are sampled (see `watch`).
"""

from __future__ import annotations

import hmac
import os
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)
from prometheus_client.registry import Collector
from sqlalchemy import Engine

from app.errors import Unauthorized
from app.i18n import _
from app.infra.context import the_app

# prometheus-client picked its value class from the environment when it was imported: this is what it chose.
MULTIPROCESS = values.ValueClass is not values.MutexValue

REQUEST_SECONDS = Histogram(
    "smartpark_http_request_duration_seconds",
    "Time to the response's headers (a stream's first bytes), by method, route template and status.",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
PUSHES = Counter(
    "smartpark_pushes",
    "Push notifications and SMS sent by the dispatcher, by provider and outcome.",
    ["provider", "outcome"],
)
OPEN_STREAMS = Gauge("smartpark_notice_streams_open", "Notice event streams open now.", multiprocess_mode="livesum")
SCAN_QUEUE = Gauge(
    "smartpark_trace_scan_queue_length",
    "Trace-code scans waiting for the background writer.",
    multiprocess_mode="livesum",
)
SCANS_DROPPED = Counter("smartpark_trace_scans_dropped", "Trace-code scans the writer could not record (lost).")
RECEIPTS = Counter("smartpark_customs_receipts", "Customs receipts taken, by outcome.", ["outcome"])
DB_POOL_CHECKED_OUT = Gauge(
    "smartpark_db_pool_checked_out", "Database connections in use (all workers).", multiprocess_mode="livesum"
)
DB_POOL_SIZE = Gauge(
    "smartpark_db_pool_size",
    "Database connections the pools keep (all workers); each may open max_overflow more under load.",
    multiprocess_mode="livesum",
)

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_request_children: dict[tuple[str, str, int], Any] = {}


def observe_request(method: str, route: str | None, status: int, seconds: float) -> None:
    """One request's latency. Labels are bounded: the url rule (never the path), a known method, the status."""
    key = (method, route or "unmatched", status)
    child = _request_children.get(key)
    if child is None:
        # Any other word is a valid HTTP method to werkzeug; a label per word would let a client grow the series.
        label_method = method if method in _METHODS else "other"
        child = _request_children[key] = REQUEST_SECONDS.labels(label_method, key[1], str(status))
    child.observe(seconds)


def count_pushes(sends: Iterable[tuple[str, object]]) -> None:
    """Pushes by provider (apns, fcm, ..., or sms) and outcome (sent, retry, invalid_token, failed)."""
    for provider, outcome in sends:
        PUSHES.labels(provider, _snake(type(outcome).__name__)).inc()


def count_receipts(counts: dict[str, int]) -> None:
    """Receipts of one committed batch, by outcome."""
    for outcome, count in counts.items():
        if count:
            RECEIPTS.labels(outcome).inc(count)


SAMPLE_SECONDS = 1.0


def watch(app: Flask) -> None:
    """Keep the pool and scan-queue gauges current without a cost per request.

    They are read from the pool and the queue themselves: at scrape time in a single process; under gunicorn, where a
    scrape cannot see the other workers, by a thread per worker every second (counting at each checkout and each
    queued scan cost the trace lookup 2-3% of its instructions).
    """
    DB_POOL_SIZE.set(_pool_size(app.extensions["engine"]))
    if MULTIPROCESS:
        threading.Thread(target=_sample_forever, args=(app,), name="metrics-sampler", daemon=True).start()


def _sample_forever(app: Flask) -> None:
    while True:
        time.sleep(SAMPLE_SECONDS)
        _sample(app)


def _sample(app: Flask) -> None:
    pool = app.extensions["engine"].pool
    DB_POOL_CHECKED_OUT.set(pool.checkedout() if hasattr(pool, "checkedout") else 0)
    recorder = app.extensions.get("trace_scan_recorder")
    SCAN_QUEUE.set(recorder.queued if recorder is not None else 0)


def _pool_size(engine: Engine) -> int:
    return engine.pool.size() if hasattr(engine.pool, "size") else 0


def collect_at_scrape(app: Flask, collector: Collector) -> None:
    """Add a figure that needs a query (a domain's collector, handed over by the factory) to every scrape."""
    app.extensions.setdefault("metrics_collectors", []).append(collector)


def process_exiting(pid: int | None = None) -> None:
    """Drop an ended process's live gauges from the sums (gunicorn's child_exit, the dispatcher's exit)."""
    if MULTIPROCESS:
        multiprocess.mark_process_dead(pid or os.getpid())


class _ThisProcess(Collector):
    """The default registry's metrics, for a scrape without multiprocess mode."""

    def collect(self) -> Iterator[Any]:
        yield from REGISTRY.collect()


blp = Blueprint("metrics", __name__)


@blp.get("/metrics")
def scrape() -> Response:
    """Prometheus text format; 404 unless METRICS_TOKEN is set, 401 without it as a bearer token."""
    token = current_app.extensions["settings"].metrics_token
    if not token:
        abort(404)
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        raise Unauthorized(
            _("Send the metrics token as a bearer token."),
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    app = the_app()
    registry = CollectorRegistry(auto_describe=False)
    if MULTIPROCESS:
        multiprocess.MultiProcessCollector(registry)
    else:
        _sample(app)
        registry.register(_ThisProcess())
    for collector in app.extensions.get("metrics_collectors", ()):
        registry.register(collector)
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() and i else c.lower() for i, c in enumerate(name))
