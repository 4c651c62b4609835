"""HTTP benchmark of the Smart Park backend against a bare-Flask baseline.

Runs the real application under gunicorn with the production
``gunicorn.conf.py``, loads one endpoint with ``wrk``, then serves
``scripts/bench_baseline.py`` (a bare Flask app answering a JSON body of the
same size) with the same gunicorn config and the same wrk settings. The ratio
between the two says how much the framework stack, auth and database cost on
top of "gunicorn + Flask", which stays meaningful across machines where raw
requests/s does not.

Steps, all on 127.0.0.1 and in a fresh temp dir that is removed at the end:

1. ``flask --app wsgi db upgrade`` and ``flask --app wsgi seed-demo`` with
   ``DATABASE_URL`` (a SQLite file in the temp dir unless the caller sets it),
   a random ``JWT_SECRET`` and a ``DEMO_PASSWORD`` (random unless set).
2. ``gunicorn -c gunicorn.conf.py wsgi:app`` on a free port, wait for
   ``GET /healthz``, log in once (login is rate limited), check the endpoint
   answers 2xx, run a discarded warm-up, then the measured wrk run.
3. The same for the baseline on another free port.
4. Print requests/s, p50 and p99 for both, and the app/baseline ratios.

Requires ``wrk`` on PATH (Debian package ``wrk``). Only the standard library is
used, so run it with the project's venv Python from the repository root::

    .venv/bin/python scripts/bench.py --path /api/v1/me --duration 10 \\
        --connections 16 --threads 2 --workers 2 --gunicorn-threads 8

Other examples::

    # anonymous endpoint, machine-readable output
    .venv/bin/python scripts/bench.py --anonymous --path /healthz --json
    # POST with a JSON body, as another demo user (path and user are examples)
    .venv/bin/python scripts/bench.py --method POST --path /api/v1/<resource> \\
        --body-file body.json --user <demo-user>
    # CI smoke test of the harness: fail if the app is below 5% of baseline
    .venv/bin/python scripts/bench.py --duration 3 --warmup 1 --min-ratio 0.05

Exit status: 0 success, 1 the benchmark could not run or was invalid (server
did not start, login failed, endpoint not 2xx, too many non-2xx or socket
errors under load), 2 bad usage, 3 ``--min-ratio`` not met, 130 interrupted.

Both servers share the machine with wrk, so absolute numbers depend on the
cores available; compare ratios, and settings, not raw requests/s.

Limits: wrk only counts answers >= 400 as errors, so a 3xx is caught by the
single requests made before and after each run, not counted under load.
``--duration`` and ``--warmup`` are whole seconds (wrk's resolution).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SCRIPTS = REPO / "scripts"
LUA_SCRIPT = SCRIPTS / "bench.lua"
DEFAULT_GUNICORN_CONFIG = REPO / "gunicorn.conf.py"
APP_TARGET = "wsgi:app"
BASELINE_TARGET = "bench_baseline:app"
RESULT_MARKER = "@@BENCH_RESULT@@"
HOST = "127.0.0.1"

READY_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
FLASK_CLI_TIMEOUT = 180.0


class BenchError(Exception):
    """A failure that makes the benchmark meaningless; reported, exit 1."""


def log(message: str) -> None:
    # Progress goes to stderr so --json output on stdout stays parseable.
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# Child processes
# --------------------------------------------------------------------------


class Children:
    """Tracks every child started, each in its own session/process group.

    Own groups keep a terminal's Ctrl-C from reaching the children directly,
    so shutdown order stays under our control, and let us kill gunicorn's
    workers with their master even if the master dies first.
    """

    def __init__(self) -> None:
        self._procs: list[subprocess.Popen] = []

    def popen(self, cmd: list[str], **kwargs) -> subprocess.Popen:
        proc = subprocess.Popen(cmd, start_new_session=True, **kwargs)
        self._procs.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen, timeout: float = STOP_TIMEOUT) -> None:
        pgid = proc.pid  # start_new_session makes the child its group leader
        if proc.poll() is None:
            _killpg(pgid, signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _killpg(pgid, signal.SIGKILL)
                proc.wait(timeout=timeout)
        # Workers can outlive a master that crashed or was killed.
        if _group_alive(pgid):
            _killpg(pgid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while _group_alive(pgid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if _group_alive(pgid):
                _killpg(pgid, signal.SIGKILL)
        if proc in self._procs:
            self._procs.remove(proc)

    def stop_all(self) -> None:
        for proc in list(reversed(self._procs)):
            try:
                self.stop(proc)
            except (OSError, subprocess.SubprocessError) as exc:
                # Keep going: the other children must die too.
                log(f"could not stop pid {proc.pid}: {exc}")


def _killpg(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _raise_on_signal(signum: int, _frame) -> None:
    # Turns SIGTERM/SIGHUP into an exception so the finally blocks clean up.
    log(f"got {signal.Signals(signum).name}, cleaning up")
    raise SystemExit(128 + signum)


@contextlib.contextmanager
def signals_ignored() -> Iterator[None]:
    # A second Ctrl-C must not abort cleanup halfway and leak servers.
    sigs = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {s: signal.signal(s, signal.SIG_IGN) for s in sigs}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


# --------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------


def free_ports(count: int) -> list[int]:
    # All sockets are held open together so the kernel hands out distinct ports.
    socks = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((HOST, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def db_kind(url: str) -> str:
    scheme = url.split("://", 1)[0] if "://" in url else url.split(":", 1)[0]
    return scheme.split("+", 1)[0] or "unknown"


def tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty log)"


def http_request(
    method: str,
    url: str,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    timeout: float = 5.0,
) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    # A proxy from the environment must never see these requests.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except (OSError, http.client.HTTPException) as exc:
        raise BenchError(f"{method} {url}: {exc}") from exc


def snippet(data: bytes, limit: int = 300) -> str:
    text = data.decode("utf-8", errors="replace").strip()
    return text if len(text) <= limit else text[:limit] + "..."


# --------------------------------------------------------------------------
# Application preparation and serving
# --------------------------------------------------------------------------


def run_flask_cli(env: dict[str, str], *cli_args: str) -> None:
    cmd = [sys.executable, "-m", "flask", "--app", "wsgi", *cli_args]
    log("$ flask --app wsgi " + " ".join(cli_args))
    try:
        proc = subprocess.run(
            cmd,
            check=False,
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=FLASK_CLI_TIMEOUT,
            start_new_session=True,
        )
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"'flask {' '.join(cli_args)}' timed out") from exc
    if proc.returncode != 0:
        output = (proc.stdout + proc.stderr).strip()
        raise BenchError(f"'flask --app wsgi {' '.join(cli_args)}' failed (exit {proc.returncode}):\n{output[-3000:]}")


def run_prepare(command: str, env: dict[str, str]) -> None:
    """The caller's data set-up (e.g. 100,000 declarations), run after migrate and seed."""
    log(f"$ {command}")
    # The command is the operator's own, like a Makefile line: a shell is what they expect.
    proc = subprocess.run(
        command, shell=True, cwd=REPO, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise BenchError(f"--prepare failed (exit {proc.returncode}):\n{(proc.stdout + proc.stderr)[-3000:]}")
    if proc.stdout.strip():
        log(proc.stdout.strip()[-2000:])


def use_bodies_file(request: RequestSpec, path: Path, content_type: str) -> None:
    if not path.is_file():
        raise BenchError(f"bodies file not found: {path}")
    with path.open("rb") as bodies:
        first = bodies.readline().rstrip(b"\n")
        count = 1 + sum(1 for line in bodies if line.strip())
    if not first:
        raise BenchError(f"bodies file is empty: {path}")
    request.bodies_file, request.bodies_count = path, count
    # The probe sends the first body; wrk starts after it.
    request.body, request.bodies_used = first, 1
    request.headers["Content-Type"] = content_type


def effective_gunicorn_settings(config: Path, env: dict[str, str]) -> dict:
    """Evaluates the gunicorn config file with the run's env, as gunicorn will.

    Reporting what the config computes (not what we asked for) keeps the
    printed settings honest when the config ignores or clamps an env var.
    Done in a child process so the config's side effects stay out of ours.
    """
    code = (
        "import json, runpy, sys\n"
        "g = runpy.run_path(sys.argv[1])\n"
        "keys = ('workers', 'threads', 'worker_class', 'bind')\n"
        "print(json.dumps({k: g.get(k) for k in keys}, default=str))\n"
    )
    try:
        proc = subprocess.run(
            [sys.executable, "-c", code, str(config)],
            check=False,
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=30,
        )
        values = json.loads(proc.stdout.strip().splitlines()[-1])
    except (subprocess.SubprocessError, ValueError, IndexError):
        values = {}
    # gunicorn's own defaults when the config does not set a value.
    workers = values.get("workers") or env.get("WEB_CONCURRENCY") or 1
    threads = values.get("threads") or 1
    worker_class = values.get("worker_class") or "sync"
    if worker_class == "sync" and int(threads) > 1:
        worker_class = "gthread"  # gunicorn switches by itself
    return {
        "workers": int(workers),
        "threads": int(threads),
        "worker_class": str(worker_class),
        "bind": values.get("bind"),
    }


@dataclass
class Server:
    name: str
    proc: subprocess.Popen
    port: int
    log_path: Path

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"


def start_server(
    children: Children,
    name: str,
    target: str,
    port: int,
    env: dict[str, str],
    config: Path,
    workdir: Path,
) -> Server:
    log_path = workdir / f"{name}-gunicorn.log"
    env = dict(env, PORT=str(port))
    # Only -c and the app target: workers/threads come from the config via
    # WEB_CONCURRENCY/GUNICORN_THREADS, exactly as in production.
    cmd = [sys.executable, "-m", "gunicorn", "-c", str(config), target]
    log(f"starting {name}: gunicorn -c {config.name} {target} on port {port}")
    with open(log_path, "wb") as log_file:
        proc = children.popen(
            cmd,
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    server = Server(name, proc, port, log_path)
    wait_ready(server)
    return server


def wait_ready(server: Server, timeout: float = READY_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise BenchError(
                f"{server.name} gunicorn exited with {server.proc.returncode} "
                f"before becoming ready; log:\n{tail(server.log_path)}"
            )
        try:
            status, _ = http_request("GET", server.base_url + "/healthz", timeout=1.0)
            if status == 200:
                return
            last = f"HTTP {status}"
        except BenchError as exc:
            last = str(exc)
        time.sleep(0.1)
    raise BenchError(
        f"{server.name} not ready after {timeout:.0f}s (GET /healthz: {last}); log:\n{tail(server.log_path)}"
    )


def login(server: Server, user: str, password: str, needed_s: float) -> str:
    body = json.dumps({"username": user, "password": password}).encode()
    status, data = http_request(
        "POST",
        server.base_url + "/api/v1/auth/login",
        headers={"Content-Type": "application/json"},
        body=body,
    )
    if status != 200:
        raise BenchError(f"login as {user!r} failed: HTTP {status} {snippet(data)}")
    try:
        payload = json.loads(data)
        token = payload["access_token"]
    except (ValueError, KeyError, TypeError) as exc:
        raise BenchError(f"login answer has no access_token: {snippet(data)}") from exc
    expires_in = payload.get("expires_in")
    # A token expiring mid-run would turn the tail of the run into 401s.
    if isinstance(expires_in, (int, float)) and expires_in < needed_s:
        raise BenchError(
            f"access token lasts {expires_in}s but the run needs about {needed_s:.0f}s; shorten --duration/--warmup"
        )
    return token


def probe(server: Server, request: RequestSpec, what: str = "before load") -> tuple[int, bytes]:
    """One request exactly like wrk's; a benchmark of errors is worthless."""
    status, data = http_request(
        request.method,
        server.base_url + request.path,
        headers=request.headers,
        body=request.body,
    )
    if not 200 <= status < 300:
        raise BenchError(
            f"{server.name}: {request.method} {request.path} answered HTTP "
            f"{status} {what}, expected 2xx: {snippet(data)}"
        )
    return status, data


# --------------------------------------------------------------------------
# wrk
# --------------------------------------------------------------------------


@dataclass
class RequestSpec:
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    body_file: Path | None = None
    # One body per line, sent in turn: for writes that must not repeat (a receipt twice is a no-op).
    bodies_file: Path | None = None
    bodies_count: int = 0
    bodies_used: int = 0


@dataclass
class WrkResult:
    duration_s: float
    requests: int
    bytes: int
    errors: dict[str, int]
    latency_us: dict
    raw: str = ""

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s > 0 else 0.0

    def percentile_ms(self, p: str) -> float:
        return self.latency_us["percentiles"][p] / 1000.0

    @property
    def http_errors(self) -> int:
        # wrk counts status >= 400 only ("Non-2xx or 3xx responses"); a 3xx
        # answer is caught by the probes before and after the run instead.
        return self.errors.get("status", 0)

    @property
    def socket_errors(self) -> int:
        keys = ("connect", "read", "write", "timeout")
        return sum(self.errors.get(k, 0) for k in keys)

    def as_dict(self) -> dict:
        return {
            "requests_per_s": round(self.rps, 2),
            "p50_ms": round(self.percentile_ms("50"), 3),
            "p90_ms": round(self.percentile_ms("90"), 3),
            "p99_ms": round(self.percentile_ms("99"), 3),
            "mean_ms": _ms(self.latency_us.get("mean")),
            "max_ms": _ms(self.latency_us.get("max")),
            "requests": self.requests,
            "duration_s": round(self.duration_s, 3),
            "bytes": self.bytes,
            "non_2xx_3xx": self.http_errors,
            "errors": self.errors,
        }


def _ms(us: float | None) -> float | None:
    return None if us is None else round(us / 1000.0, 3)


def parse_wrk_output(output: str) -> WrkResult:
    for line in reversed(output.splitlines()):
        if line.startswith(RESULT_MARKER):
            try:
                data = json.loads(line[len(RESULT_MARKER) :])
            except ValueError as exc:
                raise BenchError(f"unparseable wrk result line: {line!r}") from exc
            return WrkResult(
                duration_s=data["duration_us"] / 1e6,
                requests=int(data["requests"]),
                bytes=int(data["bytes"]),
                errors={k: int(v) for k, v in data["errors"].items()},
                latency_us=data["latency_us"],
                raw=output,
            )
    raise BenchError(f"wrk printed no result line; output:\n{output[-3000:]}")


def wrk_command(args: argparse.Namespace, url: str, duration: float) -> list[str]:
    return [
        args.wrk,
        "--threads",
        str(args.threads),
        "--connections",
        str(args.connections),
        "--duration",
        f"{max(1, round(duration))}s",
        "--timeout",
        f"{args.request_timeout}s",
        "--script",
        str(LUA_SCRIPT),
        url,
    ]


def run_wrk(
    children: Children,
    args: argparse.Namespace,
    server: Server,
    request: RequestSpec,
    duration: float,
) -> WrkResult:
    env = dict(os.environ)
    env["BENCH_METHOD"] = request.method
    env["BENCH_BODY_FILE"] = str(request.body_file or "")
    env["BENCH_BODIES_FILE"] = str(request.bodies_file or "")
    env["BENCH_BODY_START"] = str(request.bodies_used)
    env["BENCH_WRK_THREADS"] = str(args.threads)
    env["BENCH_HEADERS"] = "\n".join(f"{k}: {v}" for k, v in request.headers.items())
    cmd = wrk_command(args, server.base_url + request.path, duration)
    proc = children.popen(
        cmd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        output, _ = proc.communicate(timeout=duration + args.request_timeout + 30)
    except subprocess.TimeoutExpired as exc:
        raise BenchError("wrk did not finish in time") from exc
    finally:
        children.stop(proc)
    if proc.returncode != 0:
        raise BenchError(f"wrk failed (exit {proc.returncode}):\n{output[-3000:]}")
    result = parse_wrk_output(output)
    if request.bodies_file is not None:
        request.bodies_used += result.requests
        if request.bodies_used > request.bodies_count:
            log(
                f"{server.name}: {request.bodies_used} requests but only {request.bodies_count} bodies; "
                "later requests repeated earlier bodies (prepare more for a clean measurement)"
            )
    return result


def check_errors(name: str, result: WrkResult, max_share: float) -> None:
    if result.requests == 0:
        raise BenchError(f"{name}: wrk completed no requests; errors {result.errors}")
    bad = result.http_errors + result.socket_errors
    share = bad / (result.requests + result.errors.get("connect", 0))
    if share > max_share:
        sock = {k: v for k, v in result.errors.items() if k != "status"}
        raise BenchError(
            f"{name}: {share:.1%} of requests failed under load "
            f"(HTTP >= 400: {result.http_errors}, socket errors: {sock}); "
            f"allowed {max_share:.1%}. Numbers of a failing endpoint are not "
            f"a benchmark (rate limiting? expired token? overload?)"
        )


def measure(
    children: Children,
    args: argparse.Namespace,
    server: Server,
    request: RequestSpec,
) -> WrkResult:
    if args.warmup > 0:
        log(f"{server.name}: warm-up {args.warmup:g}s (discarded)")
        run_wrk(children, args, server, request, args.warmup)
    log(f"{server.name}: wrk {args.duration:g}s, {args.connections} connections, {args.threads} threads")
    result = run_wrk(children, args, server, request, args.duration)
    if args.verbose:
        print(result.raw.split(RESULT_MARKER, 1)[0].rstrip(), file=sys.stderr)
    check_errors(server.name, result, args.max_error_share)
    # The run may end with the server still answering but wrongly (e.g. token
    # expired); one more look catches it cheaply.
    probe(server, request, what="after load")
    return result


# --------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------


def ratios(app: WrkResult, base: WrkResult) -> dict[str, float | None]:
    def div(a: float, b: float) -> float | None:
        return round(a / b, 4) if b else None

    return {
        "rps": div(app.rps, base.rps),
        "p50": div(app.percentile_ms("50"), base.percentile_ms("50")),
        "p99": div(app.percentile_ms("99"), base.percentile_ms("99")),
    }


def format_table(report: dict) -> str:
    s = report["settings"]
    app, base, r = report["app"], report["baseline"], report["ratios"]
    who = "anonymous" if s["user"] is None else f"as {s['user']}"

    def fmt_ratio(v: float | None) -> str:
        return "n/a" if v is None else f"{v:.3f}x"

    lines = [
        f"{s['method']} {s['path']} ({who})",
        (
            f"gunicorn: workers={s['workers']} threads={s['gunicorn_threads']} "
            f"worker_class={s['worker_class']} config={s['gunicorn_config']}"
        ),
        (
            f"wrk: threads={s['wrk_threads']} connections={s['connections']} "
            f"duration={s['duration_s']:g}s warmup={s['warmup_s']:g}s "
            f"timeout={s['request_timeout_s']:g}s"
        ),
        (
            f"database: {s['database']}; response body: app "
            f"{s['app_body_bytes']} B, baseline {s['baseline_body_bytes']} B; "
            f"cpus: {s['cpus']}"
        ),
        "",
        (f"{'':<10} {'req/s':>11} {'p50 ms':>9} {'p99 ms':>9} {'HTTP>=400':>9} {'sock err':>8} {'requests':>9}"),
    ]
    for name, row in (("app", app), ("baseline", base)):
        sock = sum(v for k, v in row["errors"].items() if k != "status")
        lines.append(
            f"{name:<10} {row['requests_per_s']:>11.1f} {row['p50_ms']:>9.2f} "
            f"{row['p99_ms']:>9.2f} {row['non_2xx_3xx']:>9} {sock:>8} "
            f"{row['requests']:>9}"
        )
    lines.append(f"{'app/base':<10} {fmt_ratio(r['rps']):>11} {fmt_ratio(r['p50']):>9} {fmt_ratio(r['p99']):>9}")
    if len(report["rounds"]) > 1:
        lines.append(
            "req/s ratio by round (app then baseline, alternating; the median round is shown above): "
            + ", ".join(fmt_ratio(round_["rps"]) for round_ in report["rounds"])
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------
# Main flow
# --------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark one endpoint of the app against a bare-Flask "
        "baseline under the same gunicorn and wrk settings.",
        epilog="Example: .venv/bin/python scripts/bench.py --path /api/v1/me --duration 10 --connections 16",
    )
    parser.add_argument("--path", default="/api/v1/me", help="endpoint path")
    parser.add_argument("--method", default="GET", type=str.upper)
    parser.add_argument("--body-file", type=Path, help="JSON file sent as the request body")
    parser.add_argument(
        "--bodies-file",
        help="file with one body per line, sent in turn ({workdir} is the run's temp dir, where --prepare may write)",
    )
    parser.add_argument("--content-type", default="application/json", help="Content-Type of the bodies")
    parser.add_argument(
        "--prepare",
        help="shell command run after migrate and seed, with the run's DATABASE_URL and BENCH_WORKDIR",
    )
    who = parser.add_mutually_exclusive_group()
    who.add_argument("--user", default="declarant", help="demo user to log in as")
    who.add_argument("--anonymous", action="store_true", help="send no Authorization header")
    parser.add_argument("--duration", type=int, default=10, help="seconds")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of discarded load first")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="measure app and baseline alternately this many times; report the round with the median ratio",
    )
    parser.add_argument("--workers", type=int, help="gunicorn workers (sets WEB_CONCURRENCY)")
    parser.add_argument(
        "--gunicorn-threads",
        type=int,
        help="gunicorn threads per worker (sets GUNICORN_THREADS)",
    )
    parser.add_argument("--request-timeout", type=int, default=5, help="wrk socket timeout, seconds")
    parser.add_argument(
        "--max-error-share",
        type=float,
        default=0.01,
        help="fail if more than this share of responses are errors (default 0.01)",
    )
    parser.add_argument(
        "--min-ratio",
        type=float,
        help="exit 3 if app req/s divided by baseline req/s is below this",
    )
    parser.add_argument(
        "--no-prepare",
        action="store_true",
        help="skip 'db upgrade' and 'seed-demo' (caller's DATABASE_URL is ready; DEMO_PASSWORD must then be set)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON only")
    parser.add_argument("--verbose", action="store_true", help="also show wrk's own report")
    parser.add_argument(
        "--gunicorn-config",
        type=Path,
        default=DEFAULT_GUNICORN_CONFIG,
        help=argparse.SUPPRESS,  # tests: a config outside the repo
    )
    parser.add_argument("--wrk", default="wrk", help=argparse.SUPPRESS)
    # Test hook: serve the baseline in place of the app, with no DB or login,
    # so the harness itself can be exercised without the application.
    parser.add_argument("--self-test", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.duration < 1:
        parser.error("--duration must be at least 1 second")
    if args.warmup < 0:
        parser.error("--warmup must not be negative")
    if args.threads < 1 or args.connections < args.threads:
        parser.error("need --threads >= 1 and --connections >= --threads")
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    for opt in ("workers", "gunicorn_threads"):
        value = getattr(args, opt)
        if value is not None and value < 1:
            parser.error(f"--{opt.replace('_', '-')} must be at least 1")
    if not args.path.startswith("/"):
        parser.error("--path must start with '/'")
    if args.body_file is not None:
        try:
            json.loads(args.body_file.read_bytes())
        except (OSError, ValueError) as exc:
            parser.error(f"--body-file: {exc}")
        args.body_file = args.body_file.resolve()
    if shutil.which(args.wrk) is None:
        parser.error(f"'{args.wrk}' not found on PATH (apt-get install wrk)")
    args.gunicorn_config = args.gunicorn_config.resolve()
    if not args.gunicorn_config.is_file():
        parser.error(f"gunicorn config not found: {args.gunicorn_config}")
    if not args.self_test and not (REPO / "wsgi.py").is_file():
        parser.error(f"{REPO / 'wsgi.py'} not found: the application is missing")
    if args.no_prepare and not os.environ.get("DEMO_PASSWORD") and not args.anonymous:
        parser.error("--no-prepare needs DEMO_PASSWORD in the environment")
    if args.self_test:
        args.anonymous = True
    return args


def build_env(args: argparse.Namespace, workdir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("DATABASE_URL", f"sqlite:///{workdir / 'bench.db'}")
    env["JWT_SECRET"] = secrets.token_urlsafe(48)
    env.setdefault("DEMO_PASSWORD", "bench-" + secrets.token_urlsafe(18))
    if args.workers is not None:
        env["WEB_CONCURRENCY"] = str(args.workers)
    if args.gunicorn_threads is not None:
        env["GUNICORN_THREADS"] = str(args.gunicorn_threads)
    # gunicorn >= 25 opens a control socket at a fixed per-user path and
    # unlinks whatever is there; a per-run dir keeps concurrent gunicorns
    # (two phases, other runs, a dev server) from stealing each other's.
    env["XDG_RUNTIME_DIR"] = str(workdir)
    # gunicorn.conf.py lets BIND override 127.0.0.1:$PORT; a BIND left in the
    # caller's shell would send the load somewhere else entirely.
    env.pop("BIND", None)
    return env


def run(args: argparse.Namespace, children: Children, workdir: Path) -> dict:
    caller_db = "DATABASE_URL" in os.environ
    env = build_env(args, workdir)
    app_port, base_port = free_ports(2)
    settings = effective_gunicorn_settings(args.gunicorn_config, dict(env, PORT=str(app_port)))
    if args.self_test:
        database = "none (self-test)"
    else:
        origin = "from DATABASE_URL" if caller_db else "temp file"
        database = f"{db_kind(env['DATABASE_URL'])} ({origin})"

    request = RequestSpec(method=args.method, path=args.path)
    if args.body_file is not None:
        request.body = args.body_file.read_bytes()
        request.body_file = args.body_file
        request.headers["Content-Type"] = args.content_type

    pythonpath = os.pathsep.join(filter(None, [str(SCRIPTS), env.get("PYTHONPATH")]))
    baseline_env = dict(env, PYTHONPATH=pythonpath)
    if args.self_test:
        app_target, app_env = BASELINE_TARGET, baseline_env
    else:
        app_target, app_env = APP_TARGET, env
        if not args.no_prepare:
            run_flask_cli(env, "db", "upgrade")
            run_flask_cli(env, "seed-demo")
        if args.prepare:
            run_prepare(args.prepare, dict(env, BENCH_WORKDIR=str(workdir)))
    if args.bodies_file:
        use_bodies_file(request, Path(args.bodies_file.format(workdir=workdir)), args.content_type)

    app = start_server(children, "app", app_target, app_port, app_env, args.gunicorn_config, workdir)
    if not args.anonymous:
        needed = args.rounds * 2 * (args.warmup + args.duration) + 60
        token = login(app, args.user, env["DEMO_PASSWORD"], needed)
        request.headers["Authorization"] = f"Bearer {token}"
    _, app_body = probe(app, request)
    # Same size of JSON body as the app's answer, so bytes on the wire match.
    baseline_env["BENCH_BASELINE_BYTES"] = str(max(len(app_body), 2))
    base = start_server(
        children,
        "baseline",
        BASELINE_TARGET,
        base_port,
        baseline_env,
        args.gunicorn_config,
        workdir,
    )
    # The baseline gets the same headers (token included) so request
    # parsing costs the same; it simply ignores them.
    _, base_body = probe(base, request)
    rounds = []
    for number in range(1, args.rounds + 1):
        if args.rounds > 1:
            log(f"round {number} of {args.rounds}")
        start = request.bodies_used
        app_result = measure(children, args, app, request)
        # The baseline gets the bodies the app got this round: same bytes, same order.
        app_next, request.bodies_used = request.bodies_used, start
        base_result = measure(children, args, base, request)
        request.bodies_used = app_next
        rounds.append((app_result, base_result))
    children.stop(app.proc)
    children.stop(base.proc)
    # The machine's speed drifts between rounds; the round with the median req/s ratio stands for the run.
    by_ratio = sorted(rounds, key=lambda pair: ratios(*pair)["rps"] or 0.0)
    app_result, base_result = by_ratio[(len(by_ratio) - 1) // 2]

    return {
        "settings": {
            "method": args.method,
            "path": args.path,
            "user": None if args.anonymous else args.user,
            "workers": settings["workers"],
            "gunicorn_threads": settings["threads"],
            "worker_class": settings["worker_class"],
            "gunicorn_config": str(args.gunicorn_config),
            "wrk_threads": args.threads,
            "connections": args.connections,
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "request_timeout_s": args.request_timeout,
            "database": database,
            "app_body_bytes": len(app_body),
            "baseline_body_bytes": len(base_body),
            "cpus": os.cpu_count(),
        },
        "app": app_result.as_dict(),
        "baseline": base_result.as_dict(),
        "ratios": ratios(app_result, base_result),
        "rounds": [ratios(*pair) for pair in rounds],
    }


def run_cleanly(
    run: Callable[[argparse.Namespace, Children, Path], dict[str, Any]], args: argparse.Namespace, *, prefix: str
) -> dict[str, Any] | int:
    """The report of `run`, or the exit status when it failed; its child processes and work folder end with it."""
    children = Children()
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        return run(args, children, workdir)
    except BenchError as exc:
        log(f"FAILED: {exc}")
        return 1
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    finally:
        with signals_ignored():
            children.stop_all()
            shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _raise_on_signal)
    report = run_cleanly(run, args, prefix="smartpark-bench-")
    if isinstance(report, int):
        return report

    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(format_table(report))
    rps_ratio = report["ratios"]["rps"]
    if args.min_ratio is not None and (rps_ratio is None or rps_ratio < args.min_ratio):
        log(f"req/s ratio {rps_ratio} is below --min-ratio {args.min_ratio}")
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
