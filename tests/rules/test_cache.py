"""Each process reads the rules from its own copy and refreshes it after the ttl: another worker's change arrives
within RULES_CACHE_SECONDS, with no query per read in between."""

from sqlalchemy import event

from app.common import clock
from app.rules import cache
from app.rules.models import RuleSetting


def another_worker_sets(session, key, value):
    """A change committed by another process: this one's copy is not told."""
    session.add(RuleSetting(key=key, value=value, updated_at=clock.utcnow()))
    session.flush()


def test_another_workers_change_arrives_after_the_ttl(app, session, monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(cache.time, "monotonic", lambda: now[0])
    with app.app_context():
        assert cache.current().trace_scan_limit == 50
        another_worker_sets(session, "trace_scan_limit", "7")

        now[0] += app.extensions["settings"].rules_cache_seconds - 0.1
        held = cache.current().trace_scan_limit
        now[0] += 0.2
        fresh = cache.current().trace_scan_limit

    assert (held, fresh) == (50, 7)


def test_reads_within_the_ttl_send_no_query(app, db_connection):
    statements = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    with app.app_context():
        cache.current()
        event.listen(db_connection, "before_cursor_execute", count)
        try:
            for _ in range(100):
                cache.current()
        finally:
            event.remove(db_connection, "before_cursor_execute", count)

    assert statements == []


def test_a_stored_value_the_catalog_cannot_read_falls_back_to_the_default(app, session):
    another_worker_sets(session, "gate_overdue_hours", "soon")
    another_worker_sets(session, "retired_rule", "1")
    with app.app_context():
        cache.forget()
        values = cache.current()

    assert values.gate_overdue.total_seconds() == 72 * 3600
