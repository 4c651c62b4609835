"""X-ray line benchmark (issue 19): parcel scans answered pass or divert, on PostgreSQL.

Targets: at least 2,000 parcel scans per second sustained, and the pass/divert answer with p99 under 20 ms while the
line sends 500 a second (the diverter stands a few metres down the belt).

Steps, all on 127.0.0.1, in a temp dir and a scratch database of the run's own (created here, dropped at the end):

1. ``flask db upgrade``; then in bulk (scripts/bench_line_data.py): one in-zone warehouse, ``--enterprises``
   declaring enterprises of ``--declarants`` declarants (a divert notifies each), ``--parcels`` parcels on lists of
   ``--per-list``, all scanned in, their lists released but for 2% held (audited); 1% of lists and 0.5% of
   waybills targeted (布控); the line's machine account (role ``xray_line``) and its API key. ANALYZE.
2. The scans, planned from ``--seed``: every parcel once in a shuffled order, 2% flagged by the machine, 0.5% extra
   scans of waybills nobody declared, each with the answer it is owed (about 6% diverts in all).
3. ``gunicorn -c gunicorn.conf.py wsgi:app`` with ``--workers`` (production settings otherwise).
4. Fixed rate (the p99 target): ``--rate`` single scans a second for ``--duration`` s after ``--warmup`` s left out,
   open loop (scripts/bench_line_load.py): each latency runs from when the scan was due, so a slow server cannot
   hide its queue. Every answer is checked against the one owed. With ``--window-ms W`` the line's controller
   buffers instead: the scans due within each W ms go as one batch when the window closes, and each scan's latency
   still runs from its own due time (its wait in the controller included).
5. Saturation (the throughput target), wrk with ``--connections``, ``--saturation`` s after 3 s of warm-up: single
   scans (``POST /api/v1/export-line/scans``), then batches of ``--batch`` (``POST .../scan-batches``). The two are
   reported apart: a batch's scans per second is not a per-request figure.
6. The database: every answered scan logged.

    .venv/bin/python scripts/bench_line.py
    .venv/bin/python scripts/bench_line.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432 --json

Exit status: 0 ran clean (and met both targets with ``--target``), 1 could not run or answers were wrong or
failed, 2 bad usage, 3 a target missed (with ``--target``), 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shlex
import shutil
import signal
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

SCRIPTS = Path(__file__).resolve().parent
sys.path[:0] = [str(SCRIPTS), str(SCRIPTS.parent)]

import bench  # noqa: E402  (child processes, gunicorn, wrk)
from bench_line_data import (  # noqa: E402
    BATCH_PATH,
    SCAN_PATH,
    Shares,
    batch_body,
    load,
    plan_scans,
    request_bytes,
    single_body,
)
from bench_line_load import Run, open_loop  # noqa: E402
from bench_scratch import app_in_process, base_env, scratch_database, spread_ms  # noqa: E402
from bench_wrk import RequestSpec, check_errors, probe, run_wrk, use_bodies_file  # noqa: E402

TARGET_SCANS_PER_S = 2000.0
TARGET_P99_MS = 20.0
TARGET_RATE = 500.0
DEFAULT_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
SATURATION_WARMUP_S = 3


def database_url(args: argparse.Namespace) -> str:
    url = make_url(args.database_url)
    if not url.database:
        url = url.set(database=f"bench_line_{time.strftime('%Y%m%d_%H%M%S')}_{secrets.token_hex(2)}")
    return url.render_as_string(hide_password=False)


def prepare(env: dict[str, str], args: argparse.Namespace, shares: Shares):
    with app_in_process(env) as app:
        bench.log(f"loading {args.parcels:,} parcels on lists of {args.per_list}")
        with app.extensions["sessionmaker"].begin() as session:
            loaded = load(
                session,
                parcels=args.parcels,
                per_list=args.per_list,
                enterprises=args.enterprises,
                declarants=args.declarants,
                shares=shares,
                seed=args.seed,
            )
        with app.extensions["engine"].connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("ANALYZE"))
    return loaded


def windows(count: int, rate: float, window_s: float) -> tuple[list[list[int]], list[float]]:
    """Scan i is due at i / rate. With no window, one request per scan, due with it. With one, a controller that
    buffers: the scans due within each window go as one batch, sent when the window closes."""
    if window_s <= 0:
        return [[index] for index in range(count)], [index / rate for index in range(count)]
    groups: dict[int, list[int]] = {}
    for index in range(count):
        groups.setdefault(int(index / rate / window_s), []).append(index)
    return list(groups.values()), [(k + 1) * window_s for k in groups]


def per_scan(
    run: Run, groups: list[list[int]], dues: list[float], rate: float
) -> list[tuple[int, float, float, int, dict | None]]:
    """Each scan's (index, due, latency from its own due time, status, answer): a batch's wait in the controller
    counts as latency."""
    scans = []
    for outcome in run.outcomes:
        members = groups[outcome.index]
        answers = [None] * len(members)
        if outcome.status == 200:
            body = json.loads(outcome.body)
            answers = body.get("answers", [body])
        for index, answer in zip(members, answers, strict=True):
            waited = dues[outcome.index] - index / rate
            scans.append((index, index / rate, outcome.latency + waited, outcome.status, answer))
    return scans


def database_sessions(url: str) -> int | None:
    """Connections the database has accepted so far, this one included (pg_stat_database.sessions, PostgreSQL 14+;
    the server reports them within a second or so)."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return connection.scalar(text("SELECT sessions FROM pg_stat_database WHERE datname = current_database()"))
    except Exception:  # noqa: BLE001  (an older server, or no right to read it: the figure is left out)
        return None
    finally:
        engine.dispose()


def fixed_rate(args: argparse.Namespace, server: bench.Server, plan, api_key: str, url: str) -> dict:
    """The line at --rate scans a second, open loop; figures over the scans due after the warm-up."""
    groups, dues = windows(len(plan), args.rate, args.window_ms / 1000)
    # Each request named (X-Request-Id: line-<its place in the schedule>): the server's log lines, and
    # scripts/bench_line_probe.py, say which it was.
    requests = [
        request_bytes(
            SCAN_PATH, single_body(plan[group[0]]), host=server.host_header, api_key=api_key, request_id=f"line-{k}"
        )
        if args.window_ms <= 0
        else request_bytes(
            BATCH_PATH,
            batch_body([plan[i] for i in group]),
            host=server.host_header,
            api_key=api_key,
            request_id=f"line-{k}",
        )
        for k, group in enumerate(groups)
    ]
    how = f"in {args.window_ms:g} ms windows ({len(requests):,} batches)" if args.window_ms > 0 else "one a request"
    bench.log(f"fixed rate: {len(plan):,} scans at {args.rate:g}/s {how} ({args.warmup:g} s warm-up left out)")
    load_before = bench.load_average()
    sessions_before = database_sessions(url)
    run = open_loop(
        bench.HOST,
        server.port,
        requests,
        due=dues,
        connections=args.open_connections,
        max_connections=args.max_open_connections,
    )
    time.sleep(1.5)  # the server's session counts reach pg_stat_database within a second
    sessions_after = database_sessions(url)
    scans = per_scan(run, groups, dues, args.rate)
    statuses: dict[str, int] = {}
    wrong = []
    for index, _due, _latency, status, answer in scans:
        statuses[str(status)] = statuses.get(str(status), 0) + 1
        if status == 200 and (answer["decision"], answer["reason"]) != plan[index].expect:
            wrong.append(f"scan {index}: owed {plan[index].expect}, got {answer['decision']}, {answer['reason']}")
    measured = [scan for scan in scans if scan[1] >= args.warmup]
    span = max(s[1] for s in measured) - min(s[1] for s in measured) if len(measured) > 1 else 0.0
    diverted = sum(1 for scan in plan if scan.expect[0] == "divert")
    return {
        "rate": args.rate,
        "window_ms": args.window_ms,
        "requests": len(requests),
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "scans": len(plan),
        "measured": len(measured),
        "scheduled_rate": round((len(measured) - 1) / span, 1) if span else None,
        "answered_in_s": round(run.wall_s, 2),
        "latency": spread_ms([s[2] for s in measured if s[3] == 200]),
        "statuses": dict(sorted(statuses.items())),
        "wrong_answers": len(wrong),
        "first_wrong": wrong[:5],
        "errors": len(run.errors),
        "first_errors": run.errors[:5],
        "late_sends": run.late_sends,
        "waited_for_connection": run.waited_for_connection,
        "connections_opened": run.connections_opened,
        # PostgreSQL connections the workers opened during the run (beyond their pools' 10 each, an overflow
        # connection is opened for a request and closed after it): None if unknown.
        "database_connections_opened": sessions_after - sessions_before - 1
        if sessions_before is not None and sessions_after is not None
        else None,
        "diverted_share": round(diverted / len(plan), 4) if plan else None,
        "client_cpu_s": round(run.client_cpu_s, 2),
        "load_average": {"before": load_before, "after": bench.load_average()},
    }


def saturate(
    children, args, server: bench.Server, workdir: Path, *, name: str, path: str, bodies: list[bytes], per_request: int
) -> dict:
    """wrk flat out on `bodies` (one request each): a discarded warm-up, then --saturation seconds measured."""
    bodies_file = workdir / f"{name}.bodies"
    bodies_file.write_bytes(b"\n".join(bodies) + b"\n")
    request = RequestSpec(method="POST", path=path, headers={"X-API-Key": args.api_key})
    use_bodies_file(request, bodies_file, "application/json")
    probe(server, request)
    wrk_args = argparse.Namespace(
        threads=args.wrk_threads, connections=args.connections, request_timeout=10, wrk="wrk", self_test=False
    )
    bench.log(f"saturation, {name}: wrk {args.connections} connections, {SATURATION_WARMUP_S} s warm-up")
    warm = run_wrk(
        children, wrk_args, server, request, SATURATION_WARMUP_S, start=1, workdir=workdir, expected_rps=1000
    )
    load_before = bench.load_average()
    bench.log(f"saturation, {name}: {args.saturation} s measured")
    result = run_wrk(
        children, wrk_args, server, request, args.saturation, start=warm.lines[1], workdir=workdir, expected_rps=1000
    )
    check_errors(name, result, 0.01)
    figures = result.as_dict()
    sent = result.lines[1]
    return {
        "per_request": per_request,
        "scans_per_s": round(result.rps * per_request, 1),
        "requests_per_s": round(result.rps, 1),
        "request_p50_ms": figures["p50_ms"],
        "request_p95_ms": figures["p95_ms"],
        "request_p99_ms": figures["p99_ms"],
        "requests": result.requests,
        "statuses": result.statuses,
        "socket_errors": result.socket_errors,
        "bodies": len(bodies),
        # Beyond the bodies prepared, wrk starts over: those are rescans of parcels already answered.
        "resent": max(0, sent - len(bodies)),
        "answered_2xx": sum(count for status, count in result.statuses.items() if 200 <= int(status) < 300)
        + sum(count for status, count in warm.statuses.items() if 200 <= int(status) < 300)
        + 1,
        "load_average": {"before": load_before, "after": bench.load_average()},
    }


def run(args: argparse.Namespace, children: bench.Children, workdir: Path) -> dict:
    shares = Shares()
    url = database_url(args)
    with scratch_database(url, workdir) as url:
        env = base_env(url, workdir)
        env["WEB_CONCURRENCY"] = str(args.workers)
        if args.worker_class:
            env["GUNICORN_WORKER_CLASS"] = args.worker_class
        bench.run_flask_cli(env, "db", "upgrade")
        loaded = prepare(env, args, shares)
        args.api_key = loaded.api_key
        open_count = int(args.rate * (args.warmup + args.duration))
        plan = plan_scans(loaded, open_loop=open_count, single=args.single_parcels, shares=shares, seed=args.seed)
        settings = bench.effective_gunicorn_settings(bench.DEFAULT_GUNICORN_CONFIG, env)
        (port,) = bench.free_ports(1)
        server = bench.start_server(children, "app", "wsgi:app", port, env, bench.DEFAULT_GUNICORN_CONFIG, workdir)
        report: dict = {}
        try:
            report["fixed_rate"] = fixed_rate(args, server, plan.open_loop, loaded.api_key, url)
            if not args.no_saturation:
                report["single"] = saturate(
                    children,
                    args,
                    server,
                    workdir,
                    name="single scans",
                    path=SCAN_PATH,
                    bodies=[single_body(scan) for scan in plan.single],
                    per_request=1,
                )
                batches = [plan.batched[i : i + args.batch] for i in range(0, len(plan.batched), args.batch)]
                report["batched"] = saturate(
                    children,
                    args,
                    server,
                    workdir,
                    name=f"batches of {args.batch}",
                    path=BATCH_PATH,
                    bodies=[batch_body(batch) for batch in batches if len(batch) == args.batch],
                    per_request=args.batch,
                )
        finally:
            children.stop(server.proc)
        report["check"] = check(env, report, args)
        report["settings"] = {
            **{k: v for k, v in vars(args).items() if k not in ("json", "api_key", "database_url")},
            "database": bench.db_kind(url),
            "database_name": make_url(url).database,
            "workers": settings["workers"],
            "worker_class": settings["worker_class"],
            "cpus": os.cpu_count(),
            "parcels": args.parcels,
            "lists": loaded.lists,
            "targets": loaded.targets,
            "planned_reasons": plan.counts,
        }
    report["target"] = target(report)
    return report


def check(env: dict[str, str], report: dict, args: argparse.Namespace) -> dict:
    """Every answered scan is in the scan log (wrk may end with a few answered after it stopped counting)."""
    answered = sum(count for status, count in report["fixed_rate"]["statuses"].items() if status == "200") + sum(
        report[name]["answered_2xx"] * report[name]["per_request"] for name in ("single", "batched") if name in report
    )
    with app_in_process(env) as app, app.extensions["engine"].connect() as connection:
        logged = connection.scalar(text("SELECT count(*) FROM export_line_scans"))
        diverted = connection.scalar(text("SELECT count(*) FROM export_parcels WHERE stage = 'diverted'"))
        notices = connection.scalar(text("SELECT count(*) FROM notices WHERE kind = 'export.diverted'"))
    return {"ok": logged >= answered, "answered": answered, "logged": logged, "diverted": diverted, "notices": notices}


def target(report: dict) -> dict:
    p99 = report["fixed_rate"]["latency"]["p99_ms"]
    rates = {name: report[name]["scans_per_s"] for name in ("single", "batched") if name in report}
    return {
        "p99_ms_at_most": TARGET_P99_MS,
        "p99_met": p99 is not None and p99 <= TARGET_P99_MS and report["fixed_rate"]["rate"] >= TARGET_RATE,
        "scans_per_s_at_least": TARGET_SCANS_PER_S,
        "scans_per_s_met": {name: rate >= TARGET_SCANS_PER_S for name, rate in rates.items()},
    }


def summary(report: dict, command: str) -> str:
    s, f, t = report["settings"], report["fixed_rate"], report["target"]
    lat = f["latency"]
    lines = [
        f"{s['database']} ({s['database_name']}), {s['workers']} {s['worker_class']} workers, {s['cpus']} cpus; "
        f"{s['parcels']:,} parcels on {s['lists']:,} lists, {s['targets']} targets; planned {s['planned_reasons']}",
        f"fixed rate {f['rate']:g} scans/s"
        + (f" in {f['window_ms']:g} ms windows ({f['requests']:,} batches)" if f["window_ms"] > 0 else "")
        + f" for {f['duration_s']:g} s after {f['warmup_s']:g} s warm-up: "
        f"{f['measured']:,} scans, answer p50 {lat['p50_ms']} ms, p95 {lat['p95_ms']} ms, p99 {lat['p99_ms']} ms, "
        f"max {lat['max_ms']} ms; statuses {f['statuses']}, {f['wrong_answers']} wrong answers, {f['errors']} errors, "
        f"{f['late_sends']} sent late ({f['waited_for_connection']} waited for a connection, "
        f"{f['connections_opened']} connections opened during the run; database connections opened during it: "
        f"{f['database_connections_opened']}); "
        f"load {f['load_average']['before']} -> {f['load_average']['after']}; "
        f"target p99 <= {t['p99_ms_at_most']:g} ms: {'met' if t['p99_met'] else 'NOT met'}",
    ]
    for name, label in (("single", "single scans"), ("batched", "batched scans")):
        if name in report:
            r = report[name]
            lines.append(
                f"saturation, {label} ({r['per_request']} per request): {r['scans_per_s']:,} scans/s "
                f"({r['requests_per_s']:,} requests/s), request p50 {r['request_p50_ms']} ms, p99 "
                f"{r['request_p99_ms']} ms; statuses {r['statuses']}; {r['resent']} bodies re-sent; load "
                f"{r['load_average']['before']} -> {r['load_average']['after']}; target {TARGET_SCANS_PER_S:,.0f} "
                f"scans/s: {'met' if t['scans_per_s_met'][name] else 'NOT met'}"
            )
    c = report["check"]
    lines.append(
        f"database: {c['logged']:,} scans logged for {c['answered']:,} answered ({'ok' if c['ok'] else 'FAILED'}), "
        f"{c['diverted']:,} parcels diverted, {c['notices']:,} divert notices"
    )
    lines.append(f"command: {command}")
    for error in f["first_errors"] + f["first_wrong"]:
        lines.append(f"  ! {error}")
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="X-ray line scans: p99 at a fixed rate, then scans/s flat out.")
    parser.add_argument("--rate", type=float, default=TARGET_RATE, help="fixed-rate scans per second (500)")
    parser.add_argument("--duration", type=float, default=30.0, help="fixed-rate seconds measured (30)")
    parser.add_argument("--warmup", type=float, default=5.0, help="fixed-rate seconds left out first (5)")
    parser.add_argument(
        "--open-connections", type=int, default=64, help="open-loop client's connections opened first (64)"
    )
    parser.add_argument(
        "--max-open-connections",
        type=int,
        default=1024,
        help="open-loop client: a scan due while every connection is busy opens another, up to this many (1024)",
    )
    parser.add_argument(
        "--window-ms",
        type=float,
        default=0.0,
        help="fixed rate: the line's controller buffers the scans due within each window of this many ms and sends "
        "them as one batch when it closes; each scan's latency still runs from its own due time (0: one scan a "
        "request)",
    )
    parser.add_argument("--saturation", type=int, default=20, help="seconds of each saturation phase (20)")
    parser.add_argument("--no-saturation", action="store_true", help="the fixed-rate phase only")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections in saturation (16)")
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=100, help="scans per batch in the batched phase (100)")
    parser.add_argument("--parcels", type=int, default=300_000, help="parcels loaded; each scanned once (300,000)")
    parser.add_argument("--single-parcels", type=int, default=60_000, help="of them, for the single-scan phase")
    parser.add_argument("--per-list", type=int, default=100, help="parcels per export list (100)")
    parser.add_argument("--enterprises", type=int, default=20, help="declaring enterprises (20)")
    parser.add_argument("--declarants", type=int, default=2, help="declarants per enterprise, each notified (2)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (WEB_CONCURRENCY)")
    parser.add_argument("--worker-class", choices=("gevent", "gthread"), help="default: gunicorn.conf.py's (gevent)")
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument(
        "--database-url",
        default=DEFAULT_SERVER,
        help="PostgreSQL server (a database named with the run is created and dropped), or a scratch database URL "
        "that does not exist yet",
    )
    parser.add_argument("--target", action="store_true", help="exit 3 unless both targets are met")
    parser.add_argument("--json", action="store_true", help="print the JSON report only")
    args = parser.parse_args(argv)
    if min(args.rate, args.duration, args.parcels, args.per_list, args.enterprises, args.declarants) <= 0:
        parser.error("--rate, --duration, --parcels, --per-list, --enterprises and --declarants must be positive")
    if not 1 <= args.batch <= 500 or args.warmup < 0 or args.saturation < 1 or args.workers < 1:
        parser.error("--batch must be 1-500, --warmup >= 0, --saturation >= 1, --workers >= 1")
    if not args.no_saturation and shutil.which("wrk") is None:
        parser.error("wrk not found on PATH (apt-get install wrk), or pass --no-saturation")
    if not make_url(args.database_url).drivername.startswith("postgresql"):
        parser.error("--database-url must name a PostgreSQL server: the targets are stated for PostgreSQL")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = shlex.join([".venv/bin/python", "scripts/bench_line.py", *(sys.argv[1:] if argv is None else argv)])
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, bench._raise_on_signal)
    report = bench.run_cleanly(run, args, prefix="smartpark-bench-line-")
    if isinstance(report, int):
        return report
    report["command"] = command
    if not args.json:
        print(summary(report, command), file=sys.stderr)
    print(json.dumps(report, indent=2, ensure_ascii=False))
    fixed = report["fixed_rate"]
    if fixed["wrong_answers"] or fixed["errors"] or set(fixed["statuses"]) != {"200"} or not report["check"]["ok"]:
        bench.log("FAILED: an answer was not 200 or not the one owed, or a scan is missing from the log")
        return 1
    met = report["target"]
    if args.target and not (met["p99_met"] and any(met["scans_per_s_met"].values())):
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
