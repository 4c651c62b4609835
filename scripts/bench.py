"""HTTP benchmark of the Smart Park backend against a bare-Flask baseline.

Runs the real application under gunicorn with the production ``gunicorn.conf.py``, loads it with ``wrk``, and
serves ``scripts/bench_baseline.py`` (a bare Flask app answering a JSON body of the same size) with the same
gunicorn config and wrk settings. The ratio between the two says how much the framework stack, auth and database
cost on top of "gunicorn + Flask", which stays meaningful across machines where raw requests/s does not.

Steps, all on 127.0.0.1 and in a fresh temp dir that is removed at the end:

1. ``flask --app wsgi db upgrade`` and ``flask --app wsgi seed-demo`` with ``DATABASE_URL`` (a SQLite file in the
   temp dir unless the caller sets it), a random ``JWT_SECRET`` and a ``DEMO_PASSWORD`` (random unless set), then
   the caller's ``--prepare`` command (bulk data, a request sequence).
2. Both servers on free ports; log in once (login is rate limited); probe each before load.
3. ``--rounds`` rounds, the app and the baseline alternated in both orders (AB, BA, AB, ...) so drift does not
   always fall on one side; each measured run preceded by a discarded warm-up.
4. Every round printed (req/s of both, ratio, p95, p99, samples, answers by status), then the median ratio, its
   spread, the median p95/p99, and the machine's state (cores, load average before and after).

Requests: one endpoint (``--path``, ``--method``, ``--body-file``); a file of bodies sent in turn
(``--bodies-file``, for writes that must not repeat); or a request sequence (``--sequence-file``, written by
``bench_sequence.py``): one request per line with its own method, path, headers and expected status, seeded so a
rerun sends the same requests. The app never gets a line twice; the baseline gets the lines the app gets.

``--target lookup`` is the consumer trace lookup on its realistic workload (docs/benchmarks.md, row 1): 200,000
codes on 500 released declarations, the mixed sequence, ``TRUSTED_PROXY_COUNT=1`` and the production rate limits::

    .venv/bin/python scripts/bench.py --target lookup

Other examples::

    .venv/bin/python scripts/bench.py --path /api/v1/me --duration 10 --connections 16 --workers 2
    # anonymous endpoint, machine-readable output
    .venv/bin/python scripts/bench.py --anonymous --path /healthz --json
    # POST with a JSON body, as another demo user (path and user are examples)
    .venv/bin/python scripts/bench.py --method POST --path /api/v1/<resource> --body-file body.json --user <user>

Answers are judged per expected status: a sequence line's own (a mistyped serial's 404 and a link type's 307 are
answers), else 2xx; 429s count as unexpected and are reported apart. ``--gunicorn-threads`` is refused unless the
workers are gthread (``--worker-class gthread``): gevent ignores it.

Requires ``wrk`` on PATH (Debian package ``wrk``); only the standard library otherwise. Exit status: 0 success,
1 the benchmark could not run or was invalid (server did not start, login failed, a probe or too many answers not
as expected, socket errors), 2 bad usage, 3 ``--min-ratio`` not met by the median ratio, 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
from pathlib import Path

# Re-exported: the sibling harnesses (bench_stream.py, bench_gate.py, ...) use them as bench.X.
from bench_proc import (  # noqa: F401
    HOST,
    REPO,
    SCRIPTS,
    BenchError,
    Children,
    _raise_on_signal,
    db_kind,
    free_ports,
    http_request,
    log,
    run_cleanly,
    snippet,
    tail,
)
from bench_report import format_table, load_average, median_round, round_entry, summarize
from bench_servers import (
    APP_TARGET,
    BASELINE_TARGET,
    DEFAULT_GUNICORN_CONFIG,
    Server,
    build_env,
    effective_gunicorn_settings,
    login,
    refuse_idle_threads,
    run_flask_cli,
    run_prepare,
    start_server,
)
from bench_wrk import (
    MIN_SAMPLES,
    RESULT_MARKER,
    RequestSequence,
    RequestSpec,
    WrkResult,
    check_errors,
    probe,
    probe_sequence,
    run_wrk,
    use_bodies_file,
)

# Generic defaults, and the lookup target's (docs/benchmarks.md row 1). The lookup's sequence holds 300,000
# requests over 200,000 codes: first-time codes last for ~280,000 lines, enough for 6 rounds at ~3,500 req/s.
DEFAULTS = {"duration": 10, "connections": 16, "threads": 2, "warmup": 2, "rounds": 1}
LOOKUP = {"duration": 10, "connections": 8, "threads": 2, "warmup": 2, "rounds": 6, "workers": 2}
LOOKUP_CODES, LOOKUP_REQUESTS = 200_000, 300_000
PROBE_LINES = 20


def lookup_prepare(codes: int, requests: int) -> str:
    return (
        f"{sys.executable} scripts/bench_data.py lookup --codes {codes} --requests {requests}"
        ' --out "$BENCH_WORKDIR/lookup.seq"'
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark the app against a bare-Flask baseline under the same gunicorn and wrk settings.",
        epilog="Example: .venv/bin/python scripts/bench.py --target lookup",
    )
    parser.add_argument(
        "--target",
        choices=["lookup"],
        help="lookup: the consumer trace lookup on its realistic workload, production rate limits, "
        f"TRUSTED_PROXY_COUNT=1 (defaults {LOOKUP})",
    )
    parser.add_argument("--codes", type=int, default=LOOKUP_CODES, help="--target lookup: trace codes to load")
    parser.add_argument("--requests", type=int, default=LOOKUP_REQUESTS, help="--target lookup: sequence length")
    parser.add_argument("--path", default="/api/v1/me", help="endpoint path")
    parser.add_argument("--method", default="GET", type=str.upper)
    parser.add_argument("--body-file", type=Path, help="JSON file sent as the request body")
    parser.add_argument(
        "--bodies-file",
        help="file with one body per line, sent in turn ({workdir} is the run's temp dir, where --prepare may write)",
    )
    parser.add_argument(
        "--sequence-file",
        help="request sequence (bench_sequence.py) to send instead of one request ({workdir} as for --bodies-file)",
    )
    parser.add_argument("--content-type", default="application/json", help="Content-Type of the bodies")
    parser.add_argument(
        "--prepare",
        help="shell command run after migrate and seed, with the run's DATABASE_URL and BENCH_WORKDIR",
    )
    who = parser.add_mutually_exclusive_group()
    who.add_argument("--user", default="declarant", help="demo user to log in as")
    who.add_argument("--anonymous", action="store_true", help="send no Authorization header")
    parser.add_argument("--duration", type=int, help=f"seconds per measured run ({DEFAULTS['duration']})")
    parser.add_argument("--connections", type=int, help=f"wrk connections ({DEFAULTS['connections']})")
    parser.add_argument("--threads", type=int, help=f"wrk threads ({DEFAULTS['threads']})")
    parser.add_argument("--warmup", type=int, help=f"seconds of discarded load before each run ({DEFAULTS['warmup']})")
    parser.add_argument(
        "--rounds", type=int, help="rounds of app and baseline, alternated AB, BA, ...; all reported (1)"
    )
    parser.add_argument("--workers", type=int, help="gunicorn workers (sets WEB_CONCURRENCY)")
    parser.add_argument("--worker-class", help="gunicorn worker class (sets GUNICORN_WORKER_CLASS; default gevent)")
    parser.add_argument(
        "--gunicorn-threads", type=int, help="threads per gthread worker (sets GUNICORN_THREADS); gthread only"
    )
    parser.add_argument("--request-timeout", type=int, default=5, help="wrk socket timeout, seconds")
    parser.add_argument(
        "--max-error-share",
        type=float,
        default=0.01,
        help="fail if more than this share of answers are not as expected or sockets fail (default 0.01)",
    )
    parser.add_argument("--min-ratio", type=float, help="exit 3 if the median req/s ratio is below this")
    parser.add_argument(
        "--no-prepare",
        action="store_true",
        help="skip 'db upgrade' and 'seed-demo' (caller's DATABASE_URL is ready; DEMO_PASSWORD must then be set)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON only")
    parser.add_argument("--verbose", action="store_true", help="also show wrk's own report")
    parser.add_argument("--gunicorn-config", type=Path, default=DEFAULT_GUNICORN_CONFIG, help=argparse.SUPPRESS)
    parser.add_argument("--wrk", default="wrk", help=argparse.SUPPRESS)
    # Test hook: serve the baseline in place of the app, with no DB or login.
    parser.add_argument("--self-test", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    args.server_env = {}
    defaults = DEFAULTS
    if args.target == "lookup":
        lifted = [name for name in ("TRACE_RATE_LIMIT", "TRACE_UNKNOWN_RATE_LIMIT") if name in os.environ]
        if lifted:
            parser.error(f"--target lookup runs with the production rate limits: unset {', '.join(lifted)}")
        defaults = LOOKUP
        args.anonymous, args.path = True, "/"
        args.prepare = args.prepare or lookup_prepare(args.codes, args.requests)
        args.sequence_file = args.sequence_file or "{workdir}/lookup.seq"
        # As behind the shipped nginx (deploy/nginx.conf): the client address comes from X-Forwarded-For.
        args.server_env["TRUSTED_PROXY_COUNT"] = "1"
    for name, value in defaults.items():
        if getattr(args, name, None) is None:
            setattr(args, name, value)

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
    if args.bodies_file and args.sequence_file:
        parser.error("--bodies-file and --sequence-file exclude each other")
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
    if args.gunicorn_threads is not None:
        env = build_env(args, Path(os.environ.get("TMPDIR", "/tmp")))
        refusal = refuse_idle_threads(effective_gunicorn_settings(args.gunicorn_config, env))
        if refusal:
            parser.error(refusal)
    if not args.self_test and not (REPO / "wsgi.py").is_file():
        parser.error(f"{REPO / 'wsgi.py'} not found: the application is missing")
    if args.no_prepare and not os.environ.get("DEMO_PASSWORD") and not args.anonymous:
        parser.error("--no-prepare needs DEMO_PASSWORD in the environment")
    if args.self_test:
        args.anonymous = True
    return args


def measure(
    children: Children,
    args: argparse.Namespace,
    server: Server,
    request: RequestSpec,
    *,
    warm_start: int,
    start: int | None,
    workdir: Path,
    rates: dict[str, float],
) -> tuple[WrkResult | None, WrkResult]:
    """A discarded warm-up from line `warm_start`, then the measured run from `start` (None: where it ended)."""
    warm = None

    def expected_rps() -> float:
        # Sizes the slice of the sequence written for the run; the fastest rate seen so far, at least 5,000/s.
        return max(rates.get(server.name, 0.0), 5000.0)

    if args.warmup > 0:
        log(f"{server.name}: warm-up {args.warmup:g}s (discarded)")
        warm = run_wrk(
            children, args, server, request, args.warmup, start=warm_start, workdir=workdir, expected_rps=expected_rps()
        )
        rates[server.name] = max(rates.get(server.name, 0.0), warm.rps)
        # The app measures after every line its warm-up sent, even when the baseline went first from an earlier
        # line: a line sent twice would be a repeated lookup (or a duplicate receipt), not a first one.
        if start is None or server.name == "app":
            start = max(start or 0, warm.lines[1])
    start = warm_start if start is None else start
    log(f"{server.name}: wrk {args.duration:g}s, {args.connections} connections, {args.threads} threads")
    result = run_wrk(
        children, args, server, request, args.duration, start=start, workdir=workdir, expected_rps=expected_rps()
    )
    rates[server.name] = max(rates.get(server.name, 0.0), result.rps)
    if args.verbose:
        print(result.raw.split(RESULT_MARKER, 1)[0].rstrip(), file=sys.stderr)
    check_errors(server.name, result, args.max_error_share)
    if result.requests < MIN_SAMPLES:
        log(f"{server.name}: only {result.requests} samples: its p99 rests on {result.requests // 100} requests")
    if result.wrapped:
        log(f"{server.name}: the run outgrew its slice of the sequence and sent {result.wrapped} lines again")
    # The run may end with the server still answering but wrongly (e.g. token expired); one look catches it.
    if request.sequence is None:
        probe(server, request, what="after load")
    return warm, result


def play_rounds(children, args, app: Server, base: Server, request: RequestSpec, workdir: Path) -> list[dict]:
    """Rounds AB, BA, AB, ...: both measured from the same line (unless the app's warm-up ran past it: then the app
    starts after it); the app never sends a line twice."""
    rounds, rates = [], {}
    for number in range(1, args.rounds + 1):
        order = [app, base] if number % 2 else [base, app]
        log(f"round {number} of {args.rounds}: {order[0].name} first")
        round_start, start, results = request.used, None, {}
        for server in order:
            warm, result = measure(
                children, args, server, request, warm_start=round_start, start=start, workdir=workdir, rates=rates
            )
            start = result.lines[0]
            results[server.name] = result
            if server is app:
                ends = [result.lines[1]] + ([warm.lines[1]] if warm else [])
                request.used = max([request.used, *ends])
                if request.bodies_file is not None and request.used > request.bodies_count:
                    log(
                        f"app: {request.used} bodies needed, {request.bodies_count} prepared; earlier ones were re-sent"
                    )
        rounds.append(round_entry(number, [s.name for s in order], results["app"], results["baseline"]))
    return rounds


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
    if args.sequence_file:
        request.sequence = RequestSequence(Path(args.sequence_file.format(workdir=workdir)))

    app = start_server(children, "app", app_target, app_port, app_env, args.gunicorn_config, workdir)
    if not args.anonymous:
        needed = args.rounds * 2 * (args.warmup + args.duration) + 60
        token = login(app, args.user, env["DEMO_PASSWORD"], needed)
        request.headers["Authorization"] = f"Bearer {token}"
    if request.sequence is not None:
        body_bytes = probe_sequence(app, request.sequence, start=0, count=PROBE_LINES, strict=not args.self_test)
        request.used = -(-PROBE_LINES // args.threads) * args.threads
    else:
        body_bytes = len(probe(app, request)[1])
    # Same size of JSON body as the app's answer (the mean over the probed lines), so bytes on the wire match.
    baseline_env["BENCH_BASELINE_BYTES"] = str(max(int(body_bytes), 2))
    base = start_server(children, "baseline", BASELINE_TARGET, base_port, baseline_env, args.gunicorn_config, workdir)
    # The baseline gets the same headers (token included) so request parsing costs the same; it ignores them.
    if request.sequence is not None:
        probe_sequence(base, request.sequence, start=0, count=PROBE_LINES, strict=False)
    else:
        probe(base, request)
    load_before = load_average()
    rounds = play_rounds(children, args, app, base, request, workdir)
    load_after = load_average()
    children.stop(app.proc)
    children.stop(base.proc)
    middle = median_round(rounds)
    return {
        "settings": {
            "target": args.target,
            "method": args.method,
            "path": args.path,
            "sequence": str(request.sequence.path.name) if request.sequence else None,
            "sequence_meta": request.sequence.meta if request.sequence else None,
            "user": None if args.anonymous else args.user,
            "workers": settings["workers"],
            "gunicorn_threads": settings["threads"],
            "worker_class": settings["worker_class"],
            "gunicorn_config": str(args.gunicorn_config),
            "server_env": args.server_env,
            "wrk_threads": args.threads,
            "connections": args.connections,
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "request_timeout_s": args.request_timeout,
            "database": database,
            "baseline_body_bytes": int(body_bytes),
        },
        "machine": {"cpus": os.cpu_count(), "load_before": load_before, "load_after": load_after},
        "rounds": rounds,
        "summary": summarize(rounds),
        # The round with the median ratio, as earlier reports printed alone; read it beside the spread.
        "app": middle["app"],
        "baseline": middle["baseline"],
        "ratios": middle["ratios"],
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _raise_on_signal)
    report = run_cleanly(run, args, prefix="smartpark-bench-")
    if isinstance(report, int):
        return report
    print(json.dumps(report, indent=2) if args.json else format_table(report))
    median = report["summary"]["ratio"]["median"]
    if args.min_ratio is not None and (median is None or median < args.min_ratio):
        log(f"median req/s ratio {median} is below --min-ratio {args.min_ratio}")
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
