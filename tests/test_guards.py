"""The guard every test client carries fails a request that leaves a transaction open (tests/guards.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Response
from sqlalchemy import text

from app import db
from tests.conftest import scratch_app


def test_a_streamed_body_that_reads_through_the_closed_request_session_fails_loudly(tmp_path):
    with scratch_app(tmp_path) as app:

        @app.get("/leaky.csv")
        def leaky() -> Response:
            session = db.session()
            session.execute(text("SELECT 1"))

            def rows() -> Iterator[str]:
                # Runs after the request's teardown closed the session.
                yield str(session.execute(text("SELECT 2")).scalar())

            return Response(rows(), mimetype="text/csv")

        with pytest.raises(Exception, match="permanently closed"):
            app.test_client().get("/leaky.csv")


def test_a_view_that_keeps_a_session_of_its_own_open_fails_the_guard(tmp_path):
    with scratch_app(tmp_path) as app:
        kept = []

        @app.get("/kept")
        def kept_open() -> str:
            session = db.session_factory()()
            session.execute(text("SELECT 1"))
            kept.append(session)  # never closed
            return "ok"

        with pytest.raises(AssertionError, match="left 1 database transaction"):
            app.test_client().get("/kept")
        kept[0].close()


def test_a_view_that_keeps_a_pooled_connection_fails_the_guard(tmp_path):
    with scratch_app(tmp_path) as app:
        kept = []

        @app.get("/pooled")
        def pooled() -> str:
            kept.append(app.extensions["engine"].raw_connection())  # never handed back
            return "ok"

        with pytest.raises(AssertionError, match="kept 1 pooled connection"):
            app.test_client().get("/pooled")
        kept[0].close()
