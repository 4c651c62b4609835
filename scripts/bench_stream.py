"""Notice stream benchmark: customs decision to event on the declarant's open stream, with many streams open.

Targets: p99 <= 50 ms from decision (receipt accepted by the API) to the event on the declarant's
stream with 1,000 streams open on one 2-core machine; 5,000 open streams held by one stream server,
with the memory each costs.

Steps, all on 127.0.0.1 and in a temp dir removed at the end:

1. A scratch database (a SQLite file, or the PostgreSQL database ``--database-url`` names, created
   and dropped here), ``flask db upgrade`` and ``flask seed-demo``; with ``--redis`` a redis-server
   of the run's own.
2. In-process: an enterprise of idle declarants for the other streams, the declarations to decide
   on (bulk INSERTs for the demo declarant's enterprise), and access tokens through
   ``auth.service.open_session`` (no logins: argon2 would be the benchmark).
3. ``gunicorn -c gunicorn.conf.py wsgi:app`` (gevent workers, ``--workers``).
4. Baseline: only the demo declarant's stream open; ``--decisions`` receipts (120 then 800 for each
   declaration) posted as the demo gateway at ``--rate`` per second, open loop; each latency runs
   from just before the POST to the notice's arrival on the stream, matched by declaration and kind.
5. The other ``--streams`` - 1 streams opened (idle users, ``--streams-per-user`` each), worker RSS
   read before and after (``/proc/<worker>/status`` VmRSS of gunicorn's children), then the same
   decisions again: the loaded figures and their ratio to the baseline.

``--hold-only`` skips the decisions: it opens ``--streams`` streams, holds them ``--hold`` seconds
and reports whether every one stayed connected and heard heartbeats, and the RSS per stream.

Run from the repository root with the venv's Python::

    .venv/bin/python scripts/bench_stream.py --streams 1000 --decisions 200 --rate 10
    .venv/bin/python scripts/bench_stream.py --streams 5000 --hold-only --hold 40
    .venv/bin/python scripts/bench_stream.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench_stream \\
        --workers 2 --redis

Exit status: 0 ran (and met ``--max-p99-ms`` if given), 1 could not run or lost events or streams,
2 bad usage, 3 target missed, 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import shutil
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import func, select

SCRIPTS = Path(__file__).resolve().parent
sys.path.insert(0, str(SCRIPTS))

import bench  # noqa: E402  (child processes, gunicorn)
from bench_data import add_declarations  # noqa: E402
from bench_scratch import (  # noqa: E402
    HOST,
    BenchError,
    add_enterprise_with_users,
    app_in_process,
    base_env,
    load_average,
    log,
    own_redis,
    raise_open_files,
    scratch_database,
    spread_ms,
)

from app.auth.service import open_session  # noqa: E402
from app.declarations.models import DeclarationStatus  # noqa: E402
from app.notices.models import Notice  # noqa: E402
from app.users.models import User  # noqa: E402

# The target for the loaded phase; --max-p99-ms turns a miss into exit status 3.
TARGET_P99_MS = 50.0
KINDS = {120: "declaration.accepted", 800: "declaration.released"}
OPEN_PARALLEL = 100
OPEN_TIMEOUT = 60.0
SETTLE_SECONDS = 5.0
# Every stream's file descriptor on both ends (client here, worker in gunicorn) plus headroom.
FD_HEADROOM = 512


@dataclass(frozen=True)
class Decision:
    declaration_id: int
    guid: str
    status_code: int

    @property
    def key(self) -> tuple[int, str]:
        return self.declaration_id, KINDS[self.status_code]


class EventStream:
    """One open notice stream: a raw HTTP/1.1 connection whose body is read as server-sent events.

    Raw asyncio streams rather than an HTTP client: thousands of them must cost this process
    little, so the client's own CPU does not become the measurement.
    """

    def __init__(self, on_notice: Callable[[EventStream, dict, float], None]) -> None:
        self.connected = False
        self.heartbeats = 0
        self.ended: str | None = None
        self.opened = asyncio.Event()
        self.task: asyncio.Task | None = None
        self._on_notice = on_notice

    async def run(self, port: int, token: str, after_seq: int) -> None:
        writer = None
        try:
            reader, writer = await asyncio.open_connection(HOST, port)
            writer.write(
                f"GET /api/v1/notices/stream?after_seq={after_seq} HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
                f"Authorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n".encode()
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
            self._on_notice(self, json.loads(fields["data"]), arrived)
        elif fields.get("event") == "signed_out":
            self.ended = f"signed out: {fields.get('data')}"


async def open_streams(
    port: int, tokens: list[str], after_seqs: list[int], on_notice: Callable[[EventStream, dict, float], None]
) -> list[EventStream]:
    """Open one stream per token, `OPEN_PARALLEL` at a time, and wait until each said it is connected."""
    gate = asyncio.Semaphore(OPEN_PARALLEL)
    streams = [EventStream(on_notice) for _ in tokens]

    async def start(stream: EventStream, token: str, after_seq: int) -> None:
        async with gate:
            stream.task = asyncio.create_task(stream.run(port, token, after_seq))
            try:
                await asyncio.wait_for(stream.opened.wait(), OPEN_TIMEOUT)
            except TimeoutError:
                stream.ended = f"not connected after {OPEN_TIMEOUT:g}s"

    await asyncio.gather(*(start(s, t, a) for s, t, a in zip(streams, tokens, after_seqs, strict=True)))
    failed = [stream for stream in streams if not stream.connected]
    if failed:
        await close_streams(streams)
        raise BenchError(f"{len(failed)} of {len(streams)} streams did not open; first: {failed[0].ended}")
    return streams


async def close_streams(streams: list[EventStream]) -> None:
    tasks = [stream.task for stream in streams if stream.task is not None]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


class Matcher:
    """Pairs each decision with its notice on the measured stream."""

    def __init__(self) -> None:
        self.measured: EventStream | None = None
        self.sent_at: dict[tuple[int, str], float] = {}
        self.latencies: dict[tuple[int, str], float] = {}
        # How long each receipt POST took to answer: the part of the latency that is not the stream's.
        self.answered_in: list[float] = []
        self.unexpected = 0

    def on_notice(self, stream: EventStream, data: dict, arrived: float) -> None:
        if stream is not self.measured:
            return
        key = (data.get("declaration_id"), data.get("kind"))
        if key in self.sent_at and key not in self.latencies:
            self.latencies[key] = arrived - self.sent_at[key]
        else:
            self.unexpected += 1

    @property
    def waiting(self) -> int:
        return len(self.sent_at) - len(self.latencies)


@dataclass
class Setup:
    measured_token: str
    measured_after_seq: int
    gateway_token: str
    idle_tokens: list[str]
    baseline_plan: list[Decision] = field(default_factory=list)
    loaded_plan: list[Decision] = field(default_factory=list)


def prepare(env: dict[str, str], args: argparse.Namespace) -> Setup:
    """Idle users with their tokens, and the declarations to decide on, straight into the database."""
    idle_streams = args.streams - 1
    idle_users = math.ceil(idle_streams / args.streams_per_user)
    with app_in_process(env) as app:
        settings = app.extensions["settings"]
        with app.extensions["sessionmaker"].begin() as session:

            def token(user: User) -> str:
                pair = open_session(session, user, client_addr=HOST, user_agent="bench_stream", settings=settings)
                return pair.access_token

            declarant = session.scalar(select(User).where(User.username == "declarant"))
            gateway = session.scalar(select(User).where(User.username == "gateway"))
            log(f"adding {idle_users} idle users and {idle_streams} sign-ins")
            _, users = add_enterprise_with_users(session, label="Bench", users=idle_users)
            idle_tokens = [token(users[n // args.streams_per_user]) for n in range(idle_streams)]
            setup = Setup(
                measured_token=token(declarant),
                measured_after_seq=session.scalar(
                    select(func.coalesce(func.max(Notice.id), 0)).where(Notice.recipient_id == declarant.id)
                ),
                gateway_token=token(gateway),
                idle_tokens=idle_tokens,
            )
            if not args.hold_only:
                halves = math.ceil(args.decisions / 2)
                made = add_declarations(
                    session, username="declarant", count=2 * halves, status=DeclarationStatus.SUBMITTED
                )
                # Each phase gets its own declarations and the same mix: every 120 first, then 800s.
                for plan, chunk in ((setup.baseline_plan, made[:halves]), (setup.loaded_plan, made[halves:])):
                    plan.extend(Decision(i, guid, code) for code in (120, 800) for i, guid in chunk)
                    del plan[args.decisions :]
    return setup


async def post_receipt(client: httpx.AsyncClient, token: str, decision: Decision, matcher: Matcher) -> str:
    # Customs writes Beijing time to the millisecond; later receipts must not look older.
    return_time = (datetime.now(UTC) + timedelta(hours=8)).strftime("%Y%m%d%H%M%S%f")[:17]
    body = {"receipts": [{"guid": decision.guid, "status_code": decision.status_code, "return_time": return_time}]}
    matcher.sent_at[decision.key] = started = time.perf_counter()
    try:
        response = await client.post(
            "/api/v1/customs/receipts", json=body, headers={"Authorization": f"Bearer {token}"}
        )
        matcher.answered_in.append(time.perf_counter() - started)
    except httpx.HTTPError as error:
        outcome = f"{type(error).__name__}: {error}"
    else:
        outcome = (
            response.json()["results"][0]["outcome"]
            if response.status_code == 200
            else f"HTTP {response.status_code}: {response.text[:300]}"
        )
    if outcome != "applied":
        # No notice will come: it is an error, not a lost event.
        del matcher.sent_at[decision.key]
    return outcome


async def decide(client: httpx.AsyncClient, setup: Setup, plan: list[Decision], rate: float, matcher: Matcher) -> dict:
    """Post `plan` open-loop at `rate` per second, then wait for the stream to catch up."""
    loop = asyncio.get_running_loop()
    matcher.sent_at.clear()
    matcher.latencies.clear()
    matcher.answered_in.clear()
    start = loop.time()
    posts = []
    for n, decision in enumerate(plan):
        delay = start + n / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        posts.append(asyncio.create_task(post_receipt(client, setup.gateway_token, decision, matcher)))
    outcomes = await asyncio.gather(*posts)
    posted_in = loop.time() - start
    deadline = loop.time() + SETTLE_SECONDS
    while matcher.waiting and loop.time() < deadline:
        await asyncio.sleep(0.02)
    errors = [outcome for outcome in outcomes if outcome != "applied"]
    return {
        "decisions": len(plan),
        "achieved_rate_per_s": round(len(plan) / posted_in, 2) if posted_in else None,
        "not_applied": len(errors),
        "first_error": errors[0] if errors else None,
        "lost": matcher.waiting,
        "unexpected_events": matcher.unexpected,
        **spread_ms(list(matcher.latencies.values())),
        "receipt_post": spread_ms(matcher.answered_in),
    }


def worker_pids(master_pid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        # The command name may hold spaces and parentheses: the fields after the last ')' are fixed.
        if int(stat.rsplit(")", 1)[1].split()[1]) == master_pid:
            pids.append(int(entry.name))
    return sorted(pids)


def workers_rss_kib(master_pid: int) -> int:
    total = 0
    for pid in worker_pids(master_pid):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total


async def measure(args: argparse.Namespace, setup: Setup, server: bench.Server) -> dict:
    matcher = Matcher()
    rss: dict[str, int] = {}
    report: dict = {}
    streams: list[EventStream] = []
    async with httpx.AsyncClient(base_url=server.base_url, trust_env=False, timeout=30) as client:
        try:
            # The measured stream opens first in either mode: it also warms the worker before its RSS is read.
            streams += await open_streams(
                server.port, [setup.measured_token], [setup.measured_after_seq], matcher.on_notice
            )
            matcher.measured = streams[0]
            if not args.hold_only:
                # One discarded decision first: connections, caches and the JIT-less first calls warm up.
                await decide(client, setup, setup.baseline_plan[:1], args.rate, matcher)
                log(f"baseline: {len(setup.baseline_plan)} decisions at {args.rate:g}/s with 1 stream open")
                report["baseline"] = await decide(client, setup, setup.baseline_plan[1:], args.rate, matcher)
            await asyncio.sleep(1)  # let the worker settle before reading its memory
            rss["before_streams"] = workers_rss_kib(server.proc.pid)
            log(f"opening {len(setup.idle_tokens)} streams")
            started = time.perf_counter()
            idle = await open_streams(server.port, setup.idle_tokens, [0] * len(setup.idle_tokens), matcher.on_notice)
            streams += idle
            open_seconds = time.perf_counter() - started
            await asyncio.sleep(2)
            rss["with_streams"] = workers_rss_kib(server.proc.pid)
            heard_before = [stream.heartbeats for stream in streams]
            held_from = time.perf_counter()
            if args.hold_only:
                log(f"holding {len(streams)} streams for {args.hold:g}s")
                await asyncio.sleep(args.hold)
            else:
                log(f"loaded: {len(setup.loaded_plan)} decisions at {args.rate:g}/s with {len(streams)} streams open")
                report["loaded"] = await decide(client, setup, setup.loaded_plan, args.rate, matcher)
            held = time.perf_counter() - held_from
            rss["after"] = workers_rss_kib(server.proc.pid)
            heard = [stream.heartbeats - before for stream, before in zip(streams, heard_before, strict=True)]
            still_open = sum(1 for stream in streams if stream.ended is None)
            ended = next((stream.ended for stream in streams if stream.ended is not None), None)
        finally:
            await close_streams(streams)
    report["streams"] = {
        "open": len(streams),
        "opened_in_s": round(open_seconds, 2),
        "held_s": round(held, 2),
        "still_connected": still_open,
        "first_ended": ended,
        "heartbeats_min": min(heard),
        "heartbeats_max": max(heard),
        "without_heartbeat": sum(1 for count in heard if count == 0),
    }
    report["memory"] = {
        "worker_rss_kib_before_streams": rss["before_streams"],
        "worker_rss_kib_with_streams": rss["with_streams"],
        "worker_rss_kib_at_end": rss["after"],
        "kib_per_stream": round((rss["with_streams"] - rss["before_streams"]) / len(idle), 2),
    }
    return report


def ratios(report: dict) -> dict[str, float | None]:
    base, loaded = report["baseline"], report["loaded"]

    def div(key: str) -> float | None:
        return round(loaded[key] / base[key], 3) if base[key] and loaded[key] is not None else None

    return {"p50": div("p50_ms"), "p99": div("p99_ms")}


def summary(report: dict) -> str:
    s, streams, memory = report["settings"], report["streams"], report["memory"]
    lines = [
        f"{s['database']}, {s['workers']} gevent worker(s), redis {'on' if s['redis'] else 'off'}, "
        f"heartbeat {s['heartbeat_seconds']:g}s, {s['cpus']} cpus, load {s['load_average_start']} -> "
        f"{s['load_average_end']}",
        f"streams: {streams['open']} open in {streams['opened_in_s']}s, {streams['still_connected']} still "
        f"connected after {streams['held_s']}s, heartbeats per stream {streams['heartbeats_min']}.."
        f"{streams['heartbeats_max']}",
        f"worker RSS: {memory['worker_rss_kib_before_streams']} KiB -> {memory['worker_rss_kib_with_streams']} KiB "
        f"with the streams = {memory['kib_per_stream']} KiB per stream",
    ]
    for phase in ("baseline", "loaded"):
        if phase in report:
            r = report[phase]
            lines.append(
                f"{phase:<8} decision->event p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, max {r['max_ms']} ms; "
                f"{r['count']} events, {r['lost']} lost, {r['not_applied']} not applied, "
                f"{r['achieved_rate_per_s']}/s; the POST itself p50 {r['receipt_post']['p50_ms']} ms, "
                f"p99 {r['receipt_post']['p99_ms']} ms"
            )
    if "ratios" in report:
        lines.append(f"loaded/baseline: p50 {report['ratios']['p50']}x, p99 {report['ratios']['p99']}x")
    return "\n".join(lines)


def run(args: argparse.Namespace, children: bench.Children, workdir: Path) -> dict:
    load_start = load_average()
    with scratch_database(args.database_url, workdir) as database_url:
        env = base_env(database_url, workdir)
        env.update(
            WEB_CONCURRENCY=str(args.workers),
            STREAM_HEARTBEAT_SECONDS=str(args.heartbeat_seconds),
        )
        if args.redis:
            env["REDIS_URL"] = own_redis(children, workdir)
        elif args.workers > 1 and not args.hold_only:
            log("several workers without --redis: a decision handled by another worker waits for its poller")
        bench.run_flask_cli(env, "db", "upgrade")
        bench.run_flask_cli(env, "seed-demo")
        setup = prepare(env, args)
        (port,) = bench.free_ports(1)
        server = bench.start_server(children, "app", "wsgi:app", port, env, args.gunicorn_config, workdir)
        try:
            report = asyncio.run(measure(args, setup, server))
        finally:
            children.stop(server.proc)
    report["settings"] = {
        "mode": "hold-only" if args.hold_only else "latency",
        "streams": args.streams,
        "streams_per_user": args.streams_per_user,
        "decisions": None if args.hold_only else args.decisions,
        "rate_per_s": None if args.hold_only else args.rate,
        "workers": args.workers,
        "redis": args.redis,
        "heartbeat_seconds": args.heartbeat_seconds,
        "database": bench.db_kind(database_url),
        "cpus": os.cpu_count(),
        "load_average_start": load_start,
        "load_average_end": load_average(),
    }
    if not args.hold_only:
        report["ratios"] = ratios(report)
        goal = args.max_p99_ms or TARGET_P99_MS
        p99 = report["loaded"]["p99_ms"]
        report["target"] = {"loaded_p99_ms_at_most": goal, "met": p99 is not None and p99 <= goal}
    return report


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Decision-to-event latency on the notice stream with many streams open.",
        epilog="Example: .venv/bin/python scripts/bench_stream.py --streams 1000 --decisions 200",
    )
    parser.add_argument(
        "--streams", type=int, default=1000, help="streams open in the loaded phase, measured one included"
    )
    parser.add_argument("--streams-per-user", type=int, default=1, help="idle streams per idle user (several phones)")
    parser.add_argument("--decisions", type=int, default=200, help="receipts per phase (baseline and loaded)")
    parser.add_argument(
        "--rate", type=float, default=10, help="decisions per second (at 10, 200 span a 15 s heartbeat round)"
    )
    parser.add_argument("--workers", type=int, default=1, help="gunicorn workers (WEB_CONCURRENCY)")
    parser.add_argument("--redis", action="store_true", help="run a redis-server of our own for cross-worker wake-ups")
    parser.add_argument(
        "--heartbeat-seconds", type=float, default=15.0, help="STREAM_HEARTBEAT_SECONDS (production default 15)"
    )
    parser.add_argument("--hold-only", action="store_true", help="open and hold --streams streams; no decisions")
    parser.add_argument("--hold", type=float, default=40.0, help="seconds to hold the streams in --hold-only")
    parser.add_argument(
        "--database-url",
        help="PostgreSQL scratch database to create and drop (default: a SQLite file in the temp dir)",
    )
    parser.add_argument(
        "--max-p99-ms",
        type=float,
        help=f"exit 3 if the loaded p99 is above this (reported against {TARGET_P99_MS:g} ms without it)",
    )
    parser.add_argument("--json", action="store_true", help="print the JSON report only")
    # Profiling hook: a config that runs gunicorn.conf.py and adds hooks of its own.
    parser.add_argument("--gunicorn-config", type=Path, default=bench.DEFAULT_GUNICORN_CONFIG, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.streams < 2:
        parser.error("--streams must be at least 2 (the measured stream and one more)")
    if args.streams_per_user < 1 or args.workers < 1:
        parser.error("--streams-per-user and --workers must be at least 1")
    if args.decisions < 2 or args.rate <= 0:
        parser.error("--decisions must be at least 2 (one warms up) and --rate positive")
    if args.heartbeat_seconds <= 0 or args.hold <= 0:
        parser.error("--heartbeat-seconds and --hold must be positive")
    if args.redis and shutil.which("redis-server") is None:
        parser.error("--redis needs redis-server on PATH")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, bench._raise_on_signal)
    limit = raise_open_files(2 * args.streams + FD_HEADROOM)
    if limit < args.streams + FD_HEADROOM:
        log(f"open-file limit {limit} is too low for {args.streams} streams (raise ulimit -n)")
        return 1
    report = bench.run_cleanly(run, args, prefix="smartpark-bench-stream-")
    if isinstance(report, int):
        return report
    if not args.json:
        print(summary(report))
    print(json.dumps(report, indent=2))
    phases = [report[phase] for phase in ("baseline", "loaded") if phase in report]
    if any(phase["lost"] or phase["not_applied"] for phase in phases):
        log("some decisions were not applied or their events never arrived")
        return 1
    if report["streams"]["still_connected"] < report["streams"]["open"]:
        log(f"streams dropped: {report['streams']['first_ended']}")
        return 1
    if args.max_p99_ms is not None and report["target"]["met"] is False:
        log(f"loaded p99 is above --max-p99-ms {args.max_p99_ms}")
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
