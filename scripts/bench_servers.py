"""The app and the baseline under gunicorn: database set-up, start, readiness, login and the effective settings."""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench_proc import HOST, REPO, BenchError, Children, http_request, log, snippet, tail

DEFAULT_GUNICORN_CONFIG = REPO / "gunicorn.conf.py"
APP_TARGET = "wsgi:app"
BASELINE_TARGET = "bench_baseline:app"
READY_TIMEOUT = 30.0
FLASK_CLI_TIMEOUT = 180.0


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

    @property
    def host_header(self) -> str:
        return f"{HOST}:{self.port}"


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


def build_env(args: argparse.Namespace, workdir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("DATABASE_URL", f"sqlite:///{workdir / 'bench.db'}")
    env["JWT_SECRET"] = secrets.token_urlsafe(48)
    env.setdefault("DEMO_PASSWORD", "bench-" + secrets.token_urlsafe(18))
    if args.workers is not None:
        env["WEB_CONCURRENCY"] = str(args.workers)
    if args.gunicorn_threads is not None:
        env["GUNICORN_THREADS"] = str(args.gunicorn_threads)
    if getattr(args, "worker_class", None):
        env["GUNICORN_WORKER_CLASS"] = args.worker_class
    # What a target needs of the server's environment (the lookup: TRUSTED_PROXY_COUNT=1, as behind nginx).
    env.update(getattr(args, "server_env", None) or {})
    # gunicorn >= 25 opens a control socket at a fixed per-user path and
    # unlinks whatever is there; a per-run dir keeps concurrent gunicorns
    # (two phases, other runs, a dev server) from stealing each other's.
    env["XDG_RUNTIME_DIR"] = str(workdir)
    # gunicorn.conf.py lets BIND override 127.0.0.1:$PORT; a BIND left in the
    # caller's shell would send the load somewhere else entirely.
    env.pop("BIND", None)
    return env


def refuse_idle_threads(settings: dict) -> str | None:
    """Why the run's --gunicorn-threads would change nothing, or None when it does.

    gunicorn reads `threads` only for its gthread workers; under gevent (gunicorn.conf.py's default) every
    connection is a greenlet and the setting is ignored, so a figure "with 8 threads" would be a gevent figure.
    """
    if settings["worker_class"] == "gthread":
        return None
    return (
        f"--gunicorn-threads does nothing under {settings['worker_class']} workers (gunicorn reads it for gthread "
        "only; gunicorn.conf.py defaults to gevent, where each connection is a greenlet). "
        "Add --worker-class gthread to measure a threaded run, or drop --gunicorn-threads."
    )
