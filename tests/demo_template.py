"""The seeded demo database live servers start from: seeded once, copied for each server (tests/live.py).

`flask db upgrade` and `flask seed-demo` were most of a live server's start (the app built, every migration, two
weeks of history, nine argon2 hashes); a copy is a file copy on SQLite and CREATE DATABASE ... TEMPLATE on
PostgreSQL. The template is never served itself: the process that seeds it exits before the first copy, and every
server gets a copy of its own, so nothing a test does reaches another test's server.

Demo data is relative to when it was seeded: "today" is the calendar day in Shanghai, and times such as the demo's
urgent notices' reminder steps (2, 5 and 10 minutes) run from the seed. A template therefore serves only on the day it
was seeded and for MAX_AGE after; then the next server seeds a new one. Tests that depend on how old the demo data is
within that window must say so themselves (tests/faults/test_dispatcher_killed.py acknowledges the notices it found).
"""

from __future__ import annotations

import atexit
import json
import re
import secrets
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import create_engine, make_url, text

from tests.databases import configured_url, is_postgres, scratch_database

ROOT = Path(__file__).resolve().parent.parent
SHANGHAI = ZoneInfo("Asia/Shanghai")
MAX_AGE = timedelta(minutes=10)
# Settings the live tests pass that only change how the service serves (gunicorn, limits, streams, cookies, Redis),
# never what `flask seed-demo` writes: servers that differ only in these share a template. Any other setting seeds
# a template of its own.
SERVING_ONLY = frozenset(
    {
        "BODY_GRACE_SECONDS",
        "BODY_MIN_BYTES_PER_SECOND",
        "CONSOLE_COOKIE_SECURE",
        "DATABASE_WRITE_WAIT_SECONDS",
        "GUNICORN_MAX_REQUESTS",
        "GUNICORN_THREADS",
        "GUNICORN_WORKER_CLASS",
        "LOGIN_RATE_LIMIT",
        "METRICS_TOKEN",
        "RATE_LIMIT_KEY_PREFIX",
        "RATE_LIMIT_STORAGE_URI",
        "REDIS_URL",
        "STREAM_HEARTBEAT_SECONDS",
        "STREAM_POLL_SECONDS",
        "TRUSTED_PROXY_COUNT",
        "WEB_CONCURRENCY",
    }
)


@dataclass(frozen=True)
class Template:
    url: str
    seeded: str  # what seed-demo printed, its trace URL on `port`
    port: int  # the PORT seed-demo ran with
    day: str  # the Shanghai calendar day it was seeded on
    at: float  # time.monotonic() when it was seeded

    def fresh(self) -> bool:
        return _shanghai_day() == self.day and time.monotonic() - self.at < MAX_AGE.total_seconds()


_templates: dict[tuple, Template] = {}
_directory = Path(tempfile.mkdtemp(prefix="park-demo-templates-"))
_databases = ExitStack()  # every template's database, dropped when the test session's process exits


def _shanghai_day() -> str:
    return datetime.now(SHANGHAI).date().isoformat()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def demo_database(
    directory: Path, *, env: Mapping[str, str], extra_env: Mapping[str, str], base: str
) -> Iterator[tuple[str, str]]:
    """A copy of the seeded demo for the server at `base` that runs with `env` (`extra_env` among it): its database
    URL, and what seed-demo printed, as if it had run for that server."""
    own = {key: value for key, value in extra_env.items() if key not in SERVING_ONLY}
    key = (configured_url(), tuple(sorted(own.items())))
    template = _templates.get(key)
    if template is None or not template.fresh():
        serving_only = {key for key in extra_env if key in SERVING_ONLY}
        template = _seed({key: value for key, value in env.items() if key not in serving_only})
        _templates[key] = template
    with _copy(template.url, directory) as url:
        # The running demo's URL seed-demo printed names the template's PORT; the copy runs on this server's.
        yield url, re.sub(rf"http://127\.0\.0\.1:{template.port}(?=/)", base, template.seeded)


def _seed(env: Mapping[str, str]) -> Template:
    url = _databases.enter_context(scratch_database(configured_url(), _directory))
    port = _free_port()
    # Seeding signs nothing; a secret of its own keeps the servers' secrets out of the template's making.
    seed_environment = {**env, "DATABASE_URL": url, "PORT": str(port), "JWT_SECRET": secrets.token_urlsafe(48)}
    day, at = _shanghai_day(), time.monotonic()
    # One interpreter for both commands (the `flask` executable's own command group, on the app wsgi.py builds
    # once), stopping at the first that fails: each `flask` process spends seconds building the app.
    steps = json.dumps([["db", "upgrade"], ["seed-demo"]])
    # Outside standalone mode click returns a command's exit code (ctx.exit) rather than exiting with it.
    script = (
        f"import sys\nfrom flask.cli import cli\nfor args in {steps}:\n"
        "    code = cli.main(args, standalone_mode=False)\n    if code:\n        sys.exit(code)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=seed_environment, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stdout + done.stderr
    if not is_postgres(url):
        _settle_sqlite(url)
    return Template(url=url, seeded=done.stdout, port=port, day=day, at=at)


def _sqlite_path(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


def _settle_sqlite(url: str) -> None:
    """Fold the write-ahead log into the file, so the file alone is the database."""
    path = _sqlite_path(url)
    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()  # the last connection: SQLite deletes the log
    assert not Path(f"{path}-wal").exists(), "the template's write-ahead log outlived its last connection"


@contextmanager
def _copy(template_url: str, directory: Path) -> Iterator[str]:
    if not is_postgres(template_url):
        copy = directory / f"park-{uuid.uuid4().hex[:8]}.db"
        shutil.copyfile(_sqlite_path(template_url), copy)
        yield f"sqlite:///{copy}"
        return
    template = make_url(template_url)
    name = f"park_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(make_url(configured_url()), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template.database}"'))
        yield template.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@atexit.register
def _clean_up() -> None:
    _databases.close()
    shutil.rmtree(_directory, ignore_errors=True)
