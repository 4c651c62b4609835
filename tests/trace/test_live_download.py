"""A label printer's CSV download, against the real server: nothing of the download outlives its response."""

from __future__ import annotations

import re
import time
import urllib.request

import pytest
from sqlalchemy import create_engine, text

from tests.databases import is_postgres
from tests.live import LiveServer, call, live_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    with live_server(tmp_path_factory.mktemp("download"), LOGIN_RATE_LIMIT="1000 per minute") as running:
        yield running


def _demo_batch_id(server: LiveServer, token: str) -> int:
    serial = re.search(r"/21/([0-9A-Z]+)", server.seeded).group(1)
    status, code = call(f"{server.base}/api/v1/trace-codes/{serial}", token=token)
    assert status == 200, code
    return code["batch_id"]


def _download(server: LiveServer, token: str, batch_id: int) -> str:
    request = urllib.request.Request(
        f"{server.base}/api/v1/trace-code-batches/{batch_id}/codes.csv", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
        return response.read().decode()


def test_after_twenty_downloads_writes_go_through_at_once_and_no_transaction_is_left_open(server):
    status, tokens = server.login("warehouse")
    assert status == 200, tokens
    batch_id = _demo_batch_id(server, tokens["access_token"])

    for _ in range(20):
        assert _download(server, tokens["access_token"], batch_id).startswith("serial,gtin,lot,url")

    started = time.monotonic()
    status, body = server.login("declarant")  # a write: it records the new session
    assert status == 200, body
    assert time.monotonic() - started < 2
    if is_postgres(server.env["DATABASE_URL"]):
        engine = create_engine(server.env["DATABASE_URL"])
        try:
            with engine.connect() as connection:
                idle = connection.scalar(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                        "AND state LIKE 'idle in transaction%'"
                    )
                )
        finally:
            engine.dispose()
        assert idle == 0
