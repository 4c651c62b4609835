"""PostgreSQL cuts the service's database connections (pg_terminate_backend, as a failover or a restart does) while
requests run: the ones in flight may fail (500 or 503), nothing is half written, and the next requests succeed."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import create_engine, make_url, text

from tests.faults.helpers import Attempts, post_until_answered
from tests.live import call, declaration_body, live_server

CLIENTS = 4
RUN_SECONDS = 4.0


def cut_connections(admin, database: str) -> int:
    """Terminate the service's connections and wait until their backends are gone (`admin` is AUTOCOMMIT, so each
    look at pg_stat_activity is fresh); returns how many."""
    with admin.connect() as connection:
        # Two statements: in one WHERE, PostgreSQL may call pg_terminate_backend before the other conditions.
        pids = connection.scalars(
            text("SELECT pid FROM pg_stat_activity WHERE datname = :database AND pid <> pg_backend_pid()"),
            {"database": database},
        ).all()
        for pid in pids:
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and connection.scalar(
            text("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(:pids)"), {"pids": list(pids)}
        ):
            time.sleep(0.02)
    return len(pids)


@pytest.mark.postgres_only
def test_cut_connections_fail_only_the_requests_in_flight_and_write_nothing_by_half(tmp_path):
    with live_server(tmp_path, WEB_CONCURRENCY="2", LOGIN_RATE_LIMIT="1000 per minute") as server:
        declarant = server.login("declarant")[1]["access_token"]
        database = make_url(server.env["DATABASE_URL"]).database
        admin = create_engine(server.env["DATABASE_URL"], isolation_level="AUTOCOMMIT")
        run = uuid.uuid4().hex[:6].upper()
        attempts = Attempts()
        answered: list[tuple[str, int, str | None]] = []
        reads = Counter[int]()
        stop = threading.Event()

        def client(number: int) -> None:
            serial = 0
            while not stop.is_set() and serial < 40:
                cop_no = f"C{run}{number}{serial:03d}"
                serial += 1
                response = post_until_answered(
                    server.base,
                    "/api/v1/declarations",
                    declaration_body(cop_no),
                    token=declarant,
                    attempts=attempts,
                    headers={"Idempotency-Key": str(uuid.uuid4())},
                )
                answered.append((cop_no, response.status_code, response.json().get("code")))
                reads[call(f"{server.base}/api/v1/declarations?limit=5", token=declarant)[0]] += 1

        cuts = []
        with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
            futures = [pool.submit(client, number) for number in range(CLIENTS)]
            started = time.monotonic()
            try:
                while time.monotonic() - started < RUN_SECONDS:
                    time.sleep(0.7)
                    cuts.append(cut_connections(admin, database))
            finally:
                stop.set()
            for future in futures:
                future.result(timeout=60)

        # A cut while the service is idle: the connections its pools hold are dead, and the next requests succeed.
        cuts.append(cut_connections(admin, database))
        after = [call(f"{server.base}/api/v1/me", token=declarant)[0] for _ in range(6)]
        after += [
            call(f"{server.base}/api/v1/declarations", body=declaration_body(f"A{run}{i:03d}"), token=declarant)[0]
            for i in range(4)
        ]
        with admin.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT d.cop_no, count(DISTINCT l.id), count(DISTINCT e.id) FROM declarations d "
                    "LEFT JOIN declaration_lines l ON l.declaration_id = d.id "
                    "LEFT JOIN declaration_events e ON e.declaration_id = d.id "
                    "WHERE d.cop_no LIKE :run GROUP BY d.cop_no"
                ),
                {"run": f"C{run}%"},
            ).all()
        admin.dispose()

    assert sum(cuts) > 0, "no connection was cut"
    assert attempts.failures, "no request was in flight at a cut: the test proved nothing"
    assert set(attempts.failures) <= {"500", "503"}, attempts.failures
    assert set(reads) <= {200, 500, 503}, reads
    # Every declaration the client was told about exists once, whole: one line, and its timeline started.
    # A cut between the write's commit and the commit of its stored answer loses the answer, and the retry meets the
    # declaration itself (409 cop_no_taken) until the two commit together (issue 17 item 8); the write is not lost.
    assert {(status, code) for _, status, code in answered} <= {(201, None), (409, "cop_no_taken")}, answered
    stored = {cop_no: (lines, events) for cop_no, lines, events in rows}
    assert set(stored) == {cop_no for cop_no, _, _ in answered}
    assert {lines for lines, _ in stored.values()} == {1}
    assert all(events >= 1 for _, events in stored.values())
    assert after == [200] * 6 + [201] * 4, after
