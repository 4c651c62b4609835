"""Prepared reads and writes on the DBAPI connection: answers as SQLAlchemy gives them, read by column name."""

import time
from datetime import timedelta

import pytest
from sqlalchemy import Integer, bindparam, create_engine, exc, func, insert, literal_column, select, text
from sqlalchemy.pool import NullPool

from app import db
from app.common import clock
from app.exports.models import LineDecision, LineScan, LineVerdict
from app.infra import prepared
from app.infra.prepared import PreparedOne, PreparedRead, select_named
from app.users.models import User
from tests.databases import configured_url, transaction_handling
from tests.factories import make_user


def _prepared_user_read() -> PreparedRead:
    return PreparedRead(
        lambda: select_named(
            {
                "username": User.username,
                "role": User.role,
                "created_at": User.created_at,
                "phone": func.coalesce(User.phone, "-"),
            }
        ).where(User.username == bindparam("username"))
    )


def test_a_prepared_read_answers_as_sqlalchemy_does_and_hands_its_connection_back_as_it_found_it(racing_app):
    engine = racing_app.extensions["engine"]
    with racing_app.app_context():
        with db.transaction() as session:
            make_user(session, username="prepared-reader", phone=None)
        with engine.connect() as connection:
            before = transaction_handling(connection)
            expected = connection.execute(
                select(User.username, User.role, User.created_at).where(User.username == "prepared-reader")
            ).one()

        row = _prepared_user_read().first(db.session_factory(), username="prepared-reader")

        # Converted by the columns' own types: the enum member, an aware UTC time, the statement's own literal.
        assert row._asdict() == {**expected._asdict(), "phone": "-"}
        assert row.created_at.utcoffset() == timedelta(0)
        assert _prepared_user_read().first(db.session_factory(), username="nobody") is None
        with engine.connect() as connection:
            assert transaction_handling(connection) == before


def test_a_prepared_read_refuses_two_columns_of_one_name(racing_app):
    read = PreparedRead(lambda: select(User.username, func.lower(User.username).label("username")))

    with racing_app.app_context(), pytest.raises(ValueError, match="distinct column names"):
        read.first(db.session_factory())


@pytest.mark.postgres_only
def test_a_prepared_read_after_the_server_dropped_its_pooled_connection_gets_a_new_one(racing_app):
    engine = racing_app.extensions["engine"]
    with racing_app.app_context():
        read = PreparedRead(lambda: select_named({"pid": func.pg_backend_pid()}))
        backend = read.first(db.session_factory()).pid
        with create_engine(configured_url(), poolclass=NullPool, isolation_level="AUTOCOMMIT").connect() as other:
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
            gone = text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid")
            deadline = time.monotonic() + 10
            while other.scalar(gone, {"pid": backend}) and time.monotonic() < deadline:
                time.sleep(0.02)

        # The server's goodbye is waiting on the idle connection: checkout sees it and connects afresh.
        assert read.first(db.session_factory()).pid != backend
    assert engine.pool.checkedout() == 0


def _scan_logged() -> PreparedOne:
    return PreparedOne(
        lambda: (
            insert(LineScan.__table__)
            .values(
                waybill_no=bindparam("waybill_no"),
                line_id="XR-T",
                verdict=LineVerdict.CLEAR,
                decision=LineDecision.PASS,
                scanned_at=bindparam("at"),
            )
            .returning(LineScan.id, LineScan.decision)
        )
    )


def test_a_prepared_statement_runs_in_the_transaction_and_by_itself_only_on_an_idle_postgresql_connection(racing_app):
    engine, write, now = racing_app.extensions["engine"], _scan_logged(), clock.utcnow()
    with racing_app.app_context():
        with db.session_factory()() as session:
            row = write.first(session.connection(), waybill_no="inside", at=now)
            # Its RETURNING columns by name, converted by their types.
            assert row.id > 0 and row.decision is LineDecision.PASS
            # Something went before it in the transaction: by_itself or not, it stays inside.
            write.first(session.connection(), by_itself=True, waybill_no="after-another", at=now)
            session.rollback()
        with db.session_factory()() as session:
            write.first(session.connection(), by_itself=True, waybill_no="alone", at=now)
            session.rollback()
            if engine.dialect.name == "postgresql":
                # The connection goes back to the pool as it came (a transaction per statement only while it ran).
                assert session.connection().connection.driver_connection.autocommit is False

    logged = text("SELECT count(*) FROM export_line_scans WHERE waybill_no = :waybill_no")
    with engine.connect() as connection:
        assert connection.scalar(logged, {"waybill_no": "inside"}) == 0
        assert connection.scalar(logged, {"waybill_no": "after-another"}) == 0
        # On PostgreSQL the statement was a transaction by itself (the rollback found nothing to undo); SQLite's
        # transaction had begun (its write lock) before the statement ran, so it ran inside.
        alone = 1 if engine.dialect.name == "postgresql" else 0
        assert connection.scalar(logged, {"waybill_no": "alone"}) == alone


def test_sqlite_reads_keep_their_own_connection_outside_the_pool_and_drop_one_that_failed(racing_app):
    engine = racing_app.extensions["engine"]
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL's reads check a pooled connection out (the test above)")
    read = PreparedRead(lambda: select_named({"one": func.abs(bindparam("value", type_=Integer))}))
    broken = PreparedRead(lambda: select_named({"missing": literal_column("no_such_column")}))
    with racing_app.app_context():
        assert read.first(db.session_factory(), value=-1).one == 1
        kept = prepared._sqlite_reads(engine)._idle[:]
        assert read.first(db.session_factory(), value=-2).one == 2
        # The same connection again, and none of the pool's held: sessions keep all of pool_size.
        assert prepared._sqlite_reads(engine)._idle == kept and len(kept) == 1
        assert engine.pool.checkedout() == 0
        with pytest.raises(exc.OperationalError):
            broken.first(db.session_factory())
        assert prepared._sqlite_reads(engine)._idle == []
        assert read.first(db.session_factory(), value=-3).one == 3
        assert prepared._sqlite_reads(engine)._idle[0] is not kept[0]


def test_a_prepared_statement_gives_every_row_of_a_multi_row_returning_inside_the_transaction(racing_app):
    now = clock.utcnow()
    two = PreparedOne(
        lambda: (
            insert(LineScan.__table__)
            .values(
                [
                    {
                        "waybill_no": bindparam(f"waybill_{index}"),
                        "line_id": "XR-T",
                        "verdict": LineVerdict.CLEAR,
                        "decision": bindparam(f"decision_{index}"),
                        "scanned_at": bindparam("at"),
                    }
                    for index in range(2)
                ]
            )
            .returning(LineScan.waybill_no, LineScan.decision)
        )
    )
    with racing_app.app_context(), db.session_factory()() as session:
        rows = two.all(
            session.connection(),
            waybill_0="many-a",
            decision_0=LineDecision.PASS,
            waybill_1="many-b",
            decision_1=LineDecision.DIVERT,
            at=now,
        )
        # Each row by its names, converted by its types.
        assert sorted((row.waybill_no, row.decision) for row in rows) == [
            ("many-a", LineDecision.PASS),
            ("many-b", LineDecision.DIVERT),
        ]
        session.rollback()
    with racing_app.extensions["engine"].connect() as connection:
        count = text("SELECT count(*) FROM export_line_scans WHERE waybill_no LIKE 'many-%'")
        assert connection.scalar(count) == 0
