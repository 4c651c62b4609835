"""Two gevent workers on the embedded SQLite database under concurrent writers (issue 17, item 5)."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import pytest

from tests.databases import configured_url, is_postgres
from tests.live import DEMO_PASSWORD, Probe, call, declaration_body, live_server, worker_deaths


def _status(request, *args, **kwargs):
    try:
        return request(*args, **kwargs)[0]
    except OSError as error:  # a timeout, or the connection of a killed worker
        return repr(error)


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory):
    directory = tmp_path_factory.mktemp("writers")
    with live_server(
        directory, WEB_CONCURRENCY="2", LOGIN_RATE_LIMIT="100000 per minute", DATABASE_WRITE_WAIT_SECONDS="5"
    ) as server:
        yield server, directory / "gunicorn.log"


def test_twenty_concurrent_writers_on_two_workers_all_succeed_and_no_worker_dies(two_workers):
    server, log = two_workers
    token = server.login()[1]["access_token"]

    def declare(_):
        body = declaration_body(f"W{uuid.uuid4().hex[:12].upper()}")
        return _status(call, f"{server.base}/api/v1/declarations", body=body, token=token)

    # A long write meanwhile (as an import or a sign-in's password check holds the lock): 3 s, within the 5 s wait.
    with (
        _write_lock_held(server, after=0.5, seconds=3),
        Probe(server.base) as probe,
        ThreadPoolExecutor(max_workers=20) as pool,
    ):
        statuses = list(pool.map(declare, range(200)))

    assert statuses == [201] * 200
    assert probe.failures == 0
    assert probe.slowest < 1.0
    assert worker_deaths(log) == []


@contextmanager
def _write_lock_held(server, *, after: float, seconds: float):
    """On SQLite, another process takes the write lock `after` seconds from now and holds it for `seconds`."""
    if is_postgres(configured_url()):
        yield
        return

    def hold():
        time.sleep(after)
        path = server.env["DATABASE_URL"].removeprefix("sqlite:///")
        holder = sqlite3.connect(path, isolation_level=None, timeout=30)
        holder.execute("BEGIN IMMEDIATE")
        time.sleep(seconds)
        holder.rollback()
        holder.close()

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    try:
        yield
    finally:
        thread.join(timeout=60)


@pytest.mark.skipif(is_postgres(configured_url()), reason="holds SQLite's write lock from outside the service")
def test_a_write_that_waits_past_the_limit_is_503_with_retry_after(two_workers):
    server, log = two_workers
    holder = sqlite3.connect(server.env["DATABASE_URL"].removeprefix("sqlite:///"), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with Probe(server.base) as probe:
            started = time.monotonic()
            response = _post_login(server)
            waited = time.monotonic() - started
    finally:
        holder.rollback()
        holder.close()

    assert response.status == 503
    assert response.headers["Retry-After"] == "1"
    assert json.loads(response.read())["code"] == "database_busy"
    assert 4.5 < waited < 15
    assert probe.failures == 0
    assert probe.slowest < 1.0
    assert server.login()[0] == 200
    assert worker_deaths(log) == []


def _post_login(server):
    body = json.dumps({"username": "declarant", "password": DEMO_PASSWORD}).encode()
    request = urllib.request.Request(
        f"{server.base}/api/v1/auth/login", data=body, headers={"Content-Type": "application/json"}
    )
    try:
        return urllib.request.urlopen(request, timeout=20)
    except urllib.error.HTTPError as error:
        return error
