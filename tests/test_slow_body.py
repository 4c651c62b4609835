"""A request body that trickles in is cut off (408, connection closed) while the service keeps answering others."""

import socket
import time
from urllib.parse import urlsplit

import pytest

from tests.live import call, live_server

GRACE = 2.0


# gevent (the default) interrupts the read with a gevent.Timeout; thread workers shut the socket's read side.
@pytest.mark.parametrize("worker_class", ["gevent", "gthread"])
def test_a_body_sent_at_one_byte_a_second_is_cut_off_while_others_are_served(tmp_path, worker_class):
    settings = {"BODY_GRACE_SECONDS": str(GRACE), "BODY_MIN_BYTES_PER_SECOND": "1024"}
    with live_server(tmp_path, GUNICORN_WORKER_CLASS=worker_class, **settings) as server:
        address = urlsplit(server.base)
        slow = socket.create_connection((address.hostname, address.port), timeout=5)
        slow.sendall(
            b"POST /api/v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: 200\r\n\r\n"
        )
        started = time.monotonic()
        answer, others = b"", []
        slow.settimeout(1.0)
        for _ in range(20):  # at most 20 bytes over 20 s, then the test gives up
            try:
                slow.sendall(b" ")
                answer = slow.recv(4096)
                break  # an answer, or b"" when the server closed the connection
            except TimeoutError:
                others.append(call(f"{server.base}/healthz")[0])
            except OSError:  # reset or broken pipe: closed as well
                break
        cut_after = time.monotonic() - started
        closed_after = None
        slow.settimeout(5.0)
        try:
            while chunk := slow.recv(4096):  # the rest of the answer, then the server's close
                answer += chunk
            closed_after = time.monotonic() - started
        except OSError:  # reset: closed as well
            closed_after = time.monotonic() - started
        slow.close()

        assert cut_after < GRACE + 3
        assert answer.startswith(b"HTTP/1.1 408")
        assert b'"code": "request_timeout"' in answer
        assert closed_after is not None and closed_after < GRACE + 8
        assert others and set(others) == {200}
        assert server.login()[0] == 200  # a body sent at once still goes through the same path
