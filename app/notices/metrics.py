"""The outbox's figures for Prometheus: its depth and the age of its oldest pending delivery.

Read when Prometheus scrapes, not per request. The factory hands this collector to `app.infra.metrics`, so the
plumbing never imports a domain.
"""

from __future__ import annotations

from collections.abc import Iterator

from flask import Flask
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from app import db
from app.notices import outbox


class OutboxCollector(Collector):
    """Outbox depth and the age of its oldest pending delivery, read when Prometheus scrapes, not per request."""

    def __init__(self, app: Flask) -> None:
        self._app = app

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with db.reading(self._app.extensions["sessionmaker"]) as session:
            depth, oldest_age = outbox.depth(session)
        yield GaugeMetricFamily("smartpark_outbox_pending", "Deliveries waiting in the push outbox.", value=depth)
        yield GaugeMetricFamily(
            "smartpark_outbox_oldest_pending_age_seconds",
            "Age of the oldest delivery waiting in the push outbox (0 when it is empty).",
            value=oldest_age,
        )
