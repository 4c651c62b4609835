"""Instructions per request of a whole gunicorn worker, app and baseline, counted by callgrind.

``bench_instructions.py`` counts a request in-process (WSGI, no server); ``bench.py`` measures the whole service
but on a clock this machine's load moves by a tenth. This counts what the live worker executes for a request: the
gevent loop, gunicorn's parsing and response writing, the access log, the hooks, the app, the scan writer's share.

The app (and then the bare-Flask baseline, with a body as large) runs under gunicorn with the production config and
one worker, the whole server under ``valgrind --tool=callgrind --instr-atstart=no``; ``bench_worker_hooks.py`` adds
request paths that switch callgrind on, zero and dump its counters in the worker. Uninstrumented warm-up, then
instrumented warm-up, then the counters are zeroed, ``--requests`` GETs are sent over ``--connections`` keep-alive
connections exactly as wrk sends them (request line and Host), and the counters are dumped; then an idle interval is
counted too, so what runs by the clock (heartbeat, samplers) can be told from what runs per request (under callgrind
a second holds about fifty times fewer requests than live). User-space instructions only: the kernel's share (the
socket calls, SQLite's locks) is not counted.

    TRACE_RATE_LIMIT='10000000 per minute' .venv/bin/python scripts/bench_worker_instructions.py \\
        --path /api/v1/trace/codes/BENCH2345678ABCD \\
        --prepare '.venv/bin/python scripts/bench_data.py trace-codes --count 10000'

Measured 2026-12-07 (5,000 requests, 8 connections): app 2,025,866 and 2,027,108 (two runs), baseline 1,255,122, so
0.62 where the in-process counts give 0.48; the access log is 281,257 of the app's (``noaccesslog``) and 258,118 of the
baseline's; in-memory metrics instead of the mmap files and the scan writer's own linger change under 0.3%. At
3e0fa3d (the end of the hardening issue): app 2,416,590, baseline 1,291,705 (0.53).

``--variant NAME:KEY=VALUE,...`` adds a run of the app (or of the baseline, when NAME starts with "baseline") with
extra environment variables, e.g. ``noaccesslog:BENCH_NO_ACCESS_LOG=1`` (see bench_worker_hooks.py). The callgrind
files stay in ``--keep DIR`` when given, for ``callgrind_annotate``.

Needs valgrind with its headers (``apt-get install valgrind``) and a C compiler; a run of 5,000 requests takes 3-5
minutes a target on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent
sys.path.insert(0, str(SCRIPTS))

import bench  # noqa: E402  (database set-up, flask CLI, logging)
from bench_servers import build_env  # noqa: E402

HOOKS = SCRIPTS / "bench_worker_hooks.py"
SUMMARY = re.compile(r"^summary:\s+(.*)$", re.MULTILINE)
EVENTS = re.compile(r"^events:\s+(.*)$", re.MULTILINE)
TRIGGER = re.compile(r"^desc: Trigger: Client Request: (\w+)$", re.MULTILINE)
START_TIMEOUT = 600.0
CALLGRIND_LIB = """
#include <valgrind/callgrind.h>
void start(void) { CALLGRIND_START_INSTRUMENTATION; }
void zero(void) { CALLGRIND_ZERO_STATS; }
void dump(const char *label) { CALLGRIND_DUMP_STATS_AT(label); }
"""


def build_callgrind_lib(workdir: Path) -> Path:
    source, lib = workdir / "callgrind_triggers.c", workdir / "libcallgrind_triggers.so"
    source.write_text(CALLGRIND_LIB)
    done = subprocess.run(
        ["cc", "-O1", "-shared", "-fPIC", "-o", str(lib), str(source)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise bench.BenchError(f"could not build the callgrind triggers (valgrind's headers?):\n{done.stderr}")
    return lib


def get(port: int, path: str, conn: socket.socket | None = None) -> tuple[int, bytes, socket.socket]:
    """One GET as wrk sends it (request line and Host), on `conn` if given; the answer's status and body."""
    if conn is None:
        conn = socket.create_connection((bench.HOST, port))
    conn.sendall(f"GET {path} HTTP/1.1\r\nHost: {bench.HOST}:{port}\r\n\r\n".encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            raise bench.BenchError("the server closed the connection")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    if length is None:
        raise bench.BenchError(f"an answer without Content-Length: {head[:300]!r}")
    while len(body) < int(length.group(1)):
        chunk = conn.recv(65536)
        if not chunk:
            raise bench.BenchError("the server closed the connection mid-body")
        body += chunk
    return int(head.split(b" ", 2)[1]), body, conn


def send(port: int, path: str, total: int, connections: int) -> float:
    """`total` GETs over `connections` keep-alive connections at once; seconds taken. Any answer but 200 fails."""
    failures: list[str] = []
    shares = [total // connections + (i < total % connections) for i in range(connections)]

    def client(count: int) -> None:
        conn = None
        try:
            for _ in range(count):
                status, body, conn = get(port, path, conn)
                if status != 200:
                    failures.append(f"{status} {body[:200]!r}")
                    return
        except (OSError, bench.BenchError) as error:
            failures.append(repr(error))
        finally:
            if conn is not None:
                conn.close()

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(share,)) for share in shares]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise bench.BenchError(f"{len(failures)} clients failed: {failures[:3]}")
    return time.monotonic() - started


def trigger(port: int, path: str) -> None:
    get(port, path)[2].close()


def wait_ready(proc: subprocess.Popen, port: int, path: str, log_path: Path) -> bytes:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            status, body, conn = get(port, path)
            conn.close()
        except (OSError, bench.BenchError):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise bench.BenchError(f"the server did not start; log:\n{bench.tail(log_path)}") from None
            time.sleep(1)
            continue
        if status != 200:
            raise bench.BenchError(f"GET {path} answered {status}: {body[:300]!r}")
        return body


def count(name: str, target: str, env: dict[str, str], args: argparse.Namespace, outdir: Path) -> dict:
    """One target under callgrind: instructions per request (and per idle second), from the worker's dumps."""
    port = bench.free_ports(1)[0]
    env = dict(env, PORT=str(port), WEB_CONCURRENCY="1")
    command = [
        "valgrind",
        "--tool=callgrind",
        "--instr-atstart=no",
        f"--callgrind-out-file={outdir / name}.callgrind.%p",
        *args.valgrind_arg,
        sys.executable,
        "-m",
        "gunicorn",
        "-c",
        str(HOOKS),
        target,
    ]
    log_path = outdir / f"{name}.log"
    bench.log(f"{name}: gunicorn {target} under callgrind, {args.requests} requests")
    with open(log_path, "wb") as log_file:
        proc = subprocess.Popen(
            command,
            cwd=bench.REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        body = wait_ready(proc, port, args.path, log_path)
        send(port, args.path, args.warmup, args.connections)
        trigger(port, "/__callgrind/start")
        send(port, args.path, args.warmup_counted, args.connections)
        trigger(port, "/__callgrind/zero")
        seconds = send(port, args.path, args.requests, args.connections)
        time.sleep(1)  # the last access-log lines and post_request hooks
        trigger(port, "/__callgrind/dump/requests")
        trigger(port, "/__callgrind/zero")
        time.sleep(args.idle)
        trigger(port, "/__callgrind/dump/idle")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(120)
    dumps = {}
    for path in outdir.glob(f"{name}.callgrind.*"):
        text = path.read_text(errors="replace")
        label = TRIGGER.search(text)
        if label:
            events = dict(
                zip(EVENTS.search(text).group(1).split(), map(int, SUMMARY.search(text).group(1).split()), strict=True)
            )
            dumps[label.group(1)] = (path, events)
    if set(dumps) != {"requests", "idle"}:
        raise bench.BenchError(
            f"{name}: the worker's dumps are missing ({sorted(dumps)}); log:\n{bench.tail(log_path)}"
        )
    path, events = dumps["requests"]
    idle_per_second = dumps["idle"][1]["Ir"] / args.idle
    counted_seconds = seconds + 1
    return {
        "per_request": round(events["Ir"] / args.requests),
        "per_request_less_idle": round((events["Ir"] - idle_per_second * counted_seconds) / args.requests),
        "idle_per_second": round(idle_per_second),
        "seconds": round(seconds, 1),
        "events_per_request": {event: round(value / args.requests) for event, value in events.items()},
        "body_bytes": len(body),
        "callgrind_file": str(path),
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--path", required=True, help="the anonymous GET to count")
    parser.add_argument("--prepare", help="shell command run after migrate and seed (as bench.py's)")
    parser.add_argument("--requests", type=int, default=5000, help="requests counted (default 5000)")
    parser.add_argument("--warmup", type=int, default=500, help="requests before instrumentation (default 500)")
    parser.add_argument("--warmup-counted", type=int, default=200, help="instrumented, not counted (default 200)")
    parser.add_argument("--connections", type=int, default=8, help="keep-alive connections (default 8)")
    parser.add_argument("--idle", type=float, default=10, help="idle seconds counted after the requests (default 10)")
    parser.add_argument("--targets", default="app,baseline", help="app, baseline or both (default)")
    parser.add_argument("--variant", action="append", default=[], help="NAME:KEY=VALUE,... an extra run")
    parser.add_argument("--valgrind-arg", action="append", default=[], help="e.g. --valgrind-arg=--cache-sim=yes")
    parser.add_argument("--keep", type=Path, help="directory for the callgrind files and the servers' logs")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    return parser.parse_args(argv)


def runs(args: argparse.Namespace) -> list[tuple[str, str, dict[str, str]]]:
    planned = [(target, target, {}) for target in args.targets.split(",")]
    for variant in args.variant:
        name, _, pairs = variant.partition(":")
        extra = dict(pair.split("=", 1) for pair in pairs.split(",") if pair)
        planned.append((name, "baseline" if name.startswith("baseline") else "app", extra))
    return planned


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("valgrind") is None:
        bench.log("error: valgrind is not installed (apt-get install valgrind)")
        return 1
    with tempfile.TemporaryDirectory(prefix="bench-worker-instructions-") as tmp:
        workdir = Path(tmp)
        outdir = args.keep or workdir
        outdir.mkdir(parents=True, exist_ok=True)
        env = build_env(argparse.Namespace(workers=1, gunicorn_threads=None, worker_class=None), workdir)
        # The same string hashes in every process, so dicts and sets do the same work from run to run.
        env["PYTHONHASHSEED"] = "0"
        env["BENCH_BASE_CONFIG"] = str(bench.REPO / "gunicorn.conf.py")
        report: dict[str, dict] = {}
        try:
            env["BENCH_CALLGRIND_LIB"] = str(build_callgrind_lib(workdir))
            bench.run_flask_cli(env, "db", "upgrade")
            bench.run_flask_cli(env, "seed-demo")
            if args.prepare:
                bench.run_prepare(args.prepare, dict(env, BENCH_WORKDIR=str(workdir)))
            body_bytes = None
            for name, kind, extra in runs(args):
                if kind == "app":
                    report[name] = count(name, "wsgi:app", dict(env, **extra), args, outdir)
                    body_bytes = report[name]["body_bytes"]
                else:
                    if body_bytes is None:  # the baseline's body as large as the app's answer
                        body_bytes = len(_probe_app_body(env, args, outdir))
                    pythonpath = os.pathsep.join(filter(None, [str(SCRIPTS), env.get("PYTHONPATH")]))
                    baseline_env = dict(env, PYTHONPATH=pythonpath, BENCH_BASELINE_BYTES=str(body_bytes), **extra)
                    report[name] = count(name, "bench_baseline:app", baseline_env, args, outdir)
                bench.log(f"{name}: {report[name]['per_request']:,} instructions a request")
        except bench.BenchError as exc:
            bench.log(f"error: {exc}")
            return 1
    print(json.dumps(report, indent=2) if args.json else render(report, args))
    return 0


def _probe_app_body(env: dict[str, str], args: argparse.Namespace, outdir: Path) -> bytes:
    """The app's answer, from a plain (uninstrumented) gunicorn, when no app run came first."""
    port = bench.free_ports(1)[0]
    log_path = outdir / "probe.log"
    with open(log_path, "wb") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(bench.REPO / "gunicorn.conf.py"), "wsgi:app"],
            cwd=bench.REPO,
            env=dict(env, PORT=str(port), WEB_CONCURRENCY="1"),
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        return wait_ready(proc, port, args.path, log_path)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(60)


def render(report: dict[str, dict], args: argparse.Namespace) -> str:
    lines = [f"GET {args.path}, {args.requests} requests over {args.connections} connections, one gevent worker:"]
    for name, figures in report.items():
        lines.append(
            f"  {name:<22} {figures['per_request']:>11,} instructions a request "
            f"({figures['per_request_less_idle']:,} less the idle rate of {figures['idle_per_second']:,}/s)"
        )
    if "app" in report and "baseline" in report:
        ratio = report["baseline"]["per_request"] / report["app"]["per_request"]
        lines.append(f"  baseline/app {ratio:.3f} (the req/s ratio these counts would give at equal speed)")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
