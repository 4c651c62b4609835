"""What the notice benchmarks (bench_stream.py, bench_dispatch.py) share: a scratch database, the app
in-process for bulk set-up, an enterprise full of users, and the figures they print.

Set-up goes straight through the models and services, not the API: a thousand logins would measure
argon2, and the point is the size of the data, not how fast it can be typed in.
"""

from __future__ import annotations

import contextlib
import logging
import os
import resource
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from sqlalchemy import create_engine, insert, select, text
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench import HOST, BenchError, Children, free_ports, log  # noqa: E402

from app import create_app  # noqa: E402
from app.config import Settings, normalize_database_url  # noqa: E402
from app.enterprises.models import Enterprise  # noqa: E402
from app.users.models import Role, User  # noqa: E402

# Never a valid argon2 hash: bench users are signed in through open_session, never by password.
NO_PASSWORD = "!bench-user-no-password"
PROTECTED_DATABASES = frozenset({"postgres", "test", "template0", "template1"})


@contextlib.contextmanager
def scratch_database(url: str | None, workdir: Path) -> Iterator[str]:
    """The database URL to use: a SQLite file in `workdir`, or the PostgreSQL database `url` names,
    created here and dropped at the end (an existing database is refused, never reused)."""
    if url is None:
        yield f"sqlite:///{workdir / 'bench.db'}"
        return
    url = normalize_database_url(url)
    target = make_url(url)
    if not target.drivername.startswith("postgresql"):
        raise BenchError(f"--database-url must name a PostgreSQL database, got {target.drivername}")
    name = target.database
    if not name or name in PROTECTED_DATABASES:
        raise BenchError(f"--database-url must name a scratch database of its own, not {name!r}")
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            if connection.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}):
                raise BenchError(f"database {name!r} already exists; drop it or name another scratch database")
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        log(f"created scratch database {name}")
        try:
            yield target.render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            log(f"dropped scratch database {name}")
    finally:
        admin.dispose()


def base_env(database_url: str, workdir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url,
        JWT_SECRET=secrets.token_urlsafe(48),
        DEMO_PASSWORD="bench-" + secrets.token_urlsafe(18),
        # Runs outlast the default 15 minutes when thousands of streams are opened first.
        ACCESS_TOKEN_MINUTES="120",
        # gunicorn's control socket path is per user; a per-run dir keeps parallel runs apart.
        XDG_RUNTIME_DIR=str(workdir),
        PYTHONUNBUFFERED="1",
        FLASK_APP="wsgi",
    )
    # gunicorn.conf.py lets BIND override 127.0.0.1:$PORT: the load must stay on loopback. A Redis
    # is the run's own or none, never whatever the caller's shell points at.
    env.pop("BIND", None)
    env.pop("REDIS_URL", None)
    return env


@contextlib.contextmanager
def app_in_process(env: dict[str, str]) -> Iterator:
    """The application with the benchmark's settings, for bulk set-up and reading results."""
    app = create_app(Settings.from_env(env))
    # create_app logs at INFO, so httpx would log each of our own requests to the terminal.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        with app.app_context():
            yield app
    finally:
        app.extensions["engine"].dispose()


def add_enterprise_with_users(session, *, label: str, users: int) -> tuple[Enterprise, list[User]]:
    """A fresh enterprise and `users` declarants of it, inserted in bulk."""
    unique = secrets.token_hex(4).upper()
    enterprise = Enterprise(
        name=f"{label} {unique}",
        uscc=f"91500000{unique}{secrets.randbelow(100):02d}",
        customs_reg_code=f"B{unique}{secrets.randbelow(10)}",
    )
    session.add(enterprise)
    session.flush()
    prefix = f"{label.lower()}-{unique.lower()}"
    rows = [
        {
            "username": f"{prefix}-{n:05d}",
            "display_name": f"{label} {n}",
            "role": Role.DECLARANT,
            "enterprise_id": enterprise.id,
            "password_hash": NO_PASSWORD,
        }
        for n in range(users)
    ]
    for offset in range(0, len(rows), 1000):
        session.execute(insert(User), rows[offset : offset + 1000])
    made = list(session.scalars(select(User).where(User.enterprise_id == enterprise.id).order_by(User.id)))
    return enterprise, made


def own_redis(children: Children, workdir: Path) -> str:
    """A redis-server of the run's own on a free loopback port; `children` stops it."""
    (port,) = free_ports(1)
    children.popen(
        ["redis-server", "--port", str(port), "--bind", HOST, "--save", "", "--appendonly", "no"],
        cwd=workdir,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection((HOST, port), timeout=0.2).close()
            return f"redis://{HOST}:{port}/0"
        except OSError as error:
            if time.monotonic() > deadline:
                raise BenchError("redis-server did not start (is it installed?)") from error
            time.sleep(0.05)


def raise_open_files(needed: int) -> int:
    """Lift this process's file-descriptor limit (children inherit it) toward `needed`; returns the new limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        soft = wanted
    return soft


def percentile(sorted_values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile of an already sorted, non-empty sequence."""
    rank = max(1, -(-len(sorted_values) * share // 1))
    return sorted_values[int(rank) - 1]


def spread_ms(seconds: Sequence[float]) -> dict[str, float | int | None]:
    """p50, p95, p99 and max of durations given in seconds, in milliseconds, with how many there were."""
    values = sorted(seconds)
    if not values:
        return {"count": 0, "p50_ms": None, "p95_ms": None, "p99_ms": None, "max_ms": None}
    return {
        "count": len(values),
        "p50_ms": round(percentile(values, 0.50) * 1000, 3),
        "p95_ms": round(percentile(values, 0.95) * 1000, 3),
        "p99_ms": round(percentile(values, 0.99) * 1000, 3),
        "max_ms": round(values[-1] * 1000, 3),
    }


def load_average() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]
