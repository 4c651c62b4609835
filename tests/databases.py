"""Throw-away databases for a test run, on the server that DATABASE_URL names."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, make_url, text

from app.config import normalize_database_url

# The local Redis every development machine and CI runner has (TEST_REDIS_URL to point elsewhere).
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def configured_url() -> str | None:
    url = os.environ.get("DATABASE_URL")
    return normalize_database_url(url) if url else None


def is_postgres(url: str | None) -> bool:
    return bool(url) and url.startswith("postgresql")


@contextmanager
def scratch_database(base_url: str | None, directory: Path) -> Iterator[str]:
    """A new, empty database: a SQLite file in `directory`, or a fresh PostgreSQL database.

    The suite never touches the database DATABASE_URL names itself, only its server, so
    pointing the tests at a real database cannot destroy its data.
    """
    if not is_postgres(base_url):
        yield f"sqlite:///{directory / f'park-{uuid.uuid4().hex[:8]}.db'}"
        return
    server = make_url(base_url)
    name = f"park_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def transaction_handling(connection) -> object:
    """How the driver connection handles transactions: pysqlite's isolation level, psycopg's autocommit."""
    dbapi_connection = connection.connection.dbapi_connection
    if connection.dialect.name == "sqlite":
        return dbapi_connection.isolation_level
    return dbapi_connection.autocommit
