"""The client side of scripts/bench_receipts.py: the gateway posting the burst's documents, the declarants' streams
hearing the notices, and what the machine and the database did meanwhile."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import time
from collections import Counter
from pathlib import Path

import bench
import httpx
from bench_receipts_check import WaitSampler
from bench_receipts_data import Burst, document_body
from bench_scratch import load_average, log, percentile
from bench_stream import worker_pids
from bench_stream_sse import EventStream, close_streams, open_streams

ERROR_BODIES_SHOWN = 5


def spread(seconds: list[float]) -> dict:
    """count, p50, p95, p99 and max of durations in seconds, in milliseconds."""
    values = sorted(seconds)
    if not values:
        return {"count": 0, "p50_ms": None, "p95_ms": None, "p99_ms": None, "max_ms": None}
    figures = {f"p{int(share * 100)}_ms": round(percentile(values, share) * 1000, 1) for share in (0.5, 0.95, 0.99)}
    return {"count": len(values), **figures, "max_ms": round(values[-1] * 1000, 1)}


def _process_cpu(pid: int | str) -> int:
    """utime + stime of a process in clock ticks; 0 for one that is gone."""
    try:
        # the 14th and 15th fields; the command name may hold spaces, so count after its ')'.
        return sum(int(v) for v in Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[11:13])
    except OSError:
        return 0


def database_cpu_s() -> float:
    """CPU seconds PostgreSQL's processes on this machine have used (every database's: run it on a quiet server)."""
    ticks = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() in ("postgres", "postmaster"):
                    ticks += _process_cpu(entry.name)
            except OSError:
                continue
    return ticks / os.sysconf("SC_CLK_TCK")


def cpu_times(workers_of: int) -> tuple[int, int, float, float]:
    """Busy and total jiffies of all cores since boot (/proc/stat), then the CPU seconds gunicorn's workers and this
    process have used: whether the service had the CPU, or other work on the machine did."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    workers = sum(_process_cpu(pid) for pid in worker_pids(workers_of))
    own = resource.getrusage(resource.RUSAGE_SELF)
    tick = os.sysconf("SC_CLK_TCK")
    return sum(fields) - idle, sum(fields), workers / tick, own.ru_utime + own.ru_stime


class Notices:
    """Pairs each expected decision with its event on each of the enterprise's declarants' streams."""

    def __init__(self, burst: Burst) -> None:
        self.enterprise_of: dict[EventStream, int] = {}
        self.sent_at: dict[tuple[int, str], float] = {}
        self.expected: dict[int, set[tuple[int, str]]] = {}
        for document in burst.documents:
            for receipt in document:
                if receipt.notifies:
                    item = burst.lists[receipt.list_index]
                    self.expected.setdefault(item.enterprise, set()).add((item.declaration_id, receipt.notifies))
        self.latencies: dict[tuple[int, int, str], float] = {}
        self.unexpected = 0

    def on_notice(self, stream: EventStream, data: dict, arrived: float) -> None:
        key = (data.get("declaration_id"), data.get("kind"))
        enterprise = self.enterprise_of.get(stream)
        sent = self.sent_at.get(key)
        if sent is None or key not in self.expected.get(enterprise, ()):
            self.unexpected += 1
            return
        self.latencies.setdefault((id(stream), *key), arrived - sent)

    def due(self) -> int:
        streams = Counter(self.enterprise_of.values())
        return sum(len(self.expected.get(enterprise, ())) * count for enterprise, count in streams.items())


class Sender:
    """Posts the documents in order over `connections` connections, each after the documents it waits for."""

    def __init__(self, burst: Burst, bodies: list[bytes], token: str, notices: Notices) -> None:
        self.burst, self.bodies, self.notices = burst, bodies, notices
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.answered = [asyncio.Event() for _ in bodies]
        self.copies, self.notice_of = burst.copies(), burst.notice_of()
        self.next = 0
        self.latencies: list[float] = []
        self.statuses: Counter = Counter()
        self.outcomes: Counter = Counter()
        self.mismatches: list[str] = []
        self.errors: list[str] = []
        self.held_s = 0.0
        self.started = self.finished = 0.0

    async def run(self, client: httpx.AsyncClient, connections: int) -> None:
        self.started = time.perf_counter()
        await asyncio.gather(*(self._connection(client) for _ in range(connections)))
        self.finished = time.perf_counter()

    async def _connection(self, client: httpx.AsyncClient) -> None:
        while self.next < len(self.bodies):
            number, self.next = self.next, self.next + 1
            waits = [self.answered[earlier].wait() for earlier in self.burst.waits_for[number]]
            if waits:
                held_from = time.perf_counter()
                await asyncio.gather(*waits)
                self.held_s += time.perf_counter() - held_from
            try:
                await self._post(client, number)
            finally:
                self.answered[number].set()

    async def _post(self, client: httpx.AsyncClient, number: int) -> None:
        document = self.burst.documents[number]
        sent = time.perf_counter()
        for receipt in document:
            if kind := self.notice_of.get(receipt.key):
                # From the first copy sent: a copy sent again may be the one that lands first.
                self.notices.sent_at.setdefault((self.burst.lists[receipt.list_index].declaration_id, kind), sent)
        try:
            response = await client.post("/api/v1/customs/receipts", content=self.bodies[number], headers=self.headers)
        except httpx.HTTPError as error:
            self.statuses[type(error).__name__] += 1
            self.errors.append(f"document {number}: {type(error).__name__}: {error}")
            return
        self.latencies.append(time.perf_counter() - sent)
        self.statuses[response.status_code] += 1
        if response.status_code != 200:
            self.errors.append(f"document {number}: HTTP {response.status_code}: {response.text[:600]}")
            return
        answers = [result["outcome"] for result in response.json()["results"]]
        self.outcomes.update(answers)
        for receipt, answer in zip(document, answers, strict=True):
            # A receipt sent twice may be stored from either copy, so either copy may be the duplicate.
            if answer != receipt.expected and not (
                self.copies[receipt.key] > 1 and "duplicate" in (answer, receipt.expected)
            ):
                self.mismatches.append(
                    f"document {number}: list {receipt.list_index}'s {receipt.status_code} answered {answer}, "
                    f"expected {receipt.expected}"
                )

    def report(self) -> dict:
        wall = self.finished - self.started
        receipts = sum(self.outcomes[name] for name in ("applied", "stale", "duplicate"))
        return {
            "wall_s": round(wall, 2),
            "documents": len(self.latencies),
            "receipts_answered": receipts,
            "receipts_per_s": round(receipts / wall, 1) if wall else None,
            "documents_per_s": round(len(self.latencies) / wall, 2) if wall else None,
            "outcomes": dict(self.outcomes),
            "status_codes": {str(code): count for code, count in sorted(self.statuses.items(), key=str)},
            "document_latency": spread(self.latencies),
            "held_s": round(self.held_s, 2),
            "unexpected_outcomes": len(self.mismatches),
            "first_unexpected": self.mismatches[:ERROR_BODIES_SHOWN],
            "errors": self.errors[:ERROR_BODIES_SHOWN],
        }


async def burst_and_listen(args: argparse.Namespace, setup: dict, burst: Burst, server: bench.Server, url: str):
    notices = Notices(burst)
    bodies = [json.dumps(document_body(burst, d), ensure_ascii=False).encode() for d in burst.documents]
    sender = Sender(burst, bodies, setup["gateway_token"], notices)
    limits = httpx.Limits(max_connections=args.connections, max_keepalive_connections=args.connections)
    streams: list[EventStream] = []
    async with httpx.AsyncClient(base_url=server.base_url, trust_env=False, timeout=120, limits=limits) as client:
        try:
            log(f"opening {len(setup['streams'])} declarants' streams")
            streams = [EventStream(token, enterprise, notices.on_notice) for token, enterprise in setup["streams"]]
            await open_streams(server.port, streams)
            for stream in streams:
                notices.enterprise_of[stream] = stream.enterprise_id
            log(f"burst: {len(bodies)} documents, {burst.receipts} receipts over {args.connections} connections")
            sampler = WaitSampler(url) if url.startswith("postgresql") else None
            cpu_before, load_before = cpu_times(server.proc.pid), load_average()
            database_before = database_cpu_s()
            if sampler:
                with sampler:
                    await sender.run(client, args.connections)
            else:
                await sender.run(client, args.connections)
            cpu_after, database_after = cpu_times(server.proc.pid), database_cpu_s()
            deadline = time.perf_counter() + args.settle
            while len(notices.latencies) < notices.due() and time.perf_counter() < deadline:
                await asyncio.sleep(0.05)
            dropped = sum(1 for stream in streams if stream.ended is not None)
        finally:
            await close_streams(streams)
    busy = (cpu_after[0] - cpu_before[0]) / max(1, cpu_after[1] - cpu_before[1])
    return {
        "burst": sender.report(),
        "notices": {
            "streams": len(streams),
            "streams_dropped": dropped,
            "expected": notices.due(),
            "missing": notices.due() - len(notices.latencies),
            "unexpected_events": notices.unexpected,
            **spread(list(notices.latencies.values())),
        },
        "database_waits": sampler.report() if sampler else None,
        "machine": {
            "cpus": os.cpu_count(),
            "cpu_busy_share_during_burst": round(busy, 3),
            "workers_cpu_s_during_burst": round(cpu_after[2] - cpu_before[2], 2),
            "harness_cpu_s_during_burst": round(cpu_after[3] - cpu_before[3], 2),
            # Every PostgreSQL process on the machine, the run's and anyone else's.
            "database_cpu_s_during_burst": round(database_after - database_before, 2),
            "load_average_before": load_before,
            "load_average_after": load_average(),
        },
    }
