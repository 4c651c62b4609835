"""Scale-out: several gunicorn workers share one login limit through Redis."""

import uuid

from tests.databases import REDIS_URL
from tests.live import call, live_server

LIMIT = 4


def test_workers_share_the_login_limit_through_redis(tmp_path):
    with live_server(
        tmp_path,
        WEB_CONCURRENCY="3",
        GUNICORN_THREADS="2",
        RATE_LIMIT_STORAGE_URI=REDIS_URL,
        # A prefix of its own, so earlier runs' counters in the same Redis cannot interfere.
        RATE_LIMIT_KEY_PREFIX=f"test-{uuid.uuid4().hex}",
        LOGIN_RATE_LIMIT=f"{LIMIT} per minute",
    ) as server:
        statuses = [
            call(f"{server.base}/api/v1/auth/login", body={"username": "nobody", "password": "x"})[0]
            for _ in range(LIMIT * 3)
        ]

    assert statuses == [401] * LIMIT + [429] * (LIMIT * 2)
