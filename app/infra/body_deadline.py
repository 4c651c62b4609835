"""Request bodies must keep coming, or the connection is closed: no slowloris on the body.

Once a request's headers are in, gunicorn times nothing out: a gevent worker waits for ever for a body sent at one
byte a second, and thousands of such connections cost an attacker nothing. This WSGI middleware reads the body
before the app sees it, in chunks, each with a deadline: the first byte may take `grace_seconds`, after which the
body must keep an average of `min_bytes_per_second` (a phone on a poor 2G link sends 5-10 KB/s; the default asks
2 KB/s). A body that falls behind gets 408 `request_timeout`, and the connection's read side is shut, so gunicorn
closes it instead of waiting to drain the rest.

What it gives up: the body is buffered before the app runs (in memory up to 1 MiB, then a temporary file), so an
upload is parsed only once it has arrived; bodies larger than `max_bytes` are passed through untouched, for the app
to refuse with 413 without reading. It acts only under gunicorn (`gunicorn.socket` in the environ): under gevent a
`gevent.Timeout` interrupts the blocked read; in thread or sync workers a timer shuts the socket's read side.
Requests without a body (every GET, the trace lookups) pay one dictionary lookup.
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterable
from typing import IO, Any

CHUNK = 64 * 1024
IN_MEMORY = 1024 * 1024


class _TooSlow(Exception):
    pass


class BodyDeadline:
    def __init__(
        self, app: Any, *, grace_seconds: float, min_bytes_per_second: int, max_bytes: int, chunk: int = CHUNK
    ) -> None:
        self.app = app
        self.grace = grace_seconds
        self.rate = min_bytes_per_second
        self.max_bytes = max_bytes
        self.chunk = chunk

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        sock = environ.get("gunicorn.socket")
        if sock is None:
            return self.app(environ, start_response)
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        size: int | None = None
        if not chunked:
            try:
                size = int(environ.get("CONTENT_LENGTH") or 0)
            except ValueError:
                return self.app(environ, start_response)
            if size <= 0 or size > self.max_bytes:
                return self.app(environ, start_response)
        try:
            body, received = self._read(environ["wsgi.input"], size, sock)
        except _TooSlow:
            _shut_reading(sock)
            return _problem(environ, start_response, 408, "The request body arrived too slowly; send it again.")
        if received > self.max_bytes:
            body.close()
            return _problem(environ, start_response, 413, "The request body is larger than this service accepts.")
        environ["wsgi.input"] = body
        environ["CONTENT_LENGTH"] = str(received)
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        return self.app(environ, start_response)

    def _read(self, stream: IO[bytes], size: int | None, sock: socket.socket) -> tuple[IO[bytes], int]:
        body = tempfile.SpooledTemporaryFile(max_size=IN_MEMORY)  # noqa: SIM115 (the app reads it; freed with the request)
        started = time.monotonic()
        received = 0
        while True:
            want = self.chunk if size is None else min(self.chunk, size - received)
            if want <= 0:
                break
            # Paid for: the grace, then the time the bytes so far and this chunk take at the minimum rate.
            remaining = started + self.grace + (received + want) / self.rate - time.monotonic()
            if remaining <= 0:
                raise _TooSlow
            data = _read_within(stream, want, remaining, sock)
            if not data:
                break
            body.write(data)
            received += len(data)
            if received > self.max_bytes:
                break
        body.seek(0)
        return body, received


def _read_within(stream: IO[bytes], want: int, seconds: float, sock: socket.socket) -> bytes:
    monkey = sys.modules.get("gevent.monkey")
    if monkey is not None and monkey.is_module_patched("socket"):
        import gevent

        with gevent.Timeout(seconds, _TooSlow):
            return stream.read(want)
    fired = threading.Event()

    def shut() -> None:
        fired.set()
        _shut_reading(sock)

    timer = threading.Timer(seconds, shut)
    timer.daemon = True
    timer.start()
    try:
        data = stream.read(want)
    finally:
        timer.cancel()
    if fired.is_set():
        raise _TooSlow
    return data


def _shut_reading(sock: socket.socket) -> None:
    # The client may be gone already; then there is nothing left to stop.
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RD)


def _problem(environ: dict[str, Any], start_response: Any, status: int, detail: str) -> list[bytes]:
    """The RFC 9457 shape the app's own renderer gives, written here: the app never saw this request."""
    titles = {408: ("Request Timeout", "request_timeout"), 413: ("Content Too Large", "payload_too_large")}
    title, code = titles[status]
    body = json.dumps(
        {
            "type": "about:blank",
            "title": title,
            "status": status,
            "detail": detail,
            "instance": environ.get("PATH_INFO", ""),
            "code": code,
        }
    ).encode()
    start_response(
        f"{status} {title}",
        [
            ("Content-Type", "application/problem+json"),
            ("Content-Length", str(len(body))),
            ("Connection", "close"),
        ],
    )
    return [body]
