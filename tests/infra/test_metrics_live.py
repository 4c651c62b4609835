"""/metrics on a live gunicorn of two workers: any worker's scrape adds up both; logs are JSON with the request id."""

from __future__ import annotations

import json
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from app.db import make_engine
from tests.infra.scrape import TOKEN, families, value
from tests.live import live_server

REQUESTS = 40


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, dict(response.headers), response.read()


def test_two_workers_counts_add_up_in_every_scrape_and_logs_carry_the_request_id(tmp_path):
    with live_server(tmp_path, WEB_CONCURRENCY="2", METRICS_TOKEN=TOKEN) as server:
        scrape = f"{server.base}/metrics", {"Authorization": f"Bearer {TOKEN}"}
        one_pool = make_engine(server.env["DATABASE_URL"]).pool.size()
        # The server answers once its first worker is up; on a busy machine the second may still be loading.
        deadline = time.monotonic() + 30
        while value(before := families(get(*scrape)[2].decode()), "smartpark_db_pool_size") < 2 * one_pool:
            assert time.monotonic() < deadline, "the second worker never came up"
            time.sleep(0.2)
        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(lambda _: get(f"{server.base}/healthz")[0], range(REQUESTS)))
        _, headers, _ = get(f"{server.base}/healthz", {"X-Request-Id": "live-probe-1"})
        # Several scrapes, each served by whichever worker accepts it: all must see both workers' requests.
        scrapes = [families(get(*scrape)[2].decode()) for _ in range(6)]
    log = (tmp_path / "gunicorn.log").read_text()

    assert answers == [200] * REQUESTS
    assert headers["X-Request-Id"] == "live-probe-1"
    healthz = {"route": "/healthz", "status": "200"}
    started = value(before, "smartpark_http_request_duration_seconds_count", **healthz)
    for found in scrapes:
        assert value(found, "smartpark_http_request_duration_seconds_count", **healthz) == started + REQUESTS + 1
    # Each worker's pool is counted once: two workers, twice one pool's size.
    assert {value(found, "smartpark_db_pool_size") for found in scrapes} == {2 * one_pool}
    # Sampled by each worker every second; nothing is checked out between requests.
    assert all("smartpark_db_pool_checked_out" in found for found in scrapes)
    access = [json.loads(line) for line in log.splitlines() if line.startswith("{") and "live-probe-1" in line]
    assert access and access[0]["logger"] == "gunicorn.access"
    assert "request_id=live-probe-1" in access[0]["message"]
