import sqlite3
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.pool import NullPool

from app import create_app, db
from app.config import Settings, SettingsError
from app.users.models import User
from tests.conftest import TEST_JWT_SECRET, make_settings, scratch_app
from tests.databases import configured_url, is_postgres, transaction_handling
from tests.factories import make_user

SHANGHAI = timezone(timedelta(hours=8))


def test_times_come_back_aware_and_in_utc(session):
    user = make_user(session, last_login_at=datetime(2026, 11, 11, 8, 0, tzinfo=SHANGHAI))
    session.expire_all()

    stored = session.get(User, user.id).last_login_at

    assert stored == datetime(2026, 11, 11, 0, 0, tzinfo=UTC)
    assert stored.utcoffset() == timedelta(0)


def test_naive_times_are_refused(session):
    with pytest.raises(StatementError):
        make_user(session, last_login_at=datetime(2026, 11, 11, 8, 0))


def test_foreign_keys_are_enforced(session):
    with pytest.raises(IntegrityError):
        make_user(session, enterprise_id=987_654_321)


@pytest.mark.postgres_only
def test_times_do_not_depend_on_the_database_sessions_time_zone(session):
    user = make_user(session, last_login_at=datetime(2026, 11, 11, 0, 0, tzinfo=UTC))
    session.execute(text("SET LOCAL TIME ZONE 'Asia/Shanghai'"))
    session.expire_all()

    stored = session.scalar(select(User.last_login_at).where(User.id == user.id))

    assert stored == datetime(2026, 11, 11, 0, 0, tzinfo=UTC)


@pytest.mark.postgres_only
def test_a_pooled_connection_idle_past_the_ping_threshold_is_replaced_if_the_server_dropped_it(monkeypatch):
    engine = db.make_engine(configured_url())
    try:
        with engine.connect() as connection:
            backend = connection.scalar(text("SELECT pg_backend_pid()"))
        with create_engine(configured_url(), poolclass=NullPool).connect() as other:
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
        monkeypatch.setattr(db, "IDLE_PING_SECONDS", 0.0)

        with engine.connect() as connection:
            answer = connection.scalar(text("SELECT pg_backend_pid()"))

        assert answer != backend
    finally:
        engine.dispose()


def test_a_statement_read_returns_its_connection_to_the_pool_as_it_found_it(racing_app):
    engine = racing_app.extensions["engine"]
    with engine.connect() as connection:
        before = transaction_handling(connection)

    with racing_app.app_context(), db.statement_read() as connection:
        assert connection.scalar(text("SELECT 1")) == 1

    with engine.connect() as connection:
        assert transaction_handling(connection) == before


@pytest.mark.skipif(is_postgres(configured_url()), reason="SQLite's one write lock")
def test_a_write_that_waits_past_the_limit_is_503_database_busy_with_retry_after(tmp_path):
    with scratch_app(tmp_path, database_write_wait_seconds=0.3) as app:
        with app.app_context():
            seeded = app.test_cli_runner().invoke(args=["seed-demo"])
        assert seeded.exit_code == 0, seeded.output
        holder = sqlite3.connect(app.extensions["settings"].database_url.removeprefix("sqlite:///"))
        holder.isolation_level = None
        holder.execute("BEGIN IMMEDIATE")
        try:
            busy = app.test_client().post("/api/v1/auth/login", json={"username": "declarant", "password": "x" * 12})
        finally:
            holder.rollback()
            holder.close()

        assert busy.status_code == 503
        assert busy.headers["Retry-After"] == "1"
        assert busy.json["code"] == "database_busy"


def test_the_pool_keeps_todays_sizes_unless_told_otherwise(tmp_path):
    url = configured_url() or f"sqlite:///{tmp_path / 'pool.db'}"
    engine = db.make_engine(url)
    try:
        # PostgreSQL's own choice since the pool was sized; SQLite keeps SQLAlchemy's.
        expected = (10, 10) if is_postgres(url) else (5, 10)
        assert (engine.pool.size(), engine.pool._max_overflow) == expected
    finally:
        engine.dispose()


def test_the_app_sizes_its_pool_from_db_pool_size_and_db_max_overflow(tmp_path):
    url = configured_url() or f"sqlite:///{tmp_path / 'pool.db'}"
    settings = Settings.from_env({"JWT_SECRET": TEST_JWT_SECRET, "DB_POOL_SIZE": "3", "DB_MAX_OVERFLOW": "0"})
    app = create_app(make_settings(url, db_pool_size=settings.db_pool_size, db_max_overflow=settings.db_max_overflow))
    engine = app.extensions["engine"]
    try:
        assert (engine.pool.size(), engine.pool._max_overflow) == (3, 0)
        # At the limit, nothing more is opened: a fourth checkout would wait for one of these.
        connections = [engine.connect() for _ in range(3)]
        assert engine.pool.checkedout() == 3
        assert engine.pool.overflow() == 0
        for connection in connections:
            connection.close()
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("name", "raw"),
    [("DB_POOL_SIZE", "0"), ("DB_POOL_SIZE", "ten"), ("DB_MAX_OVERFLOW", "-1"), ("DB_MAX_OVERFLOW", "1.5")],
)
def test_a_malformed_pool_setting_stops_the_start(name, raw):
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({"JWT_SECRET": TEST_JWT_SECRET, name: raw})


def test_unset_pool_settings_leave_the_choice_to_the_engine():
    settings = Settings.from_env({"JWT_SECRET": TEST_JWT_SECRET, "DB_POOL_SIZE": "", "DB_MAX_OVERFLOW": ""})

    assert (settings.db_pool_size, settings.db_max_overflow) == (None, None)
