"""The audit trail in the console: its entries, newest first, and the hash chain checked in one click."""

from __future__ import annotations

from sqlalchemy import select, update

from app.audit.models import AuditEvent
from app.users.models import Role
from tests.factories import make_user


def test_the_trail_lists_entries_and_filters_by_action(console_client, session):
    client = console_client(make_user(session, role=Role.ADMIN))

    page = client.get("/console/admin/audit?action=auth.login").data.decode()

    assert 'data-action="auth.login"' in page
    assert 'data-action="auth.login_failed"' not in page


def test_the_chain_check_says_an_intact_chain_holds(console_client, session):
    client = console_client(make_user(session, role=Role.ADMIN))

    page = client.get("/console/admin/audit/verify").data.decode()

    assert 'data-verdict="intact"' in page


def test_the_chain_check_shows_the_first_altered_entry(console_client, session):
    client = console_client(make_user(session, role=Role.ADMIN))
    victim = session.scalar(select(AuditEvent).where(AuditEvent.seq.is_not(None)).order_by(AuditEvent.seq.desc()))
    session.execute(update(AuditEvent).where(AuditEvent.id == victim.id).values(details={"forged": True}))
    session.flush()

    page = client.get("/console/admin/audit/verify").data.decode()

    assert 'data-verdict="broken"' in page
    assert f"#{victim.seq}:" in page
    assert "its content no longer matches its hash" in page
    assert "forged" in page
