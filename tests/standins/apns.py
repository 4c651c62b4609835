"""A stand-in for APNs: HTTP/2 over TLS with a private CA, one port for production and one for the sandbox.

It checks what Apple checks: the provider token's ES256 signature, key id, team and age, how often a
connection changes tokens, the path, topic, push type, priority, collapse id and payload size.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import jwt

from tests.standins.base import STATS_PATH, Behaviour, Reply, Request, StandIn, Workdir, parse_json_object
from tests.standins.keys import ec_key, loopback_tls

PATH_PREFIX = "/3/device/"
MAX_PAYLOAD_BYTES = 4096
MAX_COLLAPSE_ID_BYTES = 64
PROVIDER_TOKEN_LIFETIME = 3600
# Apple's floor between provider-token changes on one connection (TooManyProviderTokenUpdates).
TOKEN_UPDATE_INTERVAL = 20 * 60
DEAD_STATUS = {"Unregistered": 410, "BadDeviceToken": 400, "DeviceTokenNotForTopic": 400}
LISTENERS = ("production", "sandbox")


def apns_error(status: int, reason: str, **extra: Any) -> Reply:
    return Reply(status, {"reason": reason, **extra}, {"apns-id": str(uuid.uuid4()).upper()})


@dataclass
class _ConnectionState:
    """Per HTTP/2 connection: the provider token in use, and since when."""

    token: str | None = None
    since: float = 0.0


class ApnsStandIn(StandIn):
    name = "apns"

    def __init__(
        self,
        *,
        topics: tuple[str, ...] = ("cn.example.park",),
        key_id: str = "STANDIN01K",
        team_id: str = "STANDIN01T",
        directory: Path | None = None,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self.topics = frozenset(topics)
        self.key_id = key_id
        self.team_id = team_id
        # Which of Apple's dead-token answers a DEAD token gets.
        self.dead_answer = "Unregistered"
        self.key_file: Path | None = None
        self.ca_file: Path | None = None
        self._workdir = Workdir(directory)
        self._public_key: Any = None
        self._verified: dict[str, tuple[bool, str, int]] = {}
        self._verified_lock = threading.Lock()
        self._listeners: dict[str, socket.socket] = {}
        self._threads: list[threading.Thread] = []
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self._stopping = threading.Event()
        self._tls: ssl.SSLContext | None = None

    @property
    def url(self) -> str:
        return self.url_for("production")

    @property
    def sandbox_url(self) -> str:
        return self.url_for("sandbox")

    def url_for(self, listener: str) -> str:
        if listener not in self._listeners:
            raise RuntimeError("The APNs stand-in is not running.")
        host, port = self._listeners[listener].getsockname()[:2]
        return f"https://{host}:{port}"

    def env(self) -> dict[str, str]:
        return {
            "APNS_KEY_ID": self.key_id,
            "APNS_TEAM_ID": self.team_id,
            "APNS_PRIVATE_KEY_FILE": str(self.key_file),
            "APNS_PRODUCTION_URL": self.url,
            "APNS_SANDBOX_URL": self.sandbox_url,
            "APNS_CA_FILE": str(self.ca_file),
        }

    def reset(self) -> None:
        super().reset()
        self.dead_answer = "Unregistered"

    def start(self) -> Self:
        folder = self._workdir.open("apns")
        private_key, self._public_key = ec_key()
        self.key_file = folder / f"AuthKey_{self.key_id}.p8"
        self.key_file.write_text(private_key)
        tls = loopback_tls()
        self.ca_file = folder / "ca.pem"
        self.ca_file.write_bytes(tls.ca_pem)
        (folder / "server.pem").write_bytes(tls.cert_pem + tls.key_pem)
        self._tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._tls.load_cert_chain(folder / "server.pem")
        self._tls.set_alpn_protocols(["h2"])
        self._stopping.clear()
        for listener in LISTENERS:
            sock = socket.create_server(("127.0.0.1", 0), backlog=128)
            # A short accept timeout lets stop() end the loop without relying on close() waking accept().
            sock.settimeout(0.2)
            self._listeners[listener] = sock
            thread = threading.Thread(target=self._accept, args=(listener, sock), name=f"standin-apns-{listener}")
            thread.daemon = True
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stopping.set()
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(timeout=5)
        for sock in self._listeners.values():
            sock.close()
        self._listeners.clear()
        self._threads.clear()
        self._workdir.close()

    # Transport: one thread per accepted connection, speaking HTTP/2 through the h2 state machine.

    def _accept(self, listener: str, sock: socket.socket) -> None:
        while not self._stopping.is_set():
            try:
                connection, _ = sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            connection.settimeout(None)
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            thread = threading.Thread(target=self._serve, args=(listener, connection), daemon=True)
            thread.start()

    def _serve(self, listener: str, raw: socket.socket) -> None:
        with self._connections_lock:
            self._connections.add(raw)
        try:
            assert self._tls is not None
            with self._tls.wrap_socket(raw, server_side=True) as sock:
                if sock.selected_alpn_protocol() != "h2":
                    return  # APNs speaks nothing but HTTP/2
                self._speak_h2(listener, sock)
        except (OSError, ssl.SSLError, h2.exceptions.ProtocolError):
            pass  # the client went away or broke the protocol, or stop() cut the connection
        finally:
            with self._connections_lock:
                self._connections.discard(raw)
            raw.close()

    def _speak_h2(self, listener: str, sock: ssl.SSLSocket) -> None:
        connection = h2.connection.H2Connection(
            config=h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
        )
        connection.initiate_connection()
        sock.sendall(connection.data_to_send())
        state = _ConnectionState()
        streams: dict[int, tuple[dict[str, str], bytearray]] = {}
        while not self._stopping.is_set():
            data = sock.recv(65536)
            if not data:
                return
            for event in connection.receive_data(data):
                if isinstance(event, h2.events.RequestReceived):
                    streams[event.stream_id] = ({str(k): str(v) for k, v in event.headers}, bytearray())
                elif isinstance(event, h2.events.DataReceived):
                    if event.stream_id in streams:
                        streams[event.stream_id][1].extend(event.data)
                    connection.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                elif isinstance(event, h2.events.StreamEnded) and event.stream_id in streams:
                    headers, body = streams.pop(event.stream_id)
                    reply = self._handle(listener, state, headers, bytes(body))
                    if reply.delay:
                        time.sleep(reply.delay)  # holds the whole connection, which is enough for a test
                    self._respond(connection, event.stream_id, reply)
                elif isinstance(event, h2.events.StreamReset):
                    streams.pop(event.stream_id, None)
                elif isinstance(event, h2.events.ConnectionTerminated):
                    sock.sendall(connection.data_to_send())
                    return
            outgoing = connection.data_to_send()
            if outgoing:
                sock.sendall(outgoing)

    @staticmethod
    def _respond(connection: h2.connection.H2Connection, stream_id: int, reply: Reply) -> None:
        body = reply.encoded()
        headers = [(":status", str(reply.status)), *reply.headers.items()]
        if body:
            headers.append(("content-type", "application/json"))
        connection.send_headers(stream_id, headers, end_stream=not body)
        if body:
            connection.send_data(stream_id, body, end_stream=True)

    # Apple's rules.

    def _handle(self, listener: str, state: _ConnectionState, headers: dict[str, str], body: bytes) -> Reply:
        request = Request(
            headers.get(":method", ""),
            headers.get(":path", ""),
            {k: v for k, v in headers.items() if not k.startswith(":")},
            body,
            listener,
        )
        if request.method == "GET" and request.path == STATS_PATH:
            return Reply(200, self.stats())
        token = request.path[len(PATH_PREFIX) :] if request.path.startswith(PATH_PREFIX) else None
        reply = self._check(request, state, token) or self._answer(token or "")
        return self._record(request, token, reply)

    def _check(self, request: Request, state: _ConnectionState, token: str | None) -> Reply | None:
        headers = request.headers
        if request.method != "POST":
            return apns_error(405, "MethodNotAllowed")
        if token is None or "/" in token:
            return apns_error(404, "BadPath")
        if not token:
            return apns_error(400, "MissingDeviceToken")
        refusal = self._check_provider_token(headers.get("authorization", ""), state)
        if refusal:
            return refusal
        topic = headers.get("apns-topic")
        if not topic:
            return apns_error(400, "MissingTopic")
        if topic not in self.topics:
            return apns_error(400, "TopicDisallowed")
        push_type = headers.get("apns-push-type")
        if push_type not in ("alert", "background"):
            return apns_error(400, "InvalidPushType")
        priority = headers.get("apns-priority", "10")
        # Background pushes must go at priority 5; Apple rejects (and may throttle) anything else.
        if priority not in ("5", "10") or (push_type == "background" and priority != "5"):
            return apns_error(400, "BadPriority")
        if not headers.get("apns-expiration", "0").isdigit():
            return apns_error(400, "BadExpirationDate")
        if len(headers.get("apns-collapse-id", "").encode()) > MAX_COLLAPSE_ID_BYTES:
            return apns_error(400, "BadCollapseId")
        if len(request.raw) > MAX_PAYLOAD_BYTES:
            return apns_error(413, "PayloadTooLarge")
        payload = parse_json_object(request.raw)
        aps = payload.get("aps") if payload else None
        if not isinstance(aps, dict) or not isinstance(payload.get("notice_id"), str):
            return apns_error(400, "PayloadEmpty")
        # Not Apple's checks but ours: a background push wakes the app silently, an alert shows something.
        if push_type == "background" and (aps.get("content-available") != 1 or "alert" in aps):
            return apns_error(400, "InvalidPushType")
        if push_type == "alert" and "alert" not in aps:
            return apns_error(400, "InvalidPushType")
        return None

    def _check_provider_token(self, authorization: str, state: _ConnectionState) -> Reply | None:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return apns_error(403, "MissingProviderToken")
        valid, reason, issued_at = self._verify(token)
        if not valid:
            return apns_error(403, reason)
        if time.time() - issued_at > PROVIDER_TOKEN_LIFETIME:
            return apns_error(403, "ExpiredProviderToken")
        now = time.monotonic()
        if token != state.token:
            if state.token is not None and now - state.since < TOKEN_UPDATE_INTERVAL:
                return apns_error(429, "TooManyProviderTokenUpdates")
            state.token, state.since = token, now
        return None

    def _verify(self, token: str) -> tuple[bool, str, int]:
        """Signature, key id and team, checked once per distinct token (ECDSA is the slow part)."""
        with self._verified_lock:
            known = self._verified.get(token)
        if known:
            return known
        try:
            header = jwt.get_unverified_header(token)
            claims = jwt.decode(
                token, self._public_key, algorithms=["ES256"], options={"require": ["iss", "iat"]}, leeway=60
            )
        except jwt.InvalidTokenError:
            result = (False, "InvalidProviderToken", 0)
        else:
            ok = header.get("kid") == self.key_id and claims["iss"] == self.team_id
            result = (ok, "" if ok else "InvalidProviderToken", int(claims["iat"]))
        with self._verified_lock:
            self._verified[token] = result
        return result

    def _answer(self, token: str) -> Reply:
        behaviour = self.behaviour(token)
        if behaviour is Behaviour.DEAD:
            extra = {"timestamp": int(time.time() * 1000)} if self.dead_answer == "Unregistered" else {}
            return apns_error(DEAD_STATUS[self.dead_answer], self.dead_answer, **extra)
        if behaviour is Behaviour.BUSY:
            reply = apns_error(429, "TooManyRequests")
            return Reply(reply.status, reply.body, {**reply.headers, "retry-after": str(self.retry_after)})
        if behaviour is Behaviour.DOWN:
            return apns_error(503, "ServiceUnavailable")
        return Reply(200, None, {"apns-id": str(uuid.uuid4()).upper()})

    def stats(self) -> dict[str, Any]:
        return {**super().stats(), "provider_tokens": len(self._verified)}

    def provider_tokens(self) -> set[str]:
        """Every distinct provider token that arrived (the adapter should reuse one)."""
        return {entry.headers.get("authorization", "") for entry in self.received}
