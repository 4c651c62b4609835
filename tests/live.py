"""The service as operators run it: the CLI migrates and seeds, gunicorn serves with the production config.

Live servers use their own scratch database: the per-test rollback cannot reach another process.
"""

from __future__ import annotations

import json
import os
import queue
import secrets
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from tests.demo_template import demo_database

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DEMO_PASSWORD = "live-demo-password"


def call(url: str, *, body: Any = None, token: str | None = None, method: str | None = None) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers=headers, method=method or ("POST" if data else "GET"))
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@dataclass(frozen=True)
class LiveServer:
    base: str
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None  # gunicorn's master, once it runs
    seeded: str = ""  # what `flask seed-demo` printed for this server's database (its trace URL included)

    def flask(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [BIN / "flask", *args], cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=60
        )

    def login(self, username: str = "declarant") -> tuple[int, Any]:
        return call(f"{self.base}/api/v1/auth/login", body={"username": username, "password": DEMO_PASSWORD})


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def live_server(directory: Path, **extra_env: str) -> Iterator[LiveServer]:
    """Serve a copy of the demo database the CLI migrated and seeded (tests/demo_template.py) with gunicorn until the
    block ends."""
    port = _free_port()
    env = {
        **os.environ,
        "JWT_SECRET": secrets.token_urlsafe(48),
        "DEMO_PASSWORD": DEMO_PASSWORD,
        "FLASK_APP": "wsgi",
        **extra_env,
    }
    env.pop("BIND", None)
    base = f"http://127.0.0.1:{port}"
    with demo_database(directory, env=env, extra_env=extra_env, base=base) as (database_url, seeded):
        env = {**env, "DATABASE_URL": database_url, "PORT": str(port)}
        server = LiveServer(base=base, env=env, seeded=seeded)
        log_path = directory / "gunicorn.log"
        with log_path.open("w") as log:
            process = subprocess.Popen(
                [BIN / "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"], cwd=ROOT, env=env, stdout=log, stderr=log
            )
            try:
                _wait_until_healthy(server, process, log_path)
                yield replace(server, process=process)
            finally:
                process.terminate()
                process.wait(timeout=20)


def _wait_until_healthy(server: LiveServer, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            if call(f"{server.base}/healthz")[0] == 200:
                return
        except OSError:
            pass
        assert process.poll() is None, log_path.read_text()
        assert time.monotonic() < deadline, "gunicorn did not answer within 30 s:\n" + log_path.read_text()
        time.sleep(0.2)


# The clearance flow as the apps drive it, for live tests and benchmarks (the demo's warehouse and platform).
DEMO_WAREHOUSE_CODE = "5002640003"


def submit_declaration(server: LiveServer, token: str, cop_no: str) -> dict[str, Any]:
    status, body = call(f"{server.base}/api/v1/declarations", body=declaration_body(cop_no), token=token)
    assert status == 201, body
    return body


def declaration_body(cop_no: str, *, area_code: str = DEMO_WAREHOUSE_CODE, quantity: int = 1) -> dict[str, Any]:
    """A valid 1210 inventory list with one line of `quantity` vitamin gummies at ¥89."""
    return {
        "cop_no": cop_no,
        "order_no": f"ORDER-{cop_no}",
        "logistics_no": f"YT{cop_no}",
        "ebp_code": "500224A005",
        "ebp_name": "渝购全球",
        "ebc_code": "500224A004",
        "ebc_name": "海外优选",
        "area_code": area_code,
        "customs_code": "8012",
        "port_code": "8012",
        "buyer_id_number": "11010119900307451X",
        "buyer_name": "王小明",
        "buyer_telephone": "13800138000",
        "consignee_address": "重庆市渝北区金开大道1号",
        "gross_weight": "1.5",
        "net_weight": "1.2",
        "lines": [
            {
                "gnum": 1,
                "item_no": "SKU-1",
                "item_name": "维生素软糖",
                "hs_code": "2106909090",
                "gtin": "4006381333931",
                "country": "502",
                "qty": str(quantity),
                "unit": "142",
                "price": "89.00",
                "total_price": f"{89 * quantity}.00",
            }
        ],
    }


def send_receipt(server: LiveServer, gateway_token: str, guid: str, status_code: int) -> str:
    """Customs' decision on a declaration, as the receipt gateway delivers it; returns the outcome."""
    status, body = call(
        f"{server.base}/api/v1/customs/receipts",
        body={"receipts": [{"guid": guid, "status_code": status_code, "return_time": _now_beijing()}]},
        token=gateway_token,
    )
    assert status == 200, body
    return body["results"][0]["outcome"]


def _now_beijing() -> str:
    return (datetime.now(UTC) + timedelta(hours=8)).strftime("%Y%m%d%H%M%S%f")[:17]


@contextmanager
def own_redis(directory: Path, *, port: int | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """A Redis server of the test's own on a free loopback port (or `port`, to bring one back), so the test may stop
    it."""
    port = port or _free_port()
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=directory,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    process.url = f"redis://127.0.0.1:{port}/0"  # type: ignore[attr-defined]
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)
        yield process
    finally:
        process.kill()
        process.wait(timeout=10)


# What gunicorn's log says when the arbiter kills a worker that stopped answering its heartbeat.
WORKER_DEATHS = ("WORKER TIMEOUT", "SIGKILL", "Worker exiting", "was sent")


def worker_deaths(log: Path) -> list[str]:
    return [line for line in log.read_text().splitlines() if any(mark in line for mark in WORKER_DEATHS)]


class Probe:
    """Asks /healthz every 50 ms in a thread of its own and keeps the slowest answer."""

    def __init__(self, base: str) -> None:
        self.base, self.slowest, self.failures = base, 0.0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                status = call(f"{self.base}/healthz")[0]
            except OSError:
                status = 0
            self.slowest = max(self.slowest, time.monotonic() - started)
            self.failures += status != 200
            self._stop.wait(0.05)

    def __enter__(self) -> Probe:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=15)


@dataclass(frozen=True)
class Event:
    seq: int
    data: dict
    received_at: float


class EventStream:
    """An app's open notice stream (directly or through a proxy's `client`), read on a thread of its own;
    notes when each event arrives."""

    def __init__(
        self,
        base: str,
        token: str,
        *,
        last_event_id: int | None = None,
        client: httpx.Client | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        headers = {**(headers or {}), "Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = str(last_event_id)
        self.events: queue.Queue[Event] = queue.Queue()
        self.opened = threading.Event()
        self.ended = threading.Event()
        self._client = client or httpx.Client(timeout=httpx.Timeout(10, read=30))
        self._response = self._client.send(
            self._client.build_request("GET", f"{base}/api/v1/notices/stream", headers=headers), stream=True
        )
        assert self._response.status_code == 200, self._response.read()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        assert self.opened.wait(5), "the stream never said it was connected"

    def _read(self) -> None:
        fields: dict[str, str] = {}
        try:
            for line in self._response.iter_lines():
                if line.startswith(": connected"):
                    self.opened.set()
                elif line == "":
                    if fields.get("event") == "notice":
                        self.events.put(Event(int(fields["id"]), json.loads(fields["data"]), time.monotonic()))
                    fields = {}
                elif not line.startswith(":"):
                    name, _, value = line.partition(": ")
                    fields[name] = value
        except (httpx.HTTPError, RuntimeError):
            pass  # closed by the test
        finally:
            self.ended.set()

    def next(self, timeout: float = 5.0) -> Event:
        return self.events.get(timeout=timeout)

    def nothing_more(self, wait: float = 0.5) -> bool:
        try:
            self.events.get(timeout=wait)
        except queue.Empty:
            return True
        return False

    def close(self) -> None:
        self._response.close()
        self._client.close()
