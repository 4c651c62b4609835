"""The client side of the notice-stream benchmark: thousands of open event streams in one asyncio loop,
and a watch on that loop's own lag (a late loop would show up as stream latency the server never caused).

Raw asyncio streams rather than an HTTP client: thousands of them must cost this process little, so the
client's own CPU does not become the measurement.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable

from bench import HOST, BenchError

OPEN_PARALLEL = 100
OPEN_TIMEOUT = 60.0
LAG_TICK_SECONDS = 0.01


class EventStream:
    """One open notice stream of one user: a raw HTTP/1.1 connection whose body is read as server-sent events.

    `waiting` holds the notices this stream is owed (key → when their receipt POST was due); the ledger fills
    it before each POST and the callback empties it as the events arrive.
    """

    def __init__(self, token: str, enterprise_id: int, on_notice: Callable[[EventStream, dict, float], None]) -> None:
        self.token = token
        self.enterprise_id = enterprise_id
        self.connected = False
        self.heartbeats = 0
        self.notices = 0
        self.ended: str | None = None
        self.waiting: dict[tuple[int, str], float] = {}
        self.seen: set[tuple[int, str]] = set()
        self.opened = asyncio.Event()
        self.task: asyncio.Task | None = None
        self._on_notice = on_notice

    async def run(self, port: int) -> None:
        writer = None
        try:
            reader, writer = await asyncio.open_connection(HOST, port)
            writer.write(
                f"GET /api/v1/notices/stream?after_seq=0 HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
                f"Authorization: Bearer {self.token}\r\nAccept: text/event-stream\r\n\r\n".encode()
            )
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            if status != 200:
                body = await asyncio.wait_for(reader.read(500), 2)
                self.ended = f"HTTP {status}: {body.decode(errors='replace')}"
                return
            chunked = b"transfer-encoding: chunked" in head.lower()
            buffer = b""
            while True:
                if chunked:
                    size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                    if size == 0:
                        break
                    chunk = (await reader.readexactly(size + 2))[:-2]
                else:
                    chunk = await reader.read(65536)
                    if not chunk:
                        break
                arrived = time.perf_counter()
                *blocks, buffer = (buffer + chunk).split(b"\n\n")
                for block in blocks:
                    self._handle(block.decode(), arrived)
            self.ended = "the server ended the stream"
        except (OSError, ValueError, IndexError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as error:
            self.ended = f"{type(error).__name__}: {error}"
        finally:
            self.opened.set()  # a failed open must not leave its opener waiting
            if writer is not None:
                writer.close()

    def _handle(self, block: str, arrived: float) -> None:
        fields: dict[str, str] = {}
        for line in block.split("\n"):
            if line.startswith(":"):
                comment = line[1:].strip()
                if comment == "connected":
                    self.connected = True
                    self.opened.set()
                elif comment == "heartbeat":
                    self.heartbeats += 1
            else:
                name, _, value = line.partition(":")
                fields[name] = value.removeprefix(" ")
        if fields.get("event") == "notice":
            self.notices += 1
            self._on_notice(self, json.loads(fields["data"]), arrived)
        elif fields.get("event") == "signed_out":
            self.ended = f"signed out: {fields.get('data')}"


async def open_streams(port: int, streams: list[EventStream]) -> None:
    """Open `streams`, `OPEN_PARALLEL` at a time, and wait until each said it is connected."""
    gate = asyncio.Semaphore(OPEN_PARALLEL)

    async def start(stream: EventStream) -> None:
        async with gate:
            stream.task = asyncio.create_task(stream.run(port))
            try:
                await asyncio.wait_for(stream.opened.wait(), OPEN_TIMEOUT)
            except TimeoutError:
                stream.ended = f"not connected after {OPEN_TIMEOUT:g}s"

    await asyncio.gather(*(start(stream) for stream in streams))
    failed = [stream for stream in streams if not stream.connected]
    if failed:
        raise BenchError(f"{len(failed)} of {len(streams)} streams did not open; first: {failed[0].ended}")


async def close_streams(streams: list[EventStream]) -> None:
    tasks = [stream.task for stream in streams if stream.task is not None]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


class LoopLag:
    """How late this process's event loop wakes from a short sleep, sampled while it runs.

    Every arrival time is read by this loop: a lag of 20 ms here is 20 ms on the stream figures that the
    server did not cause, so it is reported beside them.
    """

    def __init__(self) -> None:
        self.lags: list[float] = []
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._watch())

    async def stop(self) -> list[float]:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        return self.lags

    async def _watch(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(LAG_TICK_SECONDS)
            self.lags.append(max(0.0, time.perf_counter() - before - LAG_TICK_SECONDS))
