"""UTC datetimes bound for SQLite in one step (app/infra/sqlite_times.py): the text SQLAlchemy's two steps wrote."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.types import TypeDecorator

from app.db import UTCDateTime
from app.infra import sqlite_times

DIALECT = sqlite.dialect()


def library_processor():
    return TypeDecorator.bind_processor(UTCDateTime().dialect_impl(DIALECT), DIALECT)


def test_sqlite_binds_the_fused_processor_and_postgresql_the_librarys():
    assert UTCDateTime().dialect_impl(DIALECT).bind_processor(DIALECT) is sqlite_times.utc_text
    pg = postgresql.psycopg.dialect()
    assert UTCDateTime().dialect_impl(pg).bind_processor(pg) is not sqlite_times.utc_text


def test_every_time_is_written_as_sqlalchemy_wrote_it():
    library, shuffled = library_processor(), random.Random(7)
    zones = [UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-5, minutes=-30))]
    for _ in range(2000):
        moment = datetime(1, 1, 2, tzinfo=UTC) + timedelta(seconds=shuffled.uniform(0, 3.1e11))
        moment = moment.replace(microsecond=shuffled.choice([0, 1, 999999, shuffled.randrange(10**6)]))
        value = moment.astimezone(shuffled.choice(zones))
        assert sqlite_times.utc_text(value) == library(value)
    assert sqlite_times.utc_text(None) is None is library(None)


def test_a_naive_time_is_refused_as_before():
    with pytest.raises(ValueError, match="naive"):
        sqlite_times.utc_text(datetime(2026, 1, 1))


def test_a_processor_that_writes_otherwise_is_kept():
    def other(value):
        return None if value is None else value.isoformat()

    assert sqlite_times.fused_or(other) is other
