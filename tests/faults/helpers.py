"""What the fault tests share: finding and killing gunicorn's workers, and a client that retries as the gateway does."""

from __future__ import annotations

import json
import os
import signal
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.live import LiveServer, call, declaration_body


def worker_pids(master_pid: int) -> list[int]:
    """The gunicorn master's live workers (its children), from /proc."""
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    return [int(pid) for pid in children]


def wait_for_workers(master_pid: int, count: int, *, besides: set[int] = frozenset(), timeout: float = 30) -> list[int]:
    """Wait until `count` workers are up, none of them in `besides` (the killed ones)."""
    deadline = time.monotonic() + timeout
    while True:
        pids = [pid for pid in worker_pids(master_pid) if pid not in besides]
        if len(pids) >= count:
            return pids
        assert time.monotonic() < deadline, f"gunicorn did not bring back {count} workers"
        time.sleep(0.1)


def kill_9(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)


@dataclass
class Attempts:
    """How a retrying client fared: every status or error it met on the way to its answer."""

    failures: list[str] = field(default_factory=list)

    def failed(self, what: str) -> None:
        self.failures.append(what)


def post_until_answered(
    base: str,
    path: str,
    body: Any,
    *,
    token: str,
    attempts: Attempts,
    headers: dict[str, str] | None = None,
    deadline: float = 45.0,
) -> httpx.Response:
    """POST until the service gives a non-5xx answer, as the receipt gateway and the apps do: a connection cut, a
    reset or a 5xx means "try the same request again". Bounded in time."""
    give_up = time.monotonic() + deadline
    pause = 0.05
    with httpx.Client(timeout=httpx.Timeout(15, connect=5)) as client:
        while True:
            try:
                response = client.post(
                    f"{base}{path}", json=body, headers={"Authorization": f"Bearer {token}", **(headers or {})}
                )
                if response.status_code < 500:
                    return response
                attempts.failed(str(response.status_code))
            except httpx.TransportError as error:
                attempts.failed(type(error).__name__)
            assert time.monotonic() < give_up, f"no answer to {path} within {deadline} s: {attempts.failures[-5:]}"
            time.sleep(pause)
            pause = min(pause * 2, 1.0)


def submit_declarations(server: LiveServer, token: str, count: int) -> list[dict[str, Any]]:
    """`count` new declarations by the demo declarant, each with a cop_no of this run."""
    run = uuid.uuid4().hex[:6].upper()
    declarations = []
    for index in range(count):
        status, body = call(
            f"{server.base}/api/v1/declarations", body=declaration_body(f"F{run}{index:04d}"), token=token
        )
        assert status == 201, body
        declarations.append(body)
    return declarations


def beijing(moment: float) -> str:
    """A CEB receipt time (yyyyMMddHHmmssfff, Beijing) for a Unix time."""
    seconds = time.gmtime(moment + 8 * 3600)
    return time.strftime("%Y%m%d%H%M%S", seconds) + f"{int(moment * 1000) % 1000:03d}"


@contextmanager
def half_sent_post(base: str, path: str, body: Any, *, token: str) -> Iterator[None]:
    """A POST whose body is half sent when the block runs (a gateway on a slow link): the worker that took it is
    reading it, so a kill in the block cuts a request in flight for certain. Afterwards the connection must have
    ended without any answer."""
    raw = json.dumps(body).encode()
    host, port = base.removeprefix("http://").split(":")
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(raw)}\r\nConnection: close\r\n\r\n"
    ).encode()
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(head + raw[: len(raw) // 2])
        time.sleep(0.3)  # accepted and parsed up to the body
        yield
        try:
            answer = connection.recv(1024)
        except ConnectionResetError:
            answer = b""
    assert answer == b"", f"the half-sent request was answered: {answer[:200]!r}"
