import pytest
from sqlalchemy import delete, select, update

from app.audit import service as audit
from app.audit.models import GENESIS_HASH, AuditEvent
from app.audit.service import Actor
from app.users.models import Role
from tests.factories import PASSWORD, make_user


@pytest.fixture
def three_events(session):
    user = make_user(session)
    actor = Actor(user=user, client_addr="198.51.100.4")
    return [
        audit.record(session, action=f"test.step_{n}", actor=actor, target=user, details={"n": n, "名": "值"})
        for n in range(3)
    ]


def run_verify(app):
    return app.test_cli_runner().invoke(args=["audit", "verify"])


def test_each_event_links_to_the_previous_one(session, three_events):
    first, second, third = three_events

    assert second.prev_hash == first.hash
    assert third.prev_hash == second.hash
    assert all(event.hash == event.content_hash() for event in three_events)


def test_the_chain_of_a_fresh_database_starts_at_genesis(session):
    first = session.scalar(select(AuditEvent).order_by(AuditEvent.id).limit(1))

    assert first is None or first.prev_hash == GENESIS_HASH


def test_verify_passes_on_an_untouched_chain(app, three_events):
    result = run_verify(app)

    assert result.exit_code == 0, result.output
    assert "intact" in result.output


def test_verify_names_the_first_altered_row(app, session, three_events):
    altered = three_events[1]
    session.execute(update(AuditEvent).where(AuditEvent.id == altered.id).values(client_addr="10.0.0.1"))

    result = run_verify(app)

    assert result.exit_code != 0
    assert f"event {altered.id} " in result.output


def test_verify_notices_a_deleted_row(app, session, three_events):
    session.execute(delete(AuditEvent).where(AuditEvent.id == three_events[1].id))

    result = run_verify(app)

    assert result.exit_code != 0
    assert f"event {three_events[2].id} " in result.output


def test_verify_notices_a_rehashed_row_because_the_next_link_breaks(app, session, three_events):
    forged = three_events[0]
    forged.details = {"n": 99}
    forged.hash = forged.content_hash()
    session.flush()

    result = run_verify(app)

    assert f"event {three_events[1].id} " in result.output


def test_logins_and_failures_are_audited(client, session):
    user = make_user(session)
    client.post("/api/v1/auth/login", json={"username": user.username, "password": PASSWORD})
    for _ in range(3):
        client.post("/api/v1/auth/login", json={"username": user.username, "password": "wrong-password"})
    client.post("/api/v1/auth/login", json={"username": "ghost", "password": "whatever"})

    events = session.scalars(select(AuditEvent).where(AuditEvent.action.like("auth.%")).order_by(AuditEvent.id)).all()

    actions = [event.action for event in events]
    assert actions.count("auth.login") == 1
    assert actions.count("auth.login_failed") == 3 + 1
    assert events[0].client_addr == "127.0.0.1"
    ghost = [event for event in events if event.details.get("username") == "ghost"]
    assert ghost[0].details["reason"] == "unknown_user"


def test_admins_list_events_newest_first_with_filters(client, session, auth_headers, three_events):
    admin = make_user(session, role=Role.ADMIN)

    response = client.get(
        "/api/v1/admin/audit-events",
        query_string={"target_type": "users", "target_id": three_events[0].target_id, "limit": 2},
        headers=auth_headers(admin),
    )

    assert response.status_code == 200
    assert [event["action"] for event in response.json["items"]] == ["test.step_2", "test.step_1"]
    assert response.json["next_cursor"]


def test_the_audit_list_takes_aware_times_only(client, session, auth_headers):
    admin = make_user(session, role=Role.ADMIN)

    response = client.get(
        "/api/v1/admin/audit-events", query_string={"since": "2026-01-01T00:00:00"}, headers=auth_headers(admin)
    )

    assert response.status_code == 422
    assert "since" in response.json["errors"]["query"]


def test_declarants_cannot_read_the_audit_trail(client, session, auth_headers):
    response = client.get("/api/v1/admin/audit-events", headers=auth_headers(make_user(session)))

    assert response.status_code == 403
