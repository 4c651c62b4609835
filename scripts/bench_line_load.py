"""An open-loop HTTP/1.1 load generator for scripts/bench_line.py: request i is due at start + i / rate.

wrk keeps a fixed number of requests in flight, so a slow answer delays the next send and hides the queue
(coordinated omission); wrk2, which fixes that, is not packaged. Here a scheduler starts each request when it is
due, whatever the others are doing, on one of a pool of keep-alive connections (waiting for a free one when all are
busy), and each latency runs from the due time to the last byte of the answer. One asyncio loop, prebuilt request
bytes, and a minimal response reader keep the client's own cost near 100 µs a request, so it does not compete with
the server for the CPU more than it must.
"""

from __future__ import annotations

import asyncio
import gc
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Outcome:
    index: int  # the request's place in the schedule
    due: float  # seconds after the start
    latency: float  # seconds from the due time to the whole answer
    status: int
    body: bytes
    sent_lag: float = 0.0  # seconds from the due time to the request's write (the client's lag, a connection's)


@dataclass
class Run:
    outcomes: list[Outcome] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    # Requests sent more than 1 ms after they were due: the client's own lag (its loop woke late, the machine is
    # busy), or a wait for a connection (`waited_for_connection`).
    late_sends: int = 0
    # Requests that found every connection busy and `max_connections` open, and waited for one to come free.
    waited_for_connection: int = 0
    # Connections opened during the run because every open one was busy (beyond the `connections` opened first).
    connections_opened: int = 0
    wall_s: float = 0.0
    client_cpu_s: float = 0.0
    # The schedule's zero on time.monotonic() (the loop's clock), which each outcome's `due` counts from.
    start: float = 0.0


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def exchange(self, request: bytes, timeout: float) -> tuple[int, bytes]:
        self.writer.write(request)
        head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), timeout)
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        body = await asyncio.wait_for(self.reader.readexactly(length), timeout) if length else b""
        return status, body

    def close(self) -> None:
        self.writer.close()


async def _connect(host: str, port: int) -> _Connection:
    reader, writer = await asyncio.open_connection(host, port)
    return _Connection(reader, writer)


async def _open_loop(
    host: str,
    port: int,
    requests: list[bytes],
    *,
    due: list[float],
    connections: int,
    max_connections: int,
    timeout: float,
) -> Run:
    run = Run()
    idle: asyncio.Queue[_Connection] = asyncio.Queue()
    for _ in range(connections):
        idle.put_nowait(await _connect(host, port))
    opened = connections
    loop = asyncio.get_running_loop()
    pending: set[asyncio.Task] = set()
    start = run.start = loop.time() + 0.2

    async def send(index: int, request: bytes, due: float) -> None:
        nonlocal opened
        if not idle.empty():
            connection = idle.get_nowait()
        elif opened < max_connections:
            opened += 1
            run.connections_opened += 1
            connection = await _connect(host, port)
        else:
            run.waited_for_connection += 1
            connection = await idle.get()
        sent_lag = loop.time() - due
        if sent_lag > 0.001:
            run.late_sends += 1
        try:
            status, body = await connection.exchange(request, timeout)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError, IndexError) as error:
            connection.close()
            run.errors.append(f"{type(error).__name__}: {error}")
            run.outcomes.append(Outcome(index, due - start, loop.time() - due, 0, b"", sent_lag))
            idle.put_nowait(await _connect(host, port))
            return
        run.outcomes.append(Outcome(index, due - start, loop.time() - due, status, body, sent_lag))
        idle.put_nowait(connection)

    cpu_before = time.process_time()
    for index, request in enumerate(requests):
        due_at = start + due[index]
        delay = due_at - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(send(index, request, due_at))
        pending.add(task)
        task.add_done_callback(pending.discard)
    if pending:
        await asyncio.wait(pending)
    run.wall_s = loop.time() - start
    run.client_cpu_s = time.process_time() - cpu_before
    while not idle.empty():
        idle.get_nowait().close()
    return run


def open_loop(
    host: str,
    port: int,
    requests: list[bytes],
    *,
    rate: float | None = None,
    due: list[float] | None = None,
    connections: int = 64,
    max_connections: int = 1024,
    timeout: float = 10.0,
) -> Run:
    """Send `requests` at `rate` per second (or each at its own `due` second), open loop; every answer with its
    latency from its due time. `connections` are opened first; a request that finds them all busy opens another,
    up to `max_connections` (then it waits for one to come free).

    The client's own garbage collector stays out of the run: what the caller built before it (a benchmark's data,
    an app loaded in-process) is collected first and frozen, and no collection runs while requests are timed. A
    full collection over those objects paused this loop for 150-300 ms in the middle of a run, and every request
    due then counted the pause as the server's.
    """
    if (rate is None) == (due is None):
        raise ValueError("give either rate or due")
    due = due if due is not None else [index / rate for index in range(len(requests))]
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        return asyncio.run(
            _open_loop(
                host,
                port,
                requests,
                due=due,
                connections=connections,
                max_connections=max(connections, max_connections),
                timeout=timeout,
            )
        )
    finally:
        gc.enable()
        gc.unfreeze()


def judge(run: Run, expected: list[tuple[str, str | None]], read: Callable[[dict], tuple[str, str | None]]) -> dict:
    """Answers against what each request was owed: answers by status, and the 200s that said something else."""
    wrong, statuses = [], {}
    for outcome in run.outcomes:
        statuses[outcome.status] = statuses.get(outcome.status, 0) + 1
        if outcome.status == 200:
            got = read(json.loads(outcome.body))
            if got != expected[outcome.index]:
                wrong.append(f"request {outcome.index}: owed {expected[outcome.index]}, got {got}")
    return {"statuses": {str(k): v for k, v in sorted(statuses.items())}, "wrong": len(wrong), "first_wrong": wrong[:5]}
