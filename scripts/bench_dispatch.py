"""Push dispatcher benchmark: how fast ``flask notices dispatch`` drains the outbox through the stand-in providers.

Target: at least 500 pushes per second.

Steps, all on 127.0.0.1 and in a temp dir removed at the end:

1. A scratch database (a SQLite file, or the PostgreSQL database ``--database-url`` names, created
   and dropped here) and ``flask db upgrade``.
2. In-process: an enterprise of ``--users`` declarants with ``--devices`` devices among them, one in
   four each on APNs (iOS), FCM, JPush and Huawei; then notices through
   ``notices.service.notify_enterprise``, each queueing one delivery per device, until at least
   ``--pushes`` deliveries wait (the outbox rows the application itself writes).
3. The stand-in providers in a process of their own (``python -m tests.standins``).
4. Baseline: the same number of pushes sent by the application's own push adapters (the httpx
   clients the dispatcher uses) from a plain pool of ``--concurrency`` threads, without the
   database: the providers' own speed as this machine reaches them.
5. ``flask notices dispatch`` with ``--concurrency`` and ``--batch-size``; the database is polled
   until no delivery is pending, then the dispatcher gets SIGTERM.
6. Pushes per second (sent rows over the time from the dispatcher being ready to the last
   ``sent_at``), the steady rate between the first and last batch, deliveries by state, created to
   sent p50/p99, and the dispatcher's share of the baseline rate.

Run from the repository root with the venv's Python::

    .venv/bin/python scripts/bench_dispatch.py --devices 200 --pushes 5000
    .venv/bin/python scripts/bench_dispatch.py \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench_dispatch --concurrency 64

Exit status: 0 ran (and met ``--min-rate`` if given), 1 could not run or pushes were left undone,
2 bad usage, 3 target missed, 130 interrupted.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import select
import signal
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, insert
from sqlalchemy import select as sql_select

SCRIPTS = Path(__file__).resolve().parent
sys.path.insert(0, str(SCRIPTS))

import bench  # noqa: E402  (child processes, flask CLI)
from bench_scratch import (  # noqa: E402
    REPO,
    BenchError,
    add_enterprise_with_users,
    app_in_process,
    base_env,
    load_average,
    log,
    scratch_database,
    spread_ms,
)

from app.devices.models import ApnsEnvironment, Device, Platform, PushProvider  # noqa: E402
from app.notices import service as notices  # noqa: E402
from app.notices.models import Delivery, DeliveryState, NoticeKind  # noqa: E402
from app.notices.text import Message  # noqa: E402
from app.push.base import PushMessage, PushTarget, Sent  # noqa: E402
from app.push.providers import build_adapters  # noqa: E402
from app.push.settings import PushSettings  # noqa: E402
from app.users.models import Role  # noqa: E402

# The target; --min-rate turns a miss into exit status 3.
TARGET_PER_SECOND = 500.0
PROVIDERS = (
    (PushProvider.APNS, Platform.IOS),
    (PushProvider.FCM, Platform.ANDROID),
    (PushProvider.JPUSH, Platform.ANDROID),
    (PushProvider.HUAWEI, Platform.ANDROID),
)
# The bundle id the APNs stand-in's topic check expects.
BUNDLE_ID = "cn.example.park"
NOTICES_PER_TRANSACTION = 20
STANDINS_TIMEOUT = 30.0
READY_TIMEOUT = 60.0


def make_devices(session, *, users: list, count: int) -> list[PushTarget]:
    """`count` devices spread over the users and providers; tokens carry no stand-in behaviour prefix."""
    rows = []
    for n, ((provider, platform), user) in enumerate(zip(itertools.cycle(PROVIDERS), itertools.cycle(users))):
        if n == count:
            break
        apns = provider is PushProvider.APNS
        rows.append(
            {
                "device_id": f"bench-{uuid.uuid4().hex}",
                "user_id": user.id,
                "platform": platform,
                "provider": provider,
                # APNs tokens are 64 hex digits; the others are opaque strings.
                "token": os.urandom(32).hex() if apns else f"bench{uuid.uuid4().hex}",
                "app_version": "2.3.0",
                "os_version": "17.5" if apns else "14",
                "apns_environment": ApnsEnvironment.PRODUCTION if apns else None,
                "bundle_id": BUNDLE_ID if apns else None,
                "push_permission": True,
            }
        )
    session.execute(insert(Device), rows)
    return [PushTarget(row["token"], row["platform"], row["apns_environment"], row["bundle_id"]) for row in rows]


def queue_deliveries(sessions, *, enterprise_id: int, notices_needed: int) -> int:
    """Notices for the whole enterprise, in batches of transactions; returns the deliveries queued."""
    for start in range(0, notices_needed, NOTICES_PER_TRANSACTION):
        with sessions.begin() as session:
            for n in range(start, min(start + NOTICES_PER_TRANSACTION, notices_needed)):
                notices.notify_enterprise(
                    session,
                    enterprise_id=enterprise_id,
                    roles=[Role.DECLARANT],
                    # A normal-priority kind: urgent ones would add reminder pushes on their own schedule.
                    kind=NoticeKind.DECLARATION_ACCEPTED,
                    title=Message("Benchmark notice %(n)s", n=n),
                    body=Message("Benchmark"),
                    source_key=f"bench/dispatch/{n}",
                )
    with sessions() as session:
        return session.scalar(sql_select(func.count()).select_from(Delivery))


def start_standins(children: bench.Children, workdir: Path) -> dict[str, str]:
    """The stand-ins in their own process (their HTTP servers must not share our GIL); returns their env."""
    with (workdir / "standins.log").open("wb") as log_file:
        proc = children.popen(
            [sys.executable, "-m", "tests.standins", "--directory", str(workdir / "standins")],
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log_file,
            text=True,
        )
    ready, _, _ = select.select([proc.stdout], [], [], STANDINS_TIMEOUT)
    line = proc.stdout.readline() if ready else ""
    if not line:
        raise BenchError(f"the stand-ins did not start:\n{bench.tail(workdir / 'standins.log')}")
    return json.loads(line)["env"]


def adapters_only(targets: list[PushTarget], standins_env: dict[str, str], *, pushes: int, concurrency: int) -> dict:
    """The baseline: `pushes` sends through the application's adapters from a plain thread pool."""
    adapters = build_adapters(PushSettings.from_env(standins_env))
    providers = {target.token: provider for target, (provider, _) in zip(targets, itertools.cycle(PROVIDERS))}

    def send(n: int) -> bool:
        target = targets[n % len(targets)]
        message = PushMessage(
            notice_id=str(uuid.uuid4()), title=f"Benchmark …{n:04d}", collapse_key=f"bench:{n}", high_priority=False
        )
        return isinstance(adapters[providers[target.token]].send(target, message), Sent)

    try:
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            # Token fetches (FCM, Huawei OAuth) and TLS handshakes happen once per run, not per push.
            list(pool.map(send, range(min(pushes, 4 * concurrency))))
            started = time.perf_counter()
            sent = sum(pool.map(send, range(pushes)))
            elapsed = time.perf_counter() - started
    finally:
        for adapter in adapters.values():
            adapter.close()
    return {"pushes": pushes, "sent": sent, "elapsed_s": round(elapsed, 3), "pushes_per_s": round(pushes / elapsed, 1)}


def wait_for_line(path: Path, marker: str, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while marker not in path.read_text(errors="replace"):
        if proc.poll() is not None:
            raise BenchError(f"the dispatcher exited with {proc.returncode}:\n{bench.tail(path)}")
        if time.monotonic() > deadline:
            raise BenchError(f"the dispatcher was not ready after {timeout:g}s:\n{bench.tail(path)}")
        time.sleep(0.01)


def pending(sessions) -> int:
    with sessions() as session:
        return session.scalar(
            sql_select(func.count()).select_from(Delivery).where(Delivery.state == DeliveryState.PENDING)
        )


def dispatch(args: argparse.Namespace, children: bench.Children, env: dict[str, str], sessions, workdir: Path) -> dict:
    log_path = workdir / "dispatcher.log"
    cli = ["notices", "dispatch", "--batch-size", str(args.batch_size), "--concurrency", str(args.concurrency)]
    log(f"$ flask --app wsgi {' '.join(cli)}")
    with log_path.open("wb") as log_file:
        proc = children.popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", *cli, "--idle-seconds", "0.05"],
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        # It prints this once its adapters are built, just before the first turn.
        wait_for_line(log_path, "Dispatching through", proc, READY_TIMEOUT)
        ready_at = datetime.now(UTC)
        deadline = time.monotonic() + args.timeout
        while (left := pending(sessions)) and time.monotonic() < deadline:
            if proc.poll() is not None:
                raise BenchError(f"the dispatcher exited with {proc.returncode}:\n{bench.tail(log_path)}")
            time.sleep(0.05)
        if left:
            log(f"{left} deliveries still pending after --timeout {args.timeout:g}s")
    finally:
        children.stop(proc)
    with sessions() as session:
        by_state = dict(session.execute(sql_select(Delivery.state, func.count()).group_by(Delivery.state)).all())
        sent = session.execute(
            sql_select(Delivery.created_at, Delivery.sent_at).where(Delivery.state == DeliveryState.SENT)
        ).all()
    sent_count = len(sent)
    report = {
        "by_state": {str(state): count for state, count in sorted(by_state.items())},
        "sent": sent_count,
        "pushes_per_s": None,
        "steady_pushes_per_s": None,
        "elapsed_s": None,
        "created_to_sent": spread_ms([(sent_at - created_at).total_seconds() for created_at, sent_at in sent]),
    }
    if sent:
        first, last = min(row.sent_at for row in sent), max(row.sent_at for row in sent)
        elapsed = (last - ready_at).total_seconds()
        first_batch = sum(1 for row in sent if row.sent_at == first)
        report["elapsed_s"] = round(elapsed, 3)
        report["pushes_per_s"] = round(sent_count / elapsed, 1) if elapsed > 0 else None
        # Without the first batch's start-up (token fetches, TLS, connection pools): the rate it keeps up.
        steady = (last - first).total_seconds()
        report["steady_pushes_per_s"] = round((sent_count - first_batch) / steady, 1) if steady > 0 else None
    return report


def run(args: argparse.Namespace, children: bench.Children, workdir: Path) -> dict:
    load_start = load_average()
    with scratch_database(args.database_url, workdir) as database_url:
        env = base_env(database_url, workdir)
        bench.run_flask_cli(env, "db", "upgrade")
        with app_in_process(env) as app:
            sessions = app.extensions["sessionmaker"]
            notices_needed = math.ceil(args.pushes / args.devices)
            with sessions.begin() as session:
                enterprise, users = add_enterprise_with_users(session, label="Push", users=args.users)
                targets = make_devices(session, users=users, count=args.devices)
            log(f"queueing {args.pushes} deliveries: {notices_needed} notices to {args.users} users")
            queued = queue_deliveries(sessions, enterprise_id=enterprise.id, notices_needed=notices_needed)
            standins_env = start_standins(children, workdir)
            log(f"baseline: {queued} pushes through the adapters alone, {args.concurrency} threads")
            baseline = adapters_only(targets, standins_env, pushes=queued, concurrency=args.concurrency)
            dispatcher = dispatch(args, children, {**env, **standins_env}, sessions, workdir)
    share = (
        round(dispatcher["pushes_per_s"] / baseline["pushes_per_s"], 3)
        if dispatcher["pushes_per_s"] and baseline["pushes_per_s"]
        else None
    )
    goal = args.min_rate or TARGET_PER_SECOND
    return {
        "settings": {
            "database": bench.db_kind(database_url),
            "queued_through": "notices.service.notify_enterprise (one delivery per active device per notice)",
            "users": args.users,
            "devices": args.devices,
            "providers": [provider.value for provider, _ in PROVIDERS],
            "batch_size": args.batch_size,
            "concurrency": args.concurrency,
            "cpus": os.cpu_count(),
            "load_average_start": load_start,
            "load_average_end": load_average(),
        },
        "queued": queued,
        "dispatcher": dispatcher,
        "baseline_adapters_only": baseline,
        "dispatcher_share_of_baseline": share,
        "target": {
            "pushes_per_s_at_least": goal,
            "met": dispatcher["pushes_per_s"] is not None and dispatcher["pushes_per_s"] >= goal,
        },
    }


def summary(report: dict) -> str:
    s, d, b = report["settings"], report["dispatcher"], report["baseline_adapters_only"]
    return "\n".join(
        [
            f"{s['database']}, {s['devices']} devices of {s['users']} users, batch {s['batch_size']}, "
            f"concurrency {s['concurrency']}, {s['cpus']} cpus, load {s['load_average_start']} -> "
            f"{s['load_average_end']}",
            f"dispatcher: {d['sent']} of {report['queued']} sent in {d['elapsed_s']}s = {d['pushes_per_s']} pushes/s "
            f"(steady {d['steady_pushes_per_s']}/s); by state {d['by_state']}",
            f"created->sent p50 {d['created_to_sent']['p50_ms']} ms, p99 {d['created_to_sent']['p99_ms']} ms",
            f"adapters alone: {b['pushes_per_s']} pushes/s; dispatcher reaches {report['dispatcher_share_of_baseline']}"
            f" of it",
        ]
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Dispatcher throughput against the stand-in push providers.",
        epilog="Example: .venv/bin/python scripts/bench_dispatch.py --devices 200 --pushes 5000",
    )
    parser.add_argument("--pushes", type=int, default=5000, help="deliveries to queue (rounded up to whole notices)")
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--users", type=int, default=50, help="declarants the devices belong to")
    parser.add_argument("--concurrency", type=int, default=32, help="pushes in flight (dispatcher and baseline)")
    parser.add_argument("--batch-size", type=int, default=200, help="deliveries claimed per dispatcher turn")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the outbox to drain")
    parser.add_argument(
        "--database-url",
        help="PostgreSQL scratch database to create and drop (default: a SQLite file in the temp dir)",
    )
    parser.add_argument(
        "--min-rate",
        type=float,
        help=f"exit 3 below this many pushes/s (reported against {TARGET_PER_SECOND:g} without it)",
    )
    parser.add_argument("--json", action="store_true", help="print the JSON report only")
    args = parser.parse_args(argv)
    for name in ("pushes", "devices", "users", "concurrency", "batch_size"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.users > args.devices:
        parser.error("--users must not exceed --devices (every user gets a device)")
    if args.timeout <= 0:
        parser.error("--timeout must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, bench._raise_on_signal)
    report = bench.run_cleanly(run, args, prefix="smartpark-bench-dispatch-")
    if isinstance(report, int):
        return report
    if not args.json:
        print(summary(report))
    print(json.dumps(report, indent=2))
    if report["dispatcher"]["sent"] < report["queued"]:
        log(f"only {report['dispatcher']['sent']} of {report['queued']} deliveries were sent")
        return 1
    if args.min_rate is not None and not report["target"]["met"]:
        log(f"{report['dispatcher']['pushes_per_s']} pushes/s is below --min-rate {args.min_rate:g}")
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
