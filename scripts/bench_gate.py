"""Gate decision benchmark: arrival plus weighbridge decision at a fixed rate, with a large history.

Issue 6's target: p99 under 20 ms for arrival + weight decision at 50 decisions per second on
loopback, with 1,000,000 past passages in PostgreSQL.

Steps, in a fresh temp dir removed at the end:

1. ``flask db upgrade`` and ``flask seed-demo`` against ``DATABASE_URL`` (PostgreSQL required).
2. Bulk history straight into the database with ``generate_series``: ``--past`` passages
   (default 1,000,000), each on a passed gate pass of one of 20,000 vehicles, spread over a year;
   then one approved pass per measured decision, each for its own vehicle, covering the demo's
   released list DEMO-0004 (so every decision also writes its timeline event and notice). ANALYZE.
3. ``gunicorn -c gunicorn.conf.py wsgi:app``; log in as the demo gate operator.
4. Open loop: decision *i* is due at ``start + i / rate``; a pool of client threads (keep-alive
   connections) sends ``POST /api/v1/gate/arrivals`` then ``POST /gate/passages/{id}/weight``.
   Latency counts from the due time, so a slow server cannot hide queueing (no coordinated
   omission). The first ``--warmup`` seconds are discarded.
5. Print p50/p95/p99/max of the decision and of each request, the achieved rate, and errors.

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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

SCRIPTS = Path(__file__).resolve().parent
sys.path.insert(0, str(SCRIPTS))

import bench  # noqa: E402  (the HTTP harness: child processes, gunicorn, login)

PAST_VEHICLES = 20_000


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
    """One keep-alive connection per client thread."""

    local = threading.local()

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def post(self, path: str, body: str) -> tuple[int, dict, float]:
        connection = getattr(self.local, "connection", None)
        if connection is None:
            connection = self.local.connection = http.client.HTTPConnection(bench.HOST, self.port, timeout=10)
        started = time.perf_counter()
        connection.request("POST", path, body=body, headers=self.headers)
        response = connection.getresponse()
        payload = response.read()
        elapsed = time.perf_counter() - started
        return response.status, json.loads(payload) if payload else {}, elapsed


def percentiles(values: list[float]) -> dict[str, float | None]:
    ordered = sorted(values)

    def at(fraction: float) -> float | None:
        if not ordered:
            return None
        return round(ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000, 2)

    return {"p50_ms": at(0.5), "p95_ms": at(0.95), "p99_ms": at(0.99), "max_ms": at(1.0)}


def drive(client: Client, bodies: list[str], *, rate: float, warmup: float, threads: int) -> dict:
    start = time.perf_counter() + 0.5
    results: list[tuple[float, float, float, float, str | None]] = []
    lock = threading.Lock()

    def decide(index: int) -> None:
        due = start + index / rate
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        error = None
        arrival_s = weight_s = 0.0
        try:
            status, arrival, arrival_s = client.post("/api/v1/gate/arrivals", bodies[index])
            if status != 201:
                error = f"arrival HTTP {status}: {arrival.get('code')}"
            else:
                status, passage, weight_s = client.post(
                    f"/api/v1/gate/passages/{arrival['id']}/weight", '{"weighbridge_kg": "10080"}'
                )
                if status != 200 or passage.get("status") != "auto_cleared":
                    error = f"weight HTTP {status}: {passage.get('status') or passage.get('code')}"
        except (OSError, http.client.HTTPException, ValueError) as exc:
            error = f"{type(exc).__name__}: {exc}"
            client.local.connection = None
        with lock:
            results.append((due - start, time.perf_counter() - due, arrival_s, weight_s, error))

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
        "decision": percentiles([result[1] for result in measured if not result[4]]),
        "arrival": percentiles([result[2] for result in measured if not result[4]]),
        "weight": percentiles([result[3] for result in measured if not result[4]]),
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=50.0, help="decisions per second (default 50)")
    parser.add_argument("--duration", type=float, default=60.0, help="measured seconds (default 60)")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds discarded first (default 5)")
    parser.add_argument("--past", type=int, default=1_000_000, help="past passages in the database")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (WEB_CONCURRENCY)")
    parser.add_argument("--gunicorn-threads", type=int, default=8)
    parser.add_argument("--client-threads", type=int, default=32)
    parser.add_argument("--max-p99-ms", type=float, help="exit 3 when the decision p99 is above this")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    children = bench.Children()
    with tempfile.TemporaryDirectory(prefix="bench-gate-") as workdir:
        try:
            env = bench.build_env(
                argparse.Namespace(workers=args.workers, gunicorn_threads=args.gunicorn_threads), Path(workdir)
            )
            # A rerun on the same database keeps the demo users seeded by the first run.
            env["DEMO_PASSWORD"] = os.environ.get("DEMO_PASSWORD", "bench-gate-local-only")
            url = env["DATABASE_URL"]
            if bench.db_kind(url) != "postgresql":
                raise bench.BenchError("set DATABASE_URL to a PostgreSQL database (the target is stated for it)")
            ensure_database(url)
            bench.run_flask_cli(env, "db", "upgrade")
            bench.run_flask_cli(env, "seed-demo")
            count = int((args.duration + args.warmup) * args.rate)
            load_history(url, past=args.past, fresh=count)
            bodies = fresh_plates(url, count)
            (port,) = bench.free_ports(1)
            server = bench.start_server(
                children, "app", bench.APP_TARGET, port, env, bench.DEFAULT_GUNICORN_CONFIG, Path(workdir)
            )
            token = bench.login(server, "gate", env["DEMO_PASSWORD"], args.duration + args.warmup + 30)
            bench.log(f"driving {count} decisions at {args.rate}/s ({args.warmup:.0f}s warm-up discarded)")
            report = {
                "rate": args.rate,
                "past_passages": args.past,
                "workers": args.workers,
                "gunicorn_threads": args.gunicorn_threads,
                **drive(Client(port, token), bodies, rate=args.rate, warmup=args.warmup, threads=args.client_threads),
            }
        except bench.BenchError as exc:
            bench.log(f"error: {exc}")
            return 1
        finally:
            children.stop_all()
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"{report['decisions']} decisions at {report['achieved_rate']}/s, {report['errors']} errors")
        for name in ("decision", "arrival", "weight"):
            figures = report[name]
            print(f"{name:>9}: " + "  ".join(f"{key} {value}" for key, value in figures.items()))
        for error in report["first_errors"]:
            print(f"  error: {error}")
    if report["errors"]:
        return 1
    if args.max_p99_ms is not None and (report["decision"]["p99_ms"] or 0) > args.max_p99_ms:
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
