"""Redis gone mid-run, with the service configured to use it for notice fan-out and rate limits (a private
redis-server of the test's own on a free port, never the machine's shared one).

While it is away the service keeps answering: rate limits fall back to counters in each process (they still refuse,
per process, rather than failing open or refusing everyone), and notices reach open streams by polling the
database. When it is back both use it again.
"""

from __future__ import annotations

import socket
import time
import uuid

import pytest
import redis
from sqlalchemy import create_engine, text
from werkzeug.exceptions import TooManyRequests

from app.infra.ratelimit import RateLimiter
from tests.databases import configured_url, is_postgres
from tests.faults.helpers import submit_declarations
from tests.live import EventStream, call, live_server, own_redis, send_receipt
from tests.notices.test_live_delivery import wait_until

WORKERS = 2 if is_postgres(configured_url()) else 1
LIMIT = 6


def test_the_service_keeps_answering_and_delivering_without_redis_and_uses_it_again_when_it_is_back(tmp_path):
    prefix = f"fault-{uuid.uuid4().hex[:8]}"
    with own_redis(tmp_path) as first_redis:
        port = int(first_redis.url.rsplit(":", 1)[1].split("/")[0])
        url = first_redis.url
        with live_server(
            tmp_path,
            WEB_CONCURRENCY=str(WORKERS),
            REDIS_URL=url,
            RATE_LIMIT_STORAGE_URI=url,
            RATE_LIMIT_KEY_PREFIX=prefix,
            LOGIN_RATE_LIMIT=f"{LIMIT} per minute",
            STREAM_HEARTBEAT_SECONDS="1",
            STREAM_POLL_SECONDS="0.2",
        ) as server:
            declarant = server.login("declarant")[1]["access_token"]
            gateway = server.login("gateway")[1]["access_token"]
            declarations = submit_declarations(server, declarant, 3)
            start = call(f"{server.base}/api/v1/notices?after_seq=0&limit=200", token=declarant)[1]["next_after_seq"]
            stream = EventStream(server.base, declarant, last_event_id=start)
            try:
                assert send_receipt(server, gateway, declarations[0]["guid"], 120) == "applied"
                before = stream.next(timeout=10)

                first_redis.kill()
                first_redis.wait(timeout=10)

                # Sign-ins still answer, and the login budget still holds, counted in each worker meanwhile.
                assert server.login("declarant")[0] == 200
                outage = [_unknown_login(server) for _ in range(LIMIT * WORKERS + 1)]
                assert call(f"{server.base}/readyz")[0] == 200
                # A decision while Redis is away reaches the open stream by the database poll.
                assert send_receipt(server, gateway, declarations[1]["guid"], 120) == "applied"
                during = stream.next(timeout=10)

                with own_redis(tmp_path, port=port):
                    client = redis.Redis.from_url(url)
                    # The stream's worker subscribes again by itself.
                    wait_until(
                        lambda: client.pubsub_numsub("smart-park:notices")[0][1] >= 1,
                        timeout=20,
                        what="the notice hub to listen on Redis again",
                    )
                    assert send_receipt(server, gateway, declarations[2]["guid"], 120) == "applied"
                    after = stream.next(timeout=10)
                    # The login budget is counted in Redis again: this fresh server counts from zero to the limit.
                    recovered = _statuses_until_refused(server, client, prefix)
                    client.close()
            finally:
                stream.close()
            everything = call(f"{server.base}/api/v1/notices?after_seq={start}&limit=200", token=declarant)[1]
            engine = create_engine(server.env["DATABASE_URL"])
            with engine.connect() as connection:
                pending = connection.scalar(text("SELECT count(*) FROM notice_deliveries WHERE state = 'pending'"))
            engine.dispose()
            log = (tmp_path / "gunicorn.log").read_text()

    assert set(outage) <= {401, 429} and 429 in outage, outage
    assert set(recovered) <= {401, 429}, recovered
    assert "Traceback" not in log, log[-3000:]
    ids = [d["id"] for d in declarations]
    assert [(e.data["kind"], e.data["declaration_id"]) for e in (before, during, after)] == [
        ("declaration.accepted", i) for i in ids
    ]
    assert [item["seq"] for item in everything["items"]] == [before.seq, during.seq, after.seq]
    assert pending == 0  # no device registered: nothing waits in the outbox either


def _unknown_login(server) -> int:
    return call(f"{server.base}/api/v1/auth/login", body={"username": "nobody", "password": "wrong-password"})[0]


def _statuses_until_refused(server, client: redis.Redis, prefix: str) -> list[int]:
    """Unknown sign-ins (bounded) until one is refused by the budget counted in Redis."""
    statuses: list[int] = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        statuses.append(_unknown_login(server))
        counted = max((int(client.get(key) or 0) for key in client.scan_iter(match=f"*{prefix}*login*")), default=0)
        if statuses[-1] == 429 and counted > LIMIT:
            return statuses
        time.sleep(0.1)
    raise AssertionError(f"no sign-in was refused by the budget in Redis: {statuses}")


def test_without_its_redis_the_limiter_counts_in_the_process_and_still_refuses():
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    limiter = RateLimiter(f"redis://127.0.0.1:{closed}/0", key_prefix=f"fault-{uuid.uuid4().hex[:8]}")

    for _ in range(3):
        limiter.spend("3 per minute", "login", "198.51.100.7")
    with pytest.raises(TooManyRequests) as refused:
        limiter.spend("3 per minute", "login", "198.51.100.7")

    assert refused.value.retry_after >= 1
