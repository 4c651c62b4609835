"""Child processes, signals and small helpers shared by the benchmark harnesses (bench.py and its siblings)."""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
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
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SCRIPTS = REPO / "scripts"
HOST = "127.0.0.1"
STOP_TIMEOUT = 10.0


class BenchError(Exception):
    """A failure that makes the benchmark meaningless; reported, exit 1."""


def log(message: str) -> None:
    # Progress goes to stderr so --json output on stdout stays parseable.
    print(f"[bench] {message}", file=sys.stderr, flush=True)


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
    # A proxy from the environment must never see these requests, and a redirect is an answer to report, not follow.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())
    try:
        with opener.open(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except (OSError, http.client.HTTPException) as exc:
        raise BenchError(f"{method} {url}: {exc}") from exc


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def snippet(data: bytes, limit: int = 300) -> str:
    text = data.decode("utf-8", errors="replace").strip()
    return text if len(text) <= limit else text[:limit] + "..."


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
