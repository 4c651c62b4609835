"""What one X-ray line scan costs in-process (issue 19): statements, microseconds and instructions, pass and divert.

``scripts/bench_line.py`` measures the whole service under load, which on the shared 2-core VM moves with whatever
else runs. This measures the request alone, as ``scripts/bench_instructions.py`` does for a GET: the app in-process
(WSGI, no server, no sockets) on a scratch PostgreSQL database of its own, each scan a single
``POST /api/v1/export-line/scans`` with the line's API key (``X-API-Key``), each on a parcel not scanned before:

- pass: a clear image of a scanned-in parcel on a released list that no target names (the line's usual answer);
- divert: the same with the machine's ``suspect`` verdict, a new divert (timeline step, audit entry, notices).

Printed per path: SQL statements per scan (counted at the cursor, with each statement's first words once), and the
median of ``--rounds`` timed rounds of ``--requests`` scans in microseconds per scan (pass and divert rounds
alternated, after a warm-up). With ``--callgrind``, instructions per scan as bench_instructions.py counts them: the
same driver under valgrind with ``--requests`` and three times as many scans, the difference over the extra scans
(start-up, imports and warm-up cancel). The database server's own work is not in that count; the statements are.
The API key's last use is recorded once a minute of the clock, so a long callgrind run pays one more UPDATE now and
then (less than one statement in a few hundred scans).

    .venv/bin/python scripts/bench_line_cost.py
    .venv/bin/python scripts/bench_line_cost.py --callgrind --requests 100
    .venv/bin/python scripts/bench_line_cost.py --profile pass      # cProfile of the timed pass scans, top 40

Needs PostgreSQL (``--database-url``, a server: a database named with the run is created and dropped) and, for
``--callgrind``, valgrind. A run takes under a minute, with callgrind several.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import os
import pstats
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from sqlalchemy import text
from sqlalchemy.engine import make_url

SCRIPTS = Path(__file__).resolve().parent
sys.path[:0] = [str(SCRIPTS), str(SCRIPTS.parent)]

import bench  # noqa: E402
from bench_instructions import _call_as_sent, callgrind_totals  # noqa: E402
from bench_line_data import SCAN_PATH, Shares, load  # noqa: E402
from bench_scratch import app_in_process, base_env, scratch_database  # noqa: E402

DEFAULT_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
PATHS = ("pass", "divert")
WARMUP = 50
POOL = text(
    "SELECT p.waybill_no FROM export_parcels p JOIN declarations d ON d.id = p.declaration_id "
    "WHERE p.stage = 'scanned_in' AND d.status = 'released' AND NOT EXISTS (SELECT 1 FROM export_targets t "
    "WHERE t.active AND (t.declaration_id = p.declaration_id OR t.waybill_no = p.waybill_no)) "
    "ORDER BY p.id LIMIT :count"
)


def _scan_body(waybill_no: str, path: str) -> bytes:
    verdict = "suspect" if path == "divert" else "clear"
    scan = {
        "waybill_no": waybill_no,
        "line_id": "XR-01",
        "image_ref": f"xray/XR-01/{waybill_no}.jpg",
        "verdict": verdict,
    }
    return json.dumps(scan, separators=(",", ":")).encode()


class Driver:
    """The app in this process, the line's key, and fresh parcels to scan."""

    def __init__(self, count: int):
        from wsgi import app

        self.app = app
        self.headers = {
            "HTTP_ACCEPT": "application/json",
            "CONTENT_TYPE": "application/json",
            "HTTP_X_API_KEY": os.environ["BENCH_LINE_KEY"],
        }
        with app.extensions["engine"].connect() as connection:
            self.pool = list(connection.scalars(POOL, {"count": count}))
        if len(self.pool) < count:
            raise SystemExit(f"{len(self.pool)} fresh parcels left, {count} needed: load more (--parcels)")
        self.statements: list[str] = []
        self.counting = False

    def count_statements(self) -> None:
        """Count at the driver's cursor (while `counting`): statements SQLAlchemy runs and those app/infra/prepared.py
        runs on the driver's connection alike. Only for the timed run: callgrind counts the scans as they are."""
        execute = psycopg.Cursor.execute

        def counted(cursor, query, *args, **kwargs):
            if self.counting:
                self.statements.append(query if isinstance(query, str) else str(query))
            return execute(cursor, query, *args, **kwargs)

        psycopg.Cursor.execute = counted

    def scan(self, path: str) -> None:
        waybill_no = self.pool.pop()
        status, body = _call_as_sent(self.app, "POST", SCAN_PATH, self.headers, _scan_body(waybill_no, path))
        answer = json.loads(body) if status == 200 else None
        if answer is None or answer["decision"] != path:
            raise SystemExit(f"{path} scan of {waybill_no} answered {status}: {body[:300]!r}")

    def scans(self, path: str, count: int) -> None:
        for _ in range(count):
            self.scan(path)


def drive(path: str, count: int) -> None:
    """Under callgrind: a warm-up of each path, then `count` scans of `path`."""
    driver = Driver(2 * WARMUP + count)
    for warm in PATHS:
        driver.scans(warm, WARMUP)
    gc.collect()
    gc.freeze()  # as the workers do after start-up (gunicorn.conf.py)
    driver.scans(path, count)


def measure(count: int, rounds: int, profile: str | None) -> dict:
    """Statements and microseconds per scan of each path, rounds alternated."""
    driver = Driver(2 * WARMUP + 2 * count * rounds + 2)
    driver.count_statements()
    for warm in PATHS:
        driver.scans(warm, WARMUP)
    gc.collect()
    gc.freeze()
    report: dict = {}
    for path in PATHS:
        driver.statements.clear()
        driver.counting = True
        driver.scan(path)
        driver.counting = False
        report[path] = {"statements": len(driver.statements), "sql": [_first_words(s) for s in driver.statements]}
    timings: dict[str, list[float]] = {path: [] for path in PATHS}
    cpu: dict[str, list[float]] = {path: [] for path in PATHS}
    # CPU time, not the clock: on a shared machine the wait for the database is whatever else runs.
    profiler = cProfile.Profile(time.process_time) if profile else None
    for round_no in range(rounds):
        for path in PATHS if round_no % 2 == 0 else PATHS[::-1]:
            if profiler is not None and path == profile:
                profiler.enable()
            started, cpu_started = time.perf_counter(), time.process_time()
            driver.scans(path, count)
            timings[path].append((time.perf_counter() - started) / count * 1e6)
            cpu[path].append((time.process_time() - cpu_started) / count * 1e6)
            if profiler is not None:
                profiler.disable()
    for path in PATHS:
        report[path]["us_per_scan"] = round(statistics.median(timings[path]), 1)
        report[path]["rounds_us"] = [round(value, 1) for value in timings[path]]
        report[path]["cpu_us_per_scan"] = round(statistics.median(cpu[path]), 1)
    if profiler is not None:
        stats = pstats.Stats(profiler, stream=sys.stderr)
        stats.sort_stats("cumulative").print_stats(40)
        stats.sort_stats("tottime").print_stats(30)
    return report


def _first_words(statement: str) -> str:
    words = " ".join(statement.split())
    return words[:90] + ("..." if len(words) > 90 else "")


def count_instructions(path: str, count: int, env: dict[str, str], workdir: Path) -> int:
    out = workdir / f"callgrind.{path}.{count}.out"
    command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable, __file__]
    command += ["--drive", path, "--requests", str(count)]
    bench.log(f"{path}: {count} scans under callgrind")
    done = subprocess.run(command, cwd=bench.REPO, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise bench.BenchError(f"{path} under callgrind failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return callgrind_totals(out.read_text())


def run(args: argparse.Namespace, workdir: Path) -> dict:
    url = make_url(args.database_url)
    if not url.database:
        url = url.set(database=f"bench_line_cost_{time.strftime('%Y%m%d_%H%M%S')}_{secrets.token_hex(2)}")
    with scratch_database(url.render_as_string(hide_password=False), workdir) as database_url:
        env = base_env(database_url, workdir)
        env["PYTHONHASHSEED"] = "0"  # the same string hashes in every process: dicts and sets do the same work
        bench.run_flask_cli(env, "db", "upgrade")
        with app_in_process(env) as app:
            with app.extensions["sessionmaker"].begin() as session:
                loaded = load(
                    session, parcels=args.parcels, per_list=100, enterprises=20, declarants=2, shares=Shares(), seed=19
                )
            with app.extensions["engine"].connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.execute(text("ANALYZE"))
        env["BENCH_LINE_KEY"] = loaded.api_key
        command = [
            sys.executable,
            __file__,
            "--measure",
            "--requests",
            str(args.requests),
            "--rounds",
            str(args.rounds),
        ]
        if args.profile:
            command += ["--profile", args.profile]
        bench.log(f"timing {args.rounds} rounds of {args.requests} scans of each path")
        done = subprocess.run(command, cwd=bench.REPO, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise bench.BenchError(f"the timed run failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
        if args.profile:
            sys.stderr.write(done.stderr)
        report = json.loads(done.stdout)
        if args.callgrind:
            for path in args.callgrind_paths:
                few, many = args.requests, 3 * args.requests
                extra = count_instructions(path, many, env, workdir) - count_instructions(path, few, env, workdir)
                report[path]["instructions_per_scan"] = round(extra / (many - few))
    report["load_average"] = bench.load_average()
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=200, help="scans per timed round, and per callgrind count")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds of each path (5)")
    parser.add_argument("--parcels", type=int, default=20_000, help="parcels loaded (20,000)")
    parser.add_argument("--callgrind", action="store_true", help="count instructions per scan too (valgrind)")
    parser.add_argument(
        "--callgrind-paths", nargs="+", choices=PATHS, default=list(PATHS), help="the paths to count (both)"
    )
    parser.add_argument("--profile", choices=PATHS, help="print a cProfile of that path's timed scans")
    parser.add_argument("--database-url", default=DEFAULT_SERVER, help="PostgreSQL server (a scratch database)")
    parser.add_argument("--json", action="store_true", help="print the JSON report only")
    parser.add_argument("--drive", choices=PATHS, help=argparse.SUPPRESS)
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.drive:
        drive(args.drive, args.requests)
        return 0
    if args.measure:
        print(json.dumps(measure(args.requests, args.rounds, args.profile)))
        return 0
    if args.callgrind and shutil.which("valgrind") is None:
        parser.error("valgrind is not installed (apt-get install valgrind)")
    load_before = bench.load_average()
    with tempfile.TemporaryDirectory(prefix="bench-line-cost-") as tmp:
        try:
            report = run(args, Path(tmp))
        except bench.BenchError as exc:
            bench.log(f"error: {exc}")
            return 1
    report["load_average"] = {"before": load_before, "after": report["load_average"]}
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    for path in PATHS:
        figures = report[path]
        instructions = figures.get("instructions_per_scan")
        print(
            f"{path}: {figures['statements']} statements, {figures['us_per_scan']:,} µs a scan "
            f"(rounds {figures['rounds_us']}), {figures['cpu_us_per_scan']:,} µs of this process's CPU"
            + (f", {instructions:,} instructions a scan" if instructions else "")
        )
        for statement in figures["sql"]:
            print(f"    {statement}")
    print(f"load average {report['load_average']['before']} -> {report['load_average']['after']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
