"""Customs burst benchmark: receipts as customs sends them at a sale's start, with releases in the mix.

Target (issue 23, DOMAIN.md §5): 1,000 receipts/s on PostgreSQL on a 2-core machine, with the decision → notice on
the declarant's stream p95 <= 5 s during the burst.

Steps, all on 127.0.0.1 and in a temp dir removed at the end:

1. A scratch database of the run's own (PostgreSQL, named bench_receipts_<run> unless ``--database-url`` names
   one; created here and dropped at the end), ``flask db upgrade``, ``flask seed-demo``; with ``--redis`` a
   redis-server of the run's own for the notice hub's cross-worker wake-ups.
2. In-process, in bulk: ``--enterprises`` declaring enterprises with ``--declarants`` each, ``--declarations``
   submitted lists over them with 1-3 goods lines (five popular products shared by many lists, the others rarer),
   the stock the warehouse booked for them and one affixed trace code per unit; tokens without logins.
3. The burst is planned from ``--seed`` (scripts/bench_receipts_data.py): every list's 120, ``--inspections`` of
   them a 500, every 800 ``--release-gap`` documents after its 120, ``--duplicates`` of the receipts re-sent and
   ``--late`` lists given a 399 delivered after their 800 (stale), in customs' time order across lists, packed into
   documents of ``--per-document`` receipts.
4. ``gunicorn -c gunicorn.conf.py wsgi:app`` (``--workers``); every declarant opens its notice stream.
5. ``--connections`` senders post the documents in order as the gateway user. A document waits until every
   earlier document holding a receipt of one of its lists has been answered, as customs' one gateway would, so
   each receipt's answer is known in advance; the time spent so is reported (``held_s``).
   On PostgreSQL, pg_stat_activity is sampled every 0.5 s: active sessions, those waiting on a lock, wait events.
6. Each notifying decision (120 accepted, 500 inspection issued, 800 released) is timed from its document's POST
   being sent to the event on each of the enterprise's declarants' streams; one that never arrives is a failure.
7. After the burst the database is checked (scripts/bench_receipts_check.py).

    .venv/bin/python scripts/bench_receipts.py --declarations 5000 --redis
    .venv/bin/python scripts/bench_receipts.py --declarations 1000 --database-url sqlite   # SQLite file

Exit status: 0 ran clean (and met ``--target`` if given), 1 could not run, a 5xx answer, an unexpected outcome,
a lost notice or a failed database check, 2 bad usage, 3 target missed, 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import shutil
import signal
import sys
import time
from pathlib import Path

from sqlalchemy import select, text
from sqlalchemy.engine import make_url

SCRIPTS = Path(__file__).resolve().parent
# The scripts beside this one, and the app they load.
sys.path[:0] = [str(SCRIPTS), str(SCRIPTS.parent)]

import bench  # noqa: E402  (child processes, gunicorn)
from bench_receipts_check import check_database  # noqa: E402
from bench_receipts_data import Burst, load_lists, plan_burst  # noqa: E402
from bench_receipts_send import burst_and_listen  # noqa: E402
from bench_scratch import (  # noqa: E402
    HOST,
    add_enterprise_with_users,
    app_in_process,
    base_env,
    log,
    own_redis,
    raise_open_files,
    scratch_database,
)

from app.auth.service import open_session  # noqa: E402
from app.users.models import User  # noqa: E402

TARGET_RECEIPTS_PER_S = 1000.0
TARGET_NOTICE_P95_S = 5.0
DEFAULT_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"


def prepare(env: dict[str, str], args: argparse.Namespace, burst: Burst) -> dict:
    """The enterprises, lists, stock and codes, and the tokens the run signs in with."""
    with app_in_process(env) as app:
        settings = app.extensions["settings"]
        with app.extensions["sessionmaker"].begin() as session:

            def token(user: User) -> str:
                pair = open_session(session, user, client_addr=HOST, user_agent="bench_receipts", settings=settings)
                return pair.access_token

            log(f"adding {args.enterprises} enterprises x {args.declarants} declarants, {args.declarations} lists")
            enterprises = [
                add_enterprise_with_users(session, label=f"Burst{n:03d}", users=args.declarants)
                for n in range(args.enterprises)
            ]
            warehouse_id = load_lists(session, burst, enterprises=enterprises)
            gateway = session.scalar(select(User).where(User.username == "gateway"))
            setup = {
                "gateway_token": token(gateway),
                "streams": [(token(user), n) for n, (_, users) in enumerate(enterprises) for user in users],
                "warehouse_id": warehouse_id,
                "enterprise_ids": [enterprise.id for enterprise, _ in enterprises],
            }
        with app.extensions["engine"].connect() as connection:
            # Fresh rows have no planner statistics yet; a bulk load ends with ANALYZE, as in production.
            connection.execute(text("ANALYZE"))
            connection.commit()
    return setup


def database_url(args: argparse.Namespace) -> str | None:
    if args.database_url == "sqlite":
        return None
    url = make_url(args.database_url)
    if not url.database:
        url = url.set(database=f"bench_receipts_{time.strftime('%Y%m%d_%H%M%S')}_{secrets.token_hex(2)}")
    return url.render_as_string(hide_password=False)


def run(args: argparse.Namespace, children: bench.Children, workdir: Path) -> dict:
    burst = plan_burst(
        lists=args.declarations,
        enterprises=args.enterprises,
        products=args.products,
        per_document=args.per_document,
        inspection_share=args.inspections,
        duplicate_share=args.duplicates,
        late_share=args.late,
        release_gap=args.release_gap,
        seed=args.seed,
    )
    with scratch_database(database_url(args), workdir) as url:
        env = base_env(url, workdir)
        env["WEB_CONCURRENCY"] = str(args.workers)
        if args.redis:
            env["REDIS_URL"] = own_redis(children, workdir)
        bench.run_flask_cli(env, "db", "upgrade")
        bench.run_flask_cli(env, "seed-demo")
        setup = prepare(env, args, burst)
        (port,) = bench.free_ports(1)
        server = bench.start_server(children, "app", "wsgi:app", port, env, args.gunicorn_config, workdir)
        try:
            report = asyncio.run(burst_and_listen(args, setup, burst, server, url))
        finally:
            children.stop(server.proc)
        log("checking the database")
        with app_in_process(env) as app, app.extensions["sessionmaker"]() as session:
            report["check"] = check_database(
                session, burst, warehouse_id=setup["warehouse_id"], enterprise_ids=setup["enterprise_ids"]
            )
        report["settings"] = {
            "database": bench.db_kind(url),
            "database_name": make_url(url).database,
            **{key: value for key, value in vars(args).items() if key not in ("json", "gunicorn_config")},
            "planned": {
                "documents": len(burst.documents),
                "receipts": burst.receipts,
                "outcomes": dict(burst.expected_counts()),
                "inspected_lists": sum(item.inspected for item in burst.lists),
            },
        }
    # Per receipt, a copy sent twice may be stored from either copy; over the burst the totals must be the plan's.
    report["burst"]["outcomes_as_planned"] = report["burst"]["outcomes"] == report["settings"]["planned"]["outcomes"]
    report["target"] = target(report)
    return report


def target(report: dict) -> dict:
    rate, p95 = report["burst"]["receipts_per_s"], report["notices"]["p95_ms"]
    return {
        "receipts_per_s_at_least": TARGET_RECEIPTS_PER_S,
        "notice_p95_ms_at_most": TARGET_NOTICE_P95_S * 1000,
        "met": bool(rate and rate >= TARGET_RECEIPTS_PER_S and p95 is not None and p95 <= TARGET_NOTICE_P95_S * 1000),
    }


def _per_receipt_ms(cpu_s: float, burst: dict) -> float | None:
    return round(cpu_s / burst["receipts_answered"] * 1000, 2) if burst["receipts_answered"] else None


def summary(report: dict) -> str:
    s, b, n, m = report["settings"], report["burst"], report["notices"], report["machine"]
    lat = b["document_latency"]
    lines = [
        f"{s['database']} ({s['database_name']}), {s['workers']} worker(s), {s['connections']} connections, "
        f"redis {'on' if s['redis'] else 'off'}; {m['cpus']} cpus, load {m['load_average_before']} -> "
        f"{m['load_average_after']}; during the burst the CPU was {m['cpu_busy_share_during_burst']:.0%} busy, "
        f"gunicorn's workers used {m['workers_cpu_s_during_burst']} CPU s "
        f"({_per_receipt_ms(m['workers_cpu_s_during_burst'], b)} ms a receipt), PostgreSQL "
        f"{m['database_cpu_s_during_burst']} s ({_per_receipt_ms(m['database_cpu_s_during_burst'], b)} ms), "
        f"this harness {m['harness_cpu_s_during_burst']} s",
        f"burst: {b['receipts_answered']} receipts in {b['documents']} documents in {b['wall_s']} s = "
        f"{b['receipts_per_s']} receipts/s, {b['documents_per_s']} documents/s; outcomes {b['outcomes']}",
        f"document latency p50 {lat['p50_ms']} ms, p95 {lat['p95_ms']} ms, p99 {lat['p99_ms']} ms, max "
        f"{lat['max_ms']} ms; status codes {b['status_codes']}; held for order {b['held_s']} s (summed)",
        f"notices: {n['count']} of {n['expected']} on {n['streams']} streams, {n['missing']} missing; p50 "
        f"{n['p50_ms']} ms, p95 {n['p95_ms']} ms, p99 {n['p99_ms']} ms, max {n['max_ms']} ms",
    ]
    waits = report.get("database_waits")
    if waits:
        lines.append(
            f"PostgreSQL, {waits['samples']} samples: active {waits['active_mean']} (max {waits['active_max']}), "
            f"waiting on Lock {waits['waiting_on_lock_mean']} (max {waits['waiting_on_lock_max']}); deadlocks "
            f"{waits['deadlocks']}, rollbacks {waits['rollbacks']}; wait events {waits['wait_events']}"
        )
    for error in b["errors"] + b["first_unexpected"]:
        lines.append(f"  ! {error}")
    check = report["check"]
    lines.append(f"database check: {'ok' if check['ok'] else 'FAILED'}")
    for name, verdict in check.items():
        if name != "ok":
            figures = {k: v for k, v in verdict.items() if k not in ("ok", "problems", "first")}
            lines.append(f"  {name}: {'ok' if verdict['ok'] else 'FAILED'} {figures} {verdict['first'] or ''}")
    t = report["target"]
    lines.append(
        f"target {t['receipts_per_s_at_least']:g} receipts/s with notice p95 <= {t['notice_p95_ms_at_most']:g} ms: "
        f"{'met' if t['met'] else 'not met'}"
    )
    return "\n".join(lines)


def gap(value: str) -> tuple[int, int]:
    low, _, high = value.partition(",")
    return int(low), int(high or low)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Customs receipts burst with releases in the mix.")
    parser.add_argument("--declarations", type=int, default=5000, help="lists submitted before the burst")
    parser.add_argument("--enterprises", type=int, default=50, help="declaring enterprises the lists spread over")
    parser.add_argument("--declarants", type=int, default=2, help="declarants per enterprise, each with a stream")
    parser.add_argument("--products", type=int, default=40, help="products (the first five are the popular ones)")
    parser.add_argument("--per-document", type=int, default=100, help="receipts per document")
    parser.add_argument("--inspections", type=float, default=0.05, help="share of lists given a 500")
    parser.add_argument("--duplicates", type=float, default=0.03, help="share of receipts sent twice")
    parser.add_argument("--late", type=float, default=0.02, help="share of lists given a 399 after their 800")
    # At least the connections: with the 800 (or its list's 500 or late 399) closer than that, the document must
    # wait for the one holding the list's earlier receipt, and the connections cannot overlap.
    parser.add_argument(
        "--release-gap",
        type=gap,
        default=(8, 24),
        help="documents between a list's 120 and its 800 (its 500 halfway, a late 399 as far again): LOW,HIGH",
    )
    parser.add_argument("--seed", type=int, default=23)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (WEB_CONCURRENCY)")
    parser.add_argument("--redis", action="store_true", help="a redis-server of the run's own for wake-ups")
    parser.add_argument("--settle", type=float, default=15.0, help="seconds to wait for notices after the burst")
    parser.add_argument(
        "--database-url",
        default=DEFAULT_SERVER,
        help="PostgreSQL server (a database named with the run is created and dropped) or a scratch database "
        "URL that does not exist yet; 'sqlite' for a SQLite file",
    )
    parser.add_argument("--target", action="store_true", help="exit 3 unless the target is met")
    parser.add_argument("--json", action="store_true", help="print the JSON report only")
    parser.add_argument("--gunicorn-config", type=Path, default=bench.DEFAULT_GUNICORN_CONFIG, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if min(args.declarations, args.enterprises, args.declarants, args.connections, args.workers) < 1:
        parser.error("--declarations, --enterprises, --declarants, --connections and --workers must be positive")
    if args.products < 5 or args.per_document < 1 or not 1 <= args.release_gap[0] <= args.release_gap[1]:
        parser.error("--products must be at least 5, --per-document positive, --release-gap 1 <= LOW <= HIGH")
    if args.redis and shutil.which("redis-server") is None:
        parser.error("--redis needs redis-server on PATH")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, bench._raise_on_signal)
    raise_open_files(4 * args.enterprises * args.declarants + 1024)
    report = bench.run_cleanly(run, args, prefix="smartpark-bench-receipts-")
    if isinstance(report, int):
        return report
    if not args.json:
        print(summary(report), file=sys.stderr)
    print(json.dumps(report, indent=2, ensure_ascii=False))
    burst, notices = report["burst"], report["notices"]
    failed = [code for code in burst["status_codes"] if code != "200"]
    if failed or burst["unexpected_outcomes"] or not burst["outcomes_as_planned"]:
        log("FAILED: a document was not answered 200, or a receipt got an answer it should not have")
        return 1
    if notices["missing"] or not report["check"]["ok"]:
        log("FAILED: notices missing on the streams, or the database check failed")
        return 1
    if args.target and not report["target"]["met"]:
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
