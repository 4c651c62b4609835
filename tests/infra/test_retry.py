"""A write PostgreSQL aborts as a deadlock victim runs again before anyone is answered, and only once counts."""

import psycopg
import pytest
from sqlalchemy import exc, func, select

from app.customs import service as customs
from app.customs.models import Receipt
from app.infra import retry
from app.users.models import Role
from tests.factories import make_declaration, make_user


def _deadlock() -> exc.OperationalError:
    return exc.OperationalError("UPDATE stock_levels ...", {}, psycopg.errors.DeadlockDetected("deadlock detected"))


@pytest.fixture
def deadlocks(monkeypatch):
    """customs.ingest does its work, then loses a deadlock the first `times` times."""
    real = customs.ingest
    calls = []

    def losing(session, receipts, **kwargs):
        calls.append(1)
        results = real(session, receipts, **kwargs)
        session.flush()
        if len(calls) <= losing.times:
            raise _deadlock()
        return results

    losing.times = 1
    monkeypatch.setattr(customs, "ingest", losing)
    monkeypatch.setattr(retry.time, "sleep", lambda _: None)
    losing.calls = calls
    return losing


def _send(client, session, auth_headers):
    declaration = make_declaration(session)
    headers = auth_headers(make_user(session, role=Role.CUSTOMS_GATEWAY))
    body = {"receipts": [{"guid": declaration.guid, "status_code": 120, "return_time": "20261111093000000"}]}
    return client.post("/api/v1/customs/receipts", json=body, headers=headers)


def test_a_deadlock_victim_runs_again_and_its_first_attempt_leaves_nothing(client, session, auth_headers, deadlocks):
    response = _send(client, session, auth_headers)

    assert response.status_code == 200, response.json
    assert response.json["counts"]["applied"] == 1
    assert len(deadlocks.calls) == 2
    assert session.scalar(select(func.count()).select_from(Receipt)) == 1


def test_after_the_last_attempt_the_client_is_told_to_come_back(client, session, auth_headers, deadlocks):
    deadlocks.times = retry.ATTEMPTS

    response = _send(client, session, auth_headers)

    assert response.status_code == 503
    assert response.headers["Retry-After"]
    assert len(deadlocks.calls) == retry.ATTEMPTS
    assert session.scalar(select(func.count()).select_from(Receipt)) == 0


def test_other_database_errors_are_not_retried():
    error = exc.OperationalError("SELECT 1", {}, psycopg.errors.UniqueViolation("duplicate key"))

    assert not retry.is_retryable(error)
    assert retry.is_retryable(_deadlock())
    assert retry.is_retryable(psycopg.errors.SerializationFailure("could not serialize"))
