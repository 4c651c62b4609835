"""Scale-out: several gunicorn workers share one login limit through Redis, and environments keep theirs apart."""

import uuid

import pytest
from werkzeug.exceptions import TooManyRequests

from app.infra.ratelimit import RateLimiter
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


def test_environments_sharing_one_redis_keep_their_own_counts():
    run = uuid.uuid4().hex
    staging = RateLimiter(REDIS_URL, key_prefix=f"staging-{run}")
    production = RateLimiter(REDIS_URL, key_prefix=f"production-{run}")
    staging.spend("1 per minute", "trace", "198.51.100.7")

    production.spend("1 per minute", "trace", "198.51.100.7")

    with pytest.raises(TooManyRequests) as refused:
        staging.spend("1 per minute", "trace", "198.51.100.7")
    assert refused.value.retry_after >= 1
