"""Instructions per request, counted by valgrind's callgrind: a figure this machine's drifting speed cannot move.

On the development VM the app/baseline ratio of ``bench.py`` scatters by a tenth from one round to the next, so a
change worth 5% cannot be seen there. Callgrind counts the instructions a request executes: the same for the same
code, data and environment, whatever else the machine is doing.

For the app and for the bare-Flask baseline (``scripts/bench_baseline.py``), one GET is sent in-process (WSGI, no
server, no sockets) ``--requests`` times, and in another process three times as often, each process under callgrind.
The difference divided by the extra requests is one request's cost: start-up, imports and warm-up cancel. Counted
lookups are written when the count ends, 500 to a batch, so the scan writer's work is included. The worker's own
part (gunicorn, HTTP parsing, the socket) is not: ``bench.py`` measures the whole.

    TRACE_RATE_LIMIT='10000000 per minute' .venv/bin/python scripts/bench_instructions.py --anonymous \\
        --path /api/v1/trace/codes/BENCH2345678ABCD \\
        --prepare '.venv/bin/python scripts/bench_data.py trace-codes --count 10000'

With ``--mix FILE`` it counts a request sequence instead (``bench_sequence.py``'s file, as ``bench_data.py lookup``
writes it), each request by itself, per kind and for the whole mix: ``scripts/bench_instructions_mix.py`` says how.

Needs valgrind (``apt-get install valgrind``); a run takes a few minutes, most of it importing under valgrind.
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

SCRIPTS = Path(__file__).resolve().parent
sys.path.insert(0, str(SCRIPTS))

import bench  # noqa: E402  (the HTTP harness: database set-up, flask CLI, logging)
import bench_instructions_mix as mix  # noqa: E402

if TYPE_CHECKING:
    from app.trace.scans import ScanRecorder

TOTALS = re.compile(r"^(?:summary|totals):\s+(\d+)", re.MULTILINE)
WARMUP_REQUESTS = 50
# What the mix's answers depend on, reported beside its figures.
MIX_SETTINGS = ("TRUSTED_PROXY_COUNT", "TRACE_RATE_LIMIT", "TRACE_UNKNOWN_RATE_LIMIT")


def _load(target: str):
    """The app (with its scan recorder) or the baseline, imported in this process."""
    if target == "app":
        sys.path.insert(0, str(bench.REPO))
        from wsgi import app

        return app, _scans_written_in_full_batches(app)
    from bench_baseline import app

    return app, None


def drive(target: str, path: str, count: int, user: str | None) -> None:
    """Send GET `path` `count` times to the app (or the baseline) in this process, after a warm-up."""
    app, recorder = _load(target)
    headers = {}
    if user is not None:
        status, body = _call(
            app,
            "POST",
            "/api/v1/auth/login",
            {},
            json.dumps({"username": user, "password": os.environ["DEMO_PASSWORD"]}).encode(),
        )
        if status != 200:
            raise SystemExit(f"login as {user} answered {status}: {body[:300]!r}")
        token = json.loads(body).get("access_token")
        if token is None:
            raise SystemExit(f"login as {user} gave no token: {body[:300]!r}")
        headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    for _ in range(WARMUP_REQUESTS):
        _expect_ok(app, path, headers)
    # As the workers do after start-up (gunicorn.conf.py): the collector then walks only what requests allocate.
    gc.collect()
    gc.freeze()
    for _ in range(count):
        _expect_ok(app, path, headers)
    if recorder is not None:
        recorder.flush()


def _scans_written_in_full_batches(app) -> ScanRecorder:
    """Counted lookups are written when the count ends, 500 to a batch, as under steady load.

    The writer's thread otherwise wakes after 0.2 s of the clock, and under valgrind a request takes fifty times
    as long: how many batches (each with its fixed cost) fall to a request would depend on the machine's speed.
    """
    from app.rules.catalog import values_of
    from app.trace.scans import ScanRecorder
    from app.trace.verdicts import clone_rules

    defaults = values_of(app.extensions["settings"], {})
    recorder = app.extensions["trace_scan_recorder"] = ScanRecorder(
        app.extensions["sessionmaker"], rules=clone_rules(defaults), linger=24 * 3600
    )
    return recorder


def _expect_ok(app, path: str, headers: dict[str, str]) -> None:
    status, body = _call(app, "GET", path, headers, b"")
    if status != 200:
        raise SystemExit(f"GET {path} answered {status}: {body[:300]!r}")


def _call(app, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
    return _call_as_sent(
        app, method, path, {"HTTP_ACCEPT": "application/json", "CONTENT_TYPE": "application/json", **headers}, body
    )


def _call_as_sent(app, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
    """One request through the WSGI app, with no header but `headers` (environ keys) and the Host."""
    path, _, query = path.partition("?")
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": bench.HOST,
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": bench.HOST,
        "HTTP_HOST": f"{bench.HOST}:8000",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        **headers,
    }
    answer: list[int] = []

    def start_response(status: str, _headers: list, _exc_info=None) -> None:
        answer.append(int(status.split()[0]))

    chunks = app(environ, start_response)
    try:
        data = b"".join(chunks)
    finally:
        getattr(chunks, "close", lambda: None)()
    return answer[0], data


def callgrind_totals(text: str) -> int:
    """The instruction count a callgrind output file ends with."""
    found = TOTALS.search(text)
    if found is None:
        raise bench.BenchError("no totals in the callgrind output")
    return int(found.group(1))


def count_instructions(target: str, args: argparse.Namespace, env: dict[str, str], workdir: Path, requests: int) -> int:
    out = workdir / f"callgrind.{target}.{requests}.out"
    command = [
        "valgrind",
        "--tool=callgrind",
        f"--callgrind-out-file={out}",
        sys.executable,
        __file__,
        "--drive",
        target,
        "--path",
        args.path,
        "--requests",
        str(requests),
    ]
    if args.anonymous:
        command.append("--anonymous")
    else:
        command += ["--user", args.user]
    bench.log(f"{target}: {requests} requests under callgrind")
    done = subprocess.run(command, cwd=bench.REPO, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise bench.BenchError(f"{target} under callgrind failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return callgrind_totals(out.read_text())


def per_request(target: str, args: argparse.Namespace, env: dict[str, str], workdir: Path) -> int:
    few, many = args.requests, 3 * args.requests
    return round(
        (count_instructions(target, args, env, workdir, many) - count_instructions(target, args, env, workdir, few))
        / (many - few)
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--path", default="/api/v1/me", help="the GET to count")
    parser.add_argument("--user", default="declarant", help="demo user to sign in as")
    parser.add_argument("--anonymous", action="store_true", help="send no Authorization header")
    parser.add_argument("--requests", type=int, default=200, help="requests in the smaller count (default 200)")
    parser.add_argument("--prepare", help="shell command run after migrate and seed (as bench.py's)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--mix",
        help="a request-mix file (JSON lines: kind, method, path, headers; $BENCH_WORKDIR expands after --prepare): "
        "count each request by itself instead of one GET",
    )
    parser.add_argument("--warmup", type=int, default=300, help="mix requests replayed before counting (default 300)")
    parser.add_argument("--measure", type=int, default=1000, help="mix requests counted (default 1000)")
    parser.add_argument("--drive", choices=("app", "baseline"), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.drive and args.mix:
        app, recorder = _load(args.drive)
        requests = mix.load_mix(Path(args.mix), args.warmup + args.measure)
        mix.drive(app, _call_as_sent, requests, warmup=args.warmup, recorder=recorder)
        return 0
    if args.drive:
        # The baseline answers every path alike: nobody to sign in as.
        signed_in = args.drive == "app" and not args.anonymous
        drive(args.drive, args.path, args.requests, args.user if signed_in else None)
        return 0
    if shutil.which("valgrind") is None:
        bench.log("error: valgrind is not installed (apt-get install valgrind)")
        return 1
    with tempfile.TemporaryDirectory(prefix="bench-instructions-") as tmp:
        workdir = Path(tmp)
        env = bench.build_env(argparse.Namespace(workers=None, gunicorn_threads=None), workdir)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SCRIPTS), env.get("PYTHONPATH")]))
        # The same string hashes in every process, so dicts and sets do the same work from run to run.
        env["PYTHONHASHSEED"] = "0"
        try:
            bench.run_flask_cli(env, "db", "upgrade")
            bench.run_flask_cli(env, "seed-demo")
            if args.prepare:
                bench.run_prepare(args.prepare, dict(env, BENCH_WORKDIR=str(workdir)))
            if args.mix:
                # The mix's clients arrive through one proxy (X-Forwarded-For), as behind the shipped nginx.
                env.setdefault("TRUSTED_PROXY_COUNT", "1")
                return _report_mix(args, env, workdir)
            report = {
                "path": args.path,
                "app": per_request("app", args, env, workdir),
                "baseline": per_request("baseline", args, env, workdir),
            }
        except bench.BenchError as exc:
            bench.log(f"error: {exc}")
            return 1
    report["app/baseline"] = round(report["app"] / report["baseline"], 2)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(
            f"GET {report['path']}: app {report['app']:,} instructions a request, "
            f"baseline {report['baseline']:,}, app/baseline {report['app/baseline']}x"
        )
    return 0


def _report_mix(args: argparse.Namespace, env: dict[str, str], workdir: Path) -> int:
    args.mix = Path(os.path.expandvars(args.mix.replace("$BENCH_WORKDIR", str(workdir))))
    if not args.mix.is_file():
        raise bench.BenchError(f"no mix file {args.mix}")
    report = mix.summarize(mix.count_mix("app", args, env, workdir), mix.count_mix("baseline", args, env, workdir))
    report["settings"] = {name: env.get(name, "default") for name in MIX_SETTINGS}
    report["settings"]["database"] = env["DATABASE_URL"].split(":", 1)[0]
    print(json.dumps(report, indent=2) if args.json else mix.render(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
