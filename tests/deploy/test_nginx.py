"""deploy/nginx.conf as operators install it, run by Debian's nginx in front of a live gunicorn, all on loopback.

The site file is used as it is; only its ports, upstream port and certificate paths are substituted. Clients reach
nginx from different loopback addresses (127.0.0.2, 127.0.0.3, ...), as phones reach it from theirs.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.live import ROOT, EventStream, LiveServer, _free_port, call, live_server, send_receipt, submit_declaration

SITE = ROOT / "deploy" / "nginx.conf"
API_HOST, TRACE_HOST = "api.smartpark.example.cn", "t.smartpark.example.cn"
LOGIN_LIMIT = 3


@dataclass(frozen=True)
class Proxy:
    """nginx on loopback: `https` and `http` are its two ports; `cafile` trusts its certificate."""

    https: int
    http: int
    cafile: Path
    app: LiveServer

    def client(self, source: str = "127.0.0.2", **options) -> httpx.Client:
        context = ssl.create_default_context(cafile=str(self.cafile))
        transport = httpx.HTTPTransport(verify=context, local_address=source)
        return httpx.Client(transport=transport, timeout=httpx.Timeout(10, read=30), **options)

    def url(self, path: str) -> str:
        return f"https://127.0.0.1:{self.https}{path}"


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if found is None:
        # CI installs it (.ci/run): there a missing nginx is a failure, not a reason to skip.
        if os.environ.get("CI"):
            pytest.fail("nginx is not installed; .ci/run installs Debian's nginx package")
        pytest.skip("nginx is not installed (apt-get install nginx)")
    return found


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A day's certificate for 127.0.0.1, so the client verifies the TLS nginx terminates."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "smartpark-test")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "site.crt", directory / "site.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def substitute(text: str, pattern: str, replacement: str, *, expected: int) -> str:
    text, count = re.subn(pattern, replacement, text)
    assert count == expected, f"deploy/nginx.conf no longer has {expected} x {pattern!r}; update this test's template"
    return text


def site_for_test(*, https: int, http: int, upstream: int, cert: Path, key: Path) -> str:
    """deploy/nginx.conf with loopback ports and the test's certificate: nothing else changes."""
    site = SITE.read_text()
    site = substitute(site, r"listen 80 ", f"listen 127.0.0.1:{http} ", expected=1)
    site = substitute(site, r"listen 443 ", f"listen 127.0.0.1:{https} ", expected=2)
    site = substitute(site, r"server 127\.0\.0\.1:8000;", f"server 127.0.0.1:{upstream};", expected=1)
    site = substitute(site, r"ssl_certificate /etc/ssl/smartpark/\S+;", f"ssl_certificate {cert};", expected=2)
    return substitute(site, r"ssl_certificate_key /etc/ssl/smartpark/\S+;", f"ssl_certificate_key {key};", expected=2)


def main_config(directory: Path) -> str:
    """What /etc/nginx/nginx.conf gives a site on Debian, with every path in the test's directory."""
    # As root, nginx's workers would otherwise run as nobody, who cannot enter pytest's private directories.
    user = "user root;" if os.geteuid() == 0 else ""
    return f"""
{user}
daemon off;
worker_processes 1;
pid {directory}/nginx.pid;
error_log {directory}/error.log info;
events {{ worker_connections 512; }}
http {{
    access_log {directory}/access.log;
    client_body_temp_path {directory}/client_body;
    proxy_temp_path {directory}/proxy;
    fastcgi_temp_path {directory}/fastcgi;
    uwsgi_temp_path {directory}/uwsgi;
    scgi_temp_path {directory}/scgi;
    include {directory}/smartpark.conf;
}}
"""


@contextmanager
def nginx_in_front(app: LiveServer, directory: Path) -> Iterator[Proxy]:
    binary = nginx_binary()
    directory.mkdir()
    cert, key = self_signed_certificate(directory)
    https, http = _free_port(), _free_port()
    upstream = int(app.base.rsplit(":", 1)[1])
    site = site_for_test(https=https, http=http, upstream=upstream, cert=cert, key=key)
    (directory / "smartpark.conf").write_text(site)
    (directory / "nginx.conf").write_text(main_config(directory))
    log = directory / "nginx.out"
    command = [binary, "-e", str(directory / "error.log"), "-p", f"{directory}/", "-c", str(directory / "nginx.conf")]
    with log.open("w") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", https), timeout=0.2).close()
                break
            except OSError:
                assert process.poll() is None, log.read_text() + (directory / "error.log").read_text()
                assert time.monotonic() < deadline, "nginx did not listen within 15 s"
                time.sleep(0.05)
        yield Proxy(https=https, http=http, cafile=cert, app=app)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@pytest.fixture(scope="module")
def proxy(tmp_path_factory) -> Iterator[Proxy]:
    directory = tmp_path_factory.mktemp("nginx")
    with (
        live_server(directory, TRUSTED_PROXY_COUNT="1", LOGIN_RATE_LIMIT=f"{LOGIN_LIMIT} per minute") as app,
        nginx_in_front(app, directory / "nginx") as running,
    ):
        yield running


def test_a_decision_reaches_a_stream_through_nginx_within_a_second(proxy):
    app = proxy.app
    declarant = app.login("declarant")[1]["access_token"]
    gateway = app.login("gateway")[1]["access_token"]
    declaration = submit_declaration(app, declarant, "NGINX0001")
    latest = call(f"{app.base}/api/v1/notices?after_seq=0&limit=200", token=declarant)[1]["next_after_seq"]
    stream = EventStream(
        proxy.url(""), declarant, last_event_id=latest, client=proxy.client(), headers={"Host": API_HOST}
    )
    try:
        assert send_receipt(app, gateway, declaration["guid"], 120) == "applied"
        decided_at = time.monotonic()
        event = stream.next(timeout=10)
        arrived_at, notice = event.received_at, event.data
    finally:
        stream.close()

    assert (notice["kind"], notice["declaration_id"]) == ("declaration.accepted", declaration["id"])
    assert arrived_at - decided_at < 1.0, f"the notice took {arrived_at - decided_at:.2f} s through nginx"


def login_statuses(proxy: Proxy, source: str, attempts: int, *, forged: bool = False) -> list[int]:
    statuses = []
    with proxy.client(source) as client:
        for attempt in range(attempts):
            headers = {"Host": API_HOST}
            if forged:  # a client claiming to be someone new each time
                headers["X-Forwarded-For"] = f"198.51.100.{attempt + 1}"
            body = {"username": f"nobody-{source}", "password": "not-the-password"}
            statuses.append(client.post(proxy.url("/api/v1/auth/login"), json=body, headers=headers).status_code)
    return statuses


def test_each_client_address_behind_nginx_has_its_own_rate_limit(proxy):
    first = login_statuses(proxy, "127.0.0.2", LOGIN_LIMIT + 1)
    second = login_statuses(proxy, "127.0.0.3", 1)

    assert first == [401] * LOGIN_LIMIT + [429]
    assert second == [401]


def test_a_forged_x_forwarded_for_does_not_escape_the_rate_limit(proxy):
    statuses = login_statuses(proxy, "127.0.0.4", LOGIN_LIMIT + 1, forged=True)

    assert statuses == [401] * LOGIN_LIMIT + [429]


def test_the_trace_host_serves_the_resolver_and_nothing_else_of_the_api(proxy):
    with proxy.client() as client:
        resolver = client.get(proxy.url("/.well-known/gs1resolver"), headers={"Host": TRACE_HOST})
        api = client.get(proxy.url("/api/v1/openapi.json"), headers={"Host": TRACE_HOST})
        plain = client.get(f"http://127.0.0.1:{proxy.http}/01/04006381333931", headers={"Host": TRACE_HOST})
        # Where a bare request's default link leads, and a compressed Digital Link: the app answers them (its
        # X-Request-Id), not nginx's 404.
        page = client.get(proxy.url("/trace/products/04006381333931"), headers={"Host": TRACE_HOST})
        compressed = client.get(proxy.url("/AQdJnd9bVg"), headers={"Host": TRACE_HOST, "Accept": "application/json"})

    assert resolver.status_code == 200
    assert api.status_code == 404
    assert "X-Request-Id" in page.headers
    assert 'rel="owl:sameAs"' in compressed.headers["Link"]
    assert plain.status_code == 301
    assert plain.headers["Location"] == f"https://{TRACE_HOST}/01/04006381333931"


def test_a_body_over_the_limit_is_refused_by_nginx_in_the_apps_problem_shape(proxy):
    with proxy.client() as client:
        answer = client.post(
            proxy.url("/api/v1/auth/login"),
            content=b"x" * (1024 * 1024 + 1),
            headers={"Host": API_HOST, "Content-Type": "application/json"},
        )

    assert answer.status_code == 413
    assert answer.headers["Content-Type"] == "application/problem+json"
    assert answer.json()["code"] == "payload_too_large"
