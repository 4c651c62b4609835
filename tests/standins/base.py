"""What every stand-in shares: per-token scripts, a record of what arrived, and a threaded HTTP/1.1 server.

A token's behaviour comes from an explicit script if the test set one, else from its prefix, so a
live end-to-end run can script a provider through device tokens alone:

    dead-…   the provider's dead-token answer        busy-…   429 with a retry hint
    down-…   503                                     flaky-…  503 the first time, then accepted
    slow-…   accepted, but answered only after `slow_seconds` (recorded on arrival, so a test can
             kill the sender while it waits)
"""

from __future__ import annotations

import contextlib
import enum
import json
import secrets
import shutil
import socket
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar, Self

STATS_PATH = "/_standin/stats"


class Behaviour(enum.StrEnum):
    OK = "ok"
    DEAD = "dead"
    BUSY = "busy"
    DOWN = "down"
    FLAKY = "flaky"


PREFIXES = {f"{behaviour.value}-": behaviour for behaviour in Behaviour if behaviour is not Behaviour.OK}
SLOW_PREFIX = "slow-"


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: Mapping[str, str]  # lower-cased names
    raw: bytes
    listener: str = ""  # which of a stand-in's ports took it (APNs: production or sandbox)

    def json(self) -> Any:
        return json.loads(self.raw)


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to hold the answer back

    def encoded(self) -> bytes:
        return b"" if self.body is None else json.dumps(self.body).encode()


@dataclass(frozen=True)
class Received:
    """One request as the stand-in saw it, with the answer it gave."""

    request: Request
    token: str | None
    status: int
    body: Any

    @property
    def headers(self) -> Mapping[str, str]:
        return self.request.headers


class Script:
    """Per-token behaviour: explicit scripts are consumed in order and the last one sticks."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._scripted: dict[str, list[Behaviour]] = {}
        self._seen: Counter[str] = Counter()

    def set(self, token: str, *behaviours: Behaviour) -> None:
        with self._lock:
            self._scripted[token] = list(behaviours)

    def next(self, token: str) -> Behaviour:
        with self._lock:
            self._seen[token] += 1
            queue = self._scripted.get(token)
            if queue:
                return queue.pop(0) if len(queue) > 1 else queue[0]
            behaviour = next((b for prefix, b in PREFIXES.items() if token.startswith(prefix)), Behaviour.OK)
            if behaviour is Behaviour.FLAKY:
                return Behaviour.DOWN if self._seen[token] == 1 else Behaviour.OK
            return behaviour

    def reset(self) -> None:
        with self._lock:
            self._scripted.clear()
            self._seen.clear()


class AccessTokens:
    """The OAuth access tokens a stand-in's token endpoint handed out, each until it expires."""

    def __init__(self, ttl: int) -> None:
        self.ttl = self._default_ttl = ttl
        self._expiry: dict[str, float] = {}
        self._lock = threading.Lock()

    def issue(self, prefix: str) -> Reply:
        """A new token, answered in the shape both Google's and Huawei's endpoints use."""
        token = prefix + secrets.token_urlsafe(24)
        with self._lock:
            self._expiry[token] = time.monotonic() + self.ttl
        return Reply(200, {"access_token": token, "expires_in": self.ttl, "token_type": "Bearer"})

    def valid(self, token: str | None) -> bool:
        with self._lock:
            expires_at = self._expiry.get(token or "")
        return expires_at is not None and time.monotonic() < expires_at

    def revoke_all(self) -> None:
        """Forget every token, so the next send is refused (as after a key rotation)."""
        with self._lock:
            self._expiry.clear()

    def reset(self) -> None:
        self.ttl = self._default_ttl


class StandIn:
    """Recording and scripting; subclasses add the provider's checks and answers."""

    name: ClassVar[str]

    def __init__(self, *, retry_after: int = 30) -> None:
        # How long a busy provider asks us to wait (Retry-After, or JPush's rate-limit reset).
        self.retry_after = retry_after
        # How long slow-… tokens wait for their answer.
        self.slow_seconds = 0.0
        self._script = Script()
        self._lock = threading.Condition()
        self._received: list[Received] = []

    # Scripting and inspection, for tests and the benchmark.

    def script(self, token: str, *behaviours: Behaviour) -> None:
        """Answer `token` with these behaviours in turn; the last one repeats."""
        self._script.set(token, *behaviours)

    def behaviour(self, token: str) -> Behaviour:
        return self._script.next(token)

    @property
    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    def received_for(self, token: str) -> list[Received]:
        return [entry for entry in self.received if entry.token == token]

    def wait_for(self, count: int, *, timeout: float = 5.0) -> list[Received]:
        """Block until at least `count` requests arrived (or the timeout passed); returns what arrived."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self._received) < count and (left := deadline - time.monotonic()) > 0:
                self._lock.wait(left)
            return list(self._received)

    def reset(self) -> None:
        """Forget requests and scripts (between tests); credentials and ports stay."""
        self._script.reset()
        self.slow_seconds = 0.0
        with self._lock:
            self._received.clear()

    def stats(self) -> dict[str, Any]:
        received = self.received
        return {"received": len(received), "by_status": dict(Counter(str(entry.status) for entry in received))}

    def _record(self, request: Request, token: str | None, reply: Reply) -> Reply:
        with self._lock:
            self._received.append(Received(request, token, reply.status, reply.body))
            self._lock.notify_all()
        if token and token.startswith(SLOW_PREFIX) and self.slow_seconds > 0:
            return replace(reply, delay=self.slow_seconds)
        return reply

    # Lifecycle, provided by the transport subclasses.

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def env(self) -> dict[str, str]:
        """The settings that point PushSettings.from_env at this stand-in."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the adapters' pools expect
    disable_nagle_algorithm = True  # headers and body go out in two writes; don't let them wait for an ACK
    timeout = 60
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection)

    def finish(self) -> None:
        self.server.untrack(self.connection)
        super().finish()

    def do_GET(self) -> None:
        self._answer("GET")

    def do_POST(self) -> None:
        self._answer("POST")

    def _answer(self, method: str) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        request = Request(method, self.path, {k.lower(): v for k, v in self.headers.items()}, raw)
        if method == "GET" and self.path == STATS_PATH:
            reply = Reply(200, self.server.standin.stats())
        else:
            reply = self.server.standin.handle(request)
        if reply.delay:
            time.sleep(reply.delay)
        body = reply.encoded()
        self.send_response(reply.status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # a benchmark's worth of access lines would drown the test output


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def __init__(self, standin: HttpStandIn) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.standin = standin
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def track(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.add(connection)

    def untrack(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(connection)

    def close_connections(self) -> None:
        """Kept-alive connections would otherwise hold their threads until the client hangs up."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class HttpStandIn(StandIn):
    """A stand-in served over plain HTTP/1.1 on an ephemeral loopback port."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError(f"The {self.name} stand-in is not running.")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> Self:
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name=f"standin-{self.name}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.close_connections()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None

    def handle(self, request: Request) -> Reply:
        raise NotImplementedError


def bearer(headers: Mapping[str, str]) -> str | None:
    value = headers.get("authorization", "")
    scheme, _, credential = value.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return credential.strip() or None


def parse_json_object(raw: bytes) -> dict[str, Any] | None:
    try:
        body = json.loads(raw)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


class Workdir:
    """Where a stand-in writes the key files its clients read: the caller's folder, or a temporary one it removes."""

    def __init__(self, directory: Path | None) -> None:
        self._given = directory
        self._made: Path | None = None

    def open(self, name: str) -> Path:
        if self._given is not None:
            path = self._given / name
            path.mkdir(parents=True, exist_ok=True)
            return path
        self._made = Path(tempfile.mkdtemp(prefix=f"standin-{name}-"))
        return self._made

    def close(self) -> None:
        if self._made is not None:
            shutil.rmtree(self._made, ignore_errors=True)
            self._made = None
