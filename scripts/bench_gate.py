"""Gate decision benchmark: arrival plus weighbridge decision at a fixed rate, with a large history.

Issue 6's target: p99 under 20 ms for arrival + weight decision at 50 decisions per second on
loopback, with 1,000,000 past passages in PostgreSQL.

Steps, in a fresh temp dir removed at the end:

1. ``flask db upgrade`` and ``flask seed-demo`` against ``DATABASE_URL`` (PostgreSQL required).
2. Bulk history straight into the database with ``generate_series``: ``--past`` passages
   (default 1,000,000), each on a passed gate pass of one of 20,000 vehicles, spread over a year;
   then one approved pass per measured decision, each for its own vehicle, covering the demo's
   released list DEMO-0004 (so every decision also writes its timeline event and notice). ANALYZE.
3. ``gunicorn -c gunicorn.conf.py wsgi:app`` (``--worker-class`` sets GUNICORN_WORKER_CLASS; the
   config's default is gevent); log in as the demo gate operator.
4. Open loop: decision *i* is due at ``start + i / rate``; a pool of client threads (keep-alive
   connections) sends ``POST /api/v1/gate/arrivals`` then ``POST /gate/passages/{id}/weight``.
   Latency counts from the due time, so a slow server cannot hide queueing (no coordinated
   omission). The first ``--warmup`` seconds are discarded.
5. The same schedule, requests and bodies against ``scripts/bench_baseline.py`` (bare Flask)
   under the same gunicorn config, as ``scripts/bench.py`` does: on a shared machine the
   app/baseline ratio travels better than milliseconds.
6. Print p50/p95/p99/max of the decision and of each request, the achieved rate, errors, the
   load average around each phase and the app/baseline ratios.

Run from the repository root with the venv's Python::

    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/bench_gate \\
        .venv/bin/python scripts/bench_gate.py --rate 50 --duration 60 --workers 2

The database named by DATABASE_URL is created if missing; run again on the same database, the script
keeps the history it loaded before and only adds fresh passes.
Exit status: 0 ran (and met ``--max-p99-ms`` if given), 1 could not run, 3 target missed.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

SCRIPTS = Path(__file__).resolve().parent
sys.path.insert(0, str(SCRIPTS))

import bench  # noqa: E402  (the HTTP harness: child processes, gunicorn, login)

PAST_VEHICLES = 20_000
WEIGHT_BODY = '{"weighbridge_kg": "10080"}'
# About the size of a passage answer, so the baseline sends as many bytes back.
PASSAGE_BYTES = 700


def ensure_database(url: str) -> None:
    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        found = connection.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": target.database})
        if not found:
            connection.execute(text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()


def load_history(url: str, *, past: int, fresh: int) -> None:
    """Past passages and the fresh approved passes the run consumes, inserted set-wise."""
    engine = create_engine(url)
    with engine.begin() as db:
        ids = db.execute(
            text(
                "SELECT g.id AS gate_id, u.id AS declarant_id, u.enterprise_id, d.id AS declaration_id, "
                "op.id AS operator_id FROM gates g, users u, declarations d, users op "
                "WHERE g.code = 'XY-KK01' AND u.username = 'declarant' AND d.cop_no = 'DEMO-0004' "
                "AND op.username = 'gate'"
            )
        ).one()
        lanes = db.scalars(
            text("SELECT id FROM lanes WHERE gate_id = :gate AND direction = 'out' ORDER BY code"),
            {"gate": ids.gate_id},
        ).all()
        params = {**ids._asdict(), "past": past, "fresh": fresh, "vehicles": PAST_VEHICLES}
        have = db.scalar(text("SELECT count(*) FROM gate_passages"))
        if have < past:
            bench.log(f"loading {past:,} past passages (have {have:,})")
            db.execute(
                text(
                    "INSERT INTO vehicles (plate, ic_no, vehicle_class, tare_kg, enterprise_id, created_at, "
                    "updated_at) SELECT 'P' || lpad(i::text, 7, '0'), 'PIC' || lpad(i::text, 9, '0'), 'general', 8000, "
                    ":enterprise_id, now(), now() FROM generate_series(1, :vehicles) i ON CONFLICT DO NOTHING"
                ),
                params,
            )
            db.execute(
                text(
                    "INSERT INTO gate_passes (passport_no, passport_type, bind_type, direction, status, vehicle_id, "
                    "plate, vehicle_kg, goods_gross_kg, goods_net_kg, total_kg, enterprise_id, declared_by_id, "
                    "declared_at, approved_at, passed_at, updated_at) "
                    "SELECT 'ZHIST' || lpad(i::text, 12, '0'), 'second_line', 'one_vehicle_many_lists', 'out', "
                    "'passed', v.id, v.plate, 8000, 2000, 1900, 10000, :enterprise_id, :declarant_id, "
                    "now() - make_interval(secs => i * 31.5::float8), now() - make_interval(secs => i * 31.5::float8), "
                    "now() - make_interval(secs => i * 31.5::float8 - 60), now() "
                    "FROM generate_series(1, :past) i "
                    "JOIN vehicles v ON v.plate = 'P' || lpad(((i % :vehicles) + 1)::text, 7, '0')"
                ),
                params,
            )
            db.execute(
                text(
                    "INSERT INTO gate_passages (gate_id, lane_id, pass_id, vehicle_id, direction, status, plate_read, "
                    "weighbridge_kg, expected_kg, wt_error_kg, reasons, arrived_by_id, decided_by_id, arrived_at, "
                    "weighed_at, decided_at) "
                    "SELECT :gate_id, (:lanes)[1 + p.id % cardinality(:lanes)], p.id, p.vehicle_id, 'out', "
                    "CASE WHEN p.id % 20 = 0 THEN 'cleared' ELSE 'auto_cleared' END, p.plate, "
                    "CASE WHEN p.id % 20 = 0 THEN 10600 ELSE 10050 END, 10000, "
                    "CASE WHEN p.id % 20 = 0 THEN 600 ELSE 50 END, "
                    "CASE WHEN p.id % 20 = 0 THEN '[\"weight_out_of_tolerance\"]'::json ELSE '[]'::json END, "
                    ":operator_id, NULL, p.passed_at - interval '70 seconds', p.passed_at - interval '30 seconds', "
                    "p.passed_at FROM gate_passes p WHERE p.passport_no LIKE 'ZHIST%'"
                ),
                {**params, "lanes": list(lanes)},
            )
        bench.log(f"adding {fresh:,} approved passes for the measured decisions")
        run = db.scalar(text("SELECT count(*) FROM vehicles WHERE plate LIKE '渝Z%'"))
        db.execute(
            text(
                "INSERT INTO vehicles (plate, ic_no, vehicle_class, tare_kg, enterprise_id, created_at, updated_at) "
                "SELECT '渝Z' || lpad((:run + i)::text, 6, '0'), 'BIC' || lpad((:run + i)::text, 9, '0'), "
                "'general', 8000, :enterprise_id, now(), now() FROM generate_series(1, :fresh) i"
            ),
            {**params, "run": run},
        )
        db.execute(
            text(
                "INSERT INTO gate_passes (passport_no, passport_type, bind_type, direction, status, vehicle_id, "
                "plate, vehicle_kg, goods_gross_kg, goods_net_kg, total_kg, enterprise_id, declared_by_id, "
                "declared_at, approved_at, updated_at) "
                "SELECT 'ZBENCH' || lpad(v.id::text, 12, '0'), 'second_line', 'one_vehicle_many_lists', 'out', "
                "'approved', v.id, v.plate, 8000, 2000, 1900, 10000, :enterprise_id, :declarant_id, now(), now(), "
                "now() FROM vehicles v WHERE v.plate LIKE '渝Z%' "
                "AND NOT EXISTS (SELECT 1 FROM gate_passes p WHERE p.vehicle_id = v.id)"
            ),
            params,
        )
        db.execute(
            text(
                "INSERT INTO gate_pass_declarations (pass_id, declaration_id) "
                "SELECT p.id, :declaration_id FROM gate_passes p WHERE p.status = 'approved' "
                "AND p.passport_no LIKE 'ZBENCH%' ON CONFLICT DO NOTHING"
            ),
            params,
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as db:
        db.execute(text("ANALYZE"))
    engine.dispose()


def fresh_plates(url: str, count: int) -> list[str]:
    engine = create_engine(url)
    with engine.connect() as db:
        plates = db.scalars(
            text(
                "SELECT p.plate FROM gate_passes p WHERE p.status = 'approved' AND p.passport_no LIKE 'ZBENCH%' "
                "ORDER BY p.id LIMIT :count"
            ),
            {"count": count},
        ).all()
        gate_id = db.scalar(text("SELECT id FROM gates WHERE code = 'XY-KK01'"))
    engine.dispose()
    if len(plates) < count:
        raise bench.BenchError(f"only {len(plates)} approved bench passes for {count} decisions")
    return [json.dumps({"gate_id": gate_id, "direction": "out", "plate": plate}) for plate in plates]


class Client:
    """One keep-alive connection per client thread, to one server."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.local = threading.local()
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def post(self, path: str, body: str) -> tuple[int, dict, float]:
        connection = getattr(self.local, "connection", None)
        if connection is None:
            connection = self.local.connection = http.client.HTTPConnection(bench.HOST, self.port, timeout=10)
        started = time.perf_counter()
        try:
            connection.request("POST", path, body=body, headers=self.headers)
            response = connection.getresponse()
            payload = response.read()
        except (OSError, http.client.HTTPException):
            self.local.connection = None
            raise
        elapsed = time.perf_counter() - started
        return response.status, json.loads(payload) if payload else {}, elapsed


# One decision: (arrival seconds, weight seconds, error or None).
Step = Callable[[Client, str], tuple[float, float, str | None]]


def gate_decision(client: Client, body: str) -> tuple[float, float, str | None]:
    """The real thing: arrival, then the weighbridge reading that must clear the vehicle."""
    status, arrival, arrival_s = client.post("/api/v1/gate/arrivals", body)
    if status != 201:
        return arrival_s, 0.0, f"arrival HTTP {status}: {arrival.get('code')}"
    status, passage, weight_s = client.post(f"/api/v1/gate/passages/{arrival['id']}/weight", WEIGHT_BODY)
    if status != 200 or passage.get("status") != "auto_cleared":
        return arrival_s, weight_s, f"weight HTTP {status}: {passage.get('status') or passage.get('code')}"
    return arrival_s, weight_s, None


def baseline_decision(client: Client, body: str) -> tuple[float, float, str | None]:
    """The same two requests, bytes and connections against the bare Flask app (scripts/bench_baseline.py)."""
    status, _, arrival_s = client.post("/api/v1/gate/arrivals", body)
    if status != 200:
        return arrival_s, 0.0, f"baseline HTTP {status}"
    status, _, weight_s = client.post("/api/v1/gate/passages/1/weight", WEIGHT_BODY)
    return arrival_s, weight_s, None if status == 200 else f"baseline HTTP {status}"


def percentiles(values: list[float]) -> dict[str, float | None]:
    ordered = sorted(values)

    def at(fraction: float) -> float | None:
        if not ordered:
            return None
        return round(ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000, 2)

    return {"p50_ms": at(0.5), "p95_ms": at(0.95), "p99_ms": at(0.99), "max_ms": at(1.0)}


def load_average() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


def drive(client: Client, step: Step, bodies: list[str], *, rate: float, warmup: float, threads: int) -> dict:
    """Open loop: decision i is due at start + i/rate whatever the server did with the others."""
    start = time.perf_counter() + 0.5
    results: list[tuple[float, float, float, float, str | None]] = []
    lock = threading.Lock()

    def decide(index: int) -> None:
        due = start + index / rate
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        try:
            arrival_s, weight_s, error = step(client, bodies[index])
        except (OSError, http.client.HTTPException, ValueError) as exc:
            arrival_s = weight_s = 0.0
            error = f"{type(exc).__name__}: {exc}"
        # From the due time, not the send time: a late send is the server's queue showing.
        with lock:
            results.append((due - start, time.perf_counter() - due, arrival_s, weight_s, error))

    load_before = load_average()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(decide, range(len(bodies))))
    measured = [result for result in results if result[0] >= warmup]
    errors = [result[4] for result in measured if result[4]]
    span = max(result[0] for result in measured) - min(result[0] for result in measured) if measured else 0
    return {
        "decisions": len(measured),
        "errors": len(errors),
        "first_errors": errors[:5],
        "achieved_rate": round(len(measured) / span, 2) if span else None,
        "load_average": {"before": load_before, "after": load_average()},
        "decision": percentiles([result[1] for result in measured if not result[4]]),
        "arrival": percentiles([result[2] for result in measured if not result[4]]),
        "weight": percentiles([result[3] for result in measured if not result[4]]),
    }


def ratios(app: dict, base: dict) -> dict[str, float | None]:
    def div(key: str) -> float | None:
        a, b = app["decision"][key], base["decision"][key]
        return round(a / b, 2) if a is not None and b else None

    return {"p50": div("p50_ms"), "p99": div("p99_ms")}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=50.0, help="decisions per second (default 50)")
    parser.add_argument("--duration", type=float, default=60.0, help="measured seconds (default 60)")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds discarded first (default 5)")
    parser.add_argument("--past", type=int, default=1_000_000, help="past passages in the database")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (WEB_CONCURRENCY)")
    parser.add_argument("--gunicorn-threads", type=int, default=8, help="threads per gthread worker")
    parser.add_argument(
        "--worker-class",
        choices=("gevent", "gthread"),
        help="GUNICORN_WORKER_CLASS for app and baseline (default: gunicorn.conf.py's, gevent)",
    )
    parser.add_argument("--client-threads", type=int, default=32)
    parser.add_argument("--no-baseline", action="store_true", help="skip the bare-Flask baseline run")
    parser.add_argument("--max-p99-ms", type=float, help="exit 3 when the decision p99 is above this")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    return parser.parse_args(argv)


def run(args: argparse.Namespace, children: bench.Children, workdir: Path) -> dict:
    env = bench.build_env(argparse.Namespace(workers=args.workers, gunicorn_threads=args.gunicorn_threads), workdir)
    if args.worker_class:
        env["GUNICORN_WORKER_CLASS"] = args.worker_class
    # A rerun on the same database keeps the demo users seeded by the first run.
    env["DEMO_PASSWORD"] = os.environ.get("DEMO_PASSWORD", "bench-gate-local-only")
    url = env["DATABASE_URL"]
    if bench.db_kind(url) != "postgresql":
        raise bench.BenchError("set DATABASE_URL to a PostgreSQL database (the target is stated for it)")
    app_port, base_port = bench.free_ports(2)
    settings = bench.effective_gunicorn_settings(bench.DEFAULT_GUNICORN_CONFIG, dict(env, PORT=str(app_port)))
    ensure_database(url)
    bench.run_flask_cli(env, "db", "upgrade")
    bench.run_flask_cli(env, "seed-demo")
    count = int((args.duration + args.warmup) * args.rate)
    load_history(url, past=args.past, fresh=count)
    bodies = fresh_plates(url, count)
    report: dict = {
        "rate": args.rate,
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "past_passages": args.past,
        "workers": settings["workers"],
        "worker_class": settings["worker_class"],
        "gunicorn_threads": settings["threads"] if settings["worker_class"] == "gthread" else None,
        "client_threads": args.client_threads,
        "cpus": os.cpu_count(),
    }
    server = bench.start_server(
        children, "app", bench.APP_TARGET, app_port, env, bench.DEFAULT_GUNICORN_CONFIG, workdir
    )
    try:
        token = bench.login(server, "gate", env["DEMO_PASSWORD"], args.duration + args.warmup + 30)
        bench.log(f"app: {count} decisions at {args.rate}/s ({args.warmup:g}s warm-up discarded)")
        client = Client(app_port, token)
        report["app"] = drive(
            client, gate_decision, bodies, rate=args.rate, warmup=args.warmup, threads=args.client_threads
        )
    finally:
        children.stop(server.proc)
    if args.no_baseline:
        return report
    # The baseline answers with as many bytes as a passage, under the same gunicorn config.
    pythonpath = os.pathsep.join(filter(None, [str(SCRIPTS), env.get("PYTHONPATH")]))
    base_env = dict(env, PYTHONPATH=pythonpath, BENCH_BASELINE_BYTES=str(PASSAGE_BYTES))
    server = bench.start_server(
        children, "baseline", bench.BASELINE_TARGET, base_port, base_env, bench.DEFAULT_GUNICORN_CONFIG, workdir
    )
    try:
        bench.log(f"baseline: {count} decisions at {args.rate}/s")
        report["baseline"] = drive(
            Client(base_port, token),
            baseline_decision,
            bodies,
            rate=args.rate,
            warmup=args.warmup,
            threads=args.client_threads,
        )
    finally:
        children.stop(server.proc)
    report["ratios"] = ratios(report["app"], report["baseline"])
    return report


def format_report(report: dict) -> str:
    lines = [
        f"{report['worker_class']} x{report['workers']}"
        + (f" ({report['gunicorn_threads']} threads)" if report["gunicorn_threads"] else "")
        + f", {report['past_passages']:,} past passages, {report['rate']:g} decisions/s for {report['duration_s']:g}s"
        + f" after {report['warmup_s']:g}s warm-up, {report['cpus']} CPUs"
    ]
    for phase in ("app", "baseline"):
        if phase not in report:
            continue
        result = report[phase]
        load = result["load_average"]
        lines.append(
            f"{phase}: {result['decisions']} decisions at {result['achieved_rate']}/s, {result['errors']} errors; "
            f"load average {load['before']} -> {load['after']}"
        )
        for name in ("decision", "arrival", "weight"):
            lines.append(f"  {name:>8}: " + "  ".join(f"{key} {value}" for key, value in result[name].items()))
        lines.extend(f"  error: {error}" for error in result["first_errors"])
    if "ratios" in report:
        lines.append(f"app/baseline decision: p50 x{report['ratios']['p50']}  p99 x{report['ratios']['p99']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    children = bench.Children()
    with tempfile.TemporaryDirectory(prefix="bench-gate-") as workdir:
        try:
            report = run(args, children, Path(workdir))
        except bench.BenchError as exc:
            bench.log(f"error: {exc}")
            return 1
        finally:
            children.stop_all()
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    if report["app"]["errors"] or report.get("baseline", {}).get("errors"):
        return 1
    if args.max_p99_ms is not None and (report["app"]["decision"]["p99_ms"] or 0) > args.max_p99_ms:
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
