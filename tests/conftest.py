from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from alembic import command
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Connection
from sqlalchemy.orm import Session

from app import create_app
from app.auth import service as auth
from app.cli import alembic_config
from app.config import Settings
from app.trace import lookup as trace_lookup
from app.users.models import Role, User
from tests.databases import configured_url, is_postgres, scratch_database
from tests.factories import make_user
from tests.guards import guard

# Stand-in push providers (APNs, FCM, JPush, Huawei, SMS) on loopback, for tests/push and the dispatcher tests.
pytest_plugins = ["tests.standins.fixtures"]

TEST_JWT_SECRET = "test-secret-long-enough-for-every-hmac-algorithm-0123456789abcdef"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "postgres_only: needs PostgreSQL (row locks, real concurrency)")
    config.addinivalue_line(
        "markers",
        "own_database: brings its own SQLite file whatever DATABASE_URL says, so it runs on the SQLite pass only",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # On the SQLite pass these tests are deselected, not skipped: CI runs them on the
    # PostgreSQL pass, where an unreachable server fails the whole run.
    # A test with a database of its own (`own_database`) would only repeat itself on the PostgreSQL pass.
    skipped_marker = "own_database" if is_postgres(configured_url()) else "postgres_only"
    selected = [item for item in items if item.get_closest_marker(skipped_marker) is None]
    deselected = [item for item in items if item.get_closest_marker(skipped_marker) is not None]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = selected


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with scratch_database(configured_url(), tmp_path_factory.mktemp("db")) as url:
        yield url


def make_settings(database_url: str, **overrides: object) -> Settings:
    defaults: dict[str, object] = {
        "database_url": database_url,
        "jwt_secret": TEST_JWT_SECRET,
        # High enough that only the rate-limit tests, which lower it, ever hit it.
        "login_rate_limit": "10000 per minute",
        "password_reset_rate_limit": "10000 per minute",
        "trace_report_rate_limit": "10000 per minute",
        "max_content_length": 64 * 1024,
        # Inline, so each test sees its scans; tests/trace/test_scans.py covers the background writer.
        "trace_scans_in_background": False,
    }
    defaults.update(overrides)
    return Settings(**defaults)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def app(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    command.upgrade(alembic_config(database_url), "head")
    # A short heartbeat, so an event stream read through this app (tests/test_fuzz_openapi.py) can be cut soon.
    test_settings = make_settings(
        database_url, upload_dir=tmp_path_factory.mktemp("uploads"), stream_heartbeat_seconds=0.3
    )
    flask_app = guard(create_app(test_settings))
    flask_app.config["TESTING"] = True
    yield flask_app
    flask_app.extensions["engine"].dispose()


@pytest.fixture(autouse=True)
def db_connection(app: Flask) -> Iterator[Connection]:
    """Each test runs inside one outer transaction that is rolled back at the end."""
    engine = app.extensions["engine"]
    factory = app.extensions["sessionmaker"]
    with engine.connect() as connection:
        outer = connection.begin()
        if connection.dialect.name == "postgresql":
            # The outer transaction never commits, so notices would never get their seq, which PostgreSQL assigns
            # at COMMIT (migration 0011): number them at once instead. racing_app tests commit for real.
            connection.exec_driver_sql("SET CONSTRAINTS ALL IMMEDIATE")
        factory.configure(bind=connection, join_transaction_mode="create_savepoint")
        try:
            yield connection
        finally:
            factory.configure(bind=engine, join_transaction_mode="conditional_savepoint")
            outer.rollback()
            # The rollback hands ids out again, so the lookup's cached chain steps would describe the wrong rows.
            trace_lookup.clear_caches()
            # The rules read during the test came from rows the rollback took away.
            app.extensions["rules"].forget()
            # Likewise the officers on duty this process keeps for a few seconds (app/notices/officers.py).
            app.extensions["officers_on_duty"].clear()


@pytest.fixture
def session(app: Flask, db_connection: Connection) -> Iterator[Session]:
    db_session = app.extensions["sessionmaker"]()
    yield db_session
    db_session.close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def settings(app: Flask) -> Settings:
    return app.extensions["settings"]


@pytest.fixture
def auth_headers(session: Session, settings: Settings) -> Callable[[User], dict[str, str]]:
    """Real tokens for a user, issued by the same code that serves /auth/login; the client asks for English (the
    texts the tests read) unless `accept_language` says otherwise (None: no header, the user's own language)."""

    def headers_for(user: User, *, accept_language: str | None = "en") -> dict[str, str]:
        pair = auth.open_session(session, user, client_addr="127.0.0.1", user_agent="pytest", settings=settings)
        headers = {"Authorization": f"Bearer {pair.access_token}"}
        if accept_language is not None:
            headers["Accept-Language"] = accept_language
        return headers

    return headers_for


# One user per role, for the tests that need one; a test module with other needs defines its own.
@pytest.fixture
def declarant(session: Session) -> User:
    return make_user(session, role=Role.DECLARANT)


@pytest.fixture
def officer(session: Session) -> User:
    return make_user(session, role=Role.CUSTOMS_OFFICER)


@pytest.fixture
def gate_operator(session: Session) -> User:
    return make_user(session, role=Role.GATE_OPERATOR)


@pytest.fixture
def gateway(session: Session) -> User:
    return make_user(session, role=Role.CUSTOMS_GATEWAY)


@pytest.fixture
def admin(session: Session) -> User:
    return make_user(session, role=Role.ADMIN)


@contextmanager
def scratch_app(tmp_path: Path, **overrides: object) -> Iterator[Flask]:
    """An app of its own on a scratch database, where each request commits on its own connection."""
    with scratch_database(configured_url(), tmp_path) as url:
        command.upgrade(alembic_config(url), "head")
        app = guard(create_app(make_settings(url, upload_dir=tmp_path / "uploads", **overrides)))
        try:
            yield app
        finally:
            app.extensions["engine"].dispose()


@pytest.fixture
def racing_app(tmp_path: Path) -> Iterator[Flask]:
    """For tests whose requests must really race.

    The per-test rollback puts every request on one connection, where nothing can race.
    """
    with scratch_app(tmp_path) as app:
        yield app
