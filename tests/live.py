"""The service as operators run it: the CLI migrates and seeds, gunicorn serves with the production config.

Live servers use their own scratch database: the per-test rollback cannot reach another process.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.databases import configured_url, scratch_database

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DEMO_PASSWORD = "live-demo-password"


def call(url: str, *, body: Any = None, token: str | None = None) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers=headers, method="POST" if data else "GET")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@dataclass(frozen=True)
class LiveServer:
    base: str
    env: dict[str, str]

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
    """Migrate and seed a scratch database with the CLI, then serve it with gunicorn until the block ends."""
    with scratch_database(configured_url(), directory) as database_url:
        port = _free_port()
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "JWT_SECRET": secrets.token_urlsafe(48),
            "DEMO_PASSWORD": DEMO_PASSWORD,
            "PORT": str(port),
            "FLASK_APP": "wsgi",
            **extra_env,
        }
        env.pop("BIND", None)
        server = LiveServer(base=f"http://127.0.0.1:{port}", env=env)
        for args in (["db", "upgrade"], ["seed-demo"]):
            done = server.flask(*args)
            assert done.returncode == 0, done.stdout + done.stderr
        log_path = directory / "gunicorn.log"
        with log_path.open("w") as log:
            process = subprocess.Popen(
                [BIN / "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"], cwd=ROOT, env=env, stdout=log, stderr=log
            )
            try:
                _wait_until_healthy(server, process, log_path)
                yield server
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
