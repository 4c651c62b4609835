"""A large product import on the production server leaves the worker serving everyone (issue 17, item 4)."""

from __future__ import annotations

import csv
import io
import json
import threading
import time
import urllib.error
import urllib.request
import uuid

from stdnum import ean

from tests.live import Probe, call, declaration_body, live_server, worker_deaths

HEADER = ["gtin", "name_zh", "name_en", "brand", "specification", "origin_country", "hs_code", "unit"]
ROWS = 50_000  # about 4.4 MB


def gtin(n: int) -> str:
    body = f"691{n:09d}"
    return body + ean.calc_check_digit(body)


def product_csv(count: int) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    for n in range(count):
        writer.writerow([gtin(n), f"测试商品 {n}", f"Import product {n}", "Bench", "1 kg", "DE", "1901101000", "035"])
    return out.getvalue().encode()


def post_csv(base: str, token: str, data: bytes) -> tuple[int, dict]:
    boundary = uuid.uuid4().hex
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="goods.csv"\r\n'
        f"Content-Type: text/csv\r\n\r\n".encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    request = urllib.request.Request(
        f"{base}/api/v1/products/import",
        data=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=300) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_a_large_import_leaves_the_worker_answering_others_and_imports_every_row(tmp_path):
    data = product_csv(ROWS)
    assert len(data) > 4_000_000
    with live_server(tmp_path) as server:
        operator = server.login("warehouse")[1]["access_token"]
        declarant = server.login("declarant")[1]["access_token"]
        answer: dict = {}
        importing = threading.Thread(target=lambda: answer.update(result=post_csv(server.base, operator, data)))

        with Probe(server.base) as probe:
            importing.start()
            time.sleep(1.0)  # the upload is in and being imported
            writes = []
            while importing.is_alive() and len(writes) < 20:
                started = time.monotonic()
                status, _ = call(
                    f"{server.base}/api/v1/declarations",
                    body=declaration_body(f"I{uuid.uuid4().hex[:12]}"),
                    token=declarant,
                )
                writes.append((status, time.monotonic() - started))
                time.sleep(0.2)
            importing.join(timeout=300)
            elapsed_writes = len(writes)

        status, report = answer["result"]
        assert status == 200, report
        assert (report["created"], report["rejected"]) == (ROWS, 0)
        assert elapsed_writes >= 3, "the import ended before the others could be measured"
        assert all(status == 201 for status, _ in writes)
        assert max(seconds for _, seconds in writes) < 1.0
        assert probe.failures == 0
        assert probe.slowest < 1.0
        last = call(f"{server.base}/api/v1/products?gtin={gtin(ROWS - 1)}", token=operator)[1]
        assert len(last["items"]) == 1
        assert worker_deaths(tmp_path / "gunicorn.log") == []
