"""A declarant's phone that lost the answer retries with the same Idempotency-Key and gets it again."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.common import clock
from app.declarations.models import Declaration
from app.enterprises.models import EnterpriseKind
from app.idempotency.models import IdempotentRequest
from app.users.models import Role
from tests.declarations.test_routes import declaration_body
from tests.factories import make_enterprise, make_user

DECLARATIONS = "/api/v1/declarations"


@pytest.fixture
def warehouse(session):
    return make_enterprise(session, kinds=[EnterpriseKind.ZONE])


def submit(client, headers, body, key):
    return client.post(DECLARATIONS, json=body, headers={**headers, "Idempotency-Key": key})


def count_declarations(session, declarant):
    return session.scalar(select(func.count()).where(Declaration.declaring_enterprise_id == declarant.enterprise_id))


def test_a_retry_with_the_same_key_gets_the_first_answer(client, session, declarant, warehouse, auth_headers):
    headers = auth_headers(declarant)
    body = declaration_body(warehouse)

    first = submit(client, headers, body, "5d0c7a52-0b4e-4a7e-9d0f-6a1b2c3d4e5f")
    retry = submit(client, headers, body, "5d0c7a52-0b4e-4a7e-9d0f-6a1b2c3d4e5f")

    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.json == first.json
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert count_declarations(session, declarant) == 1


def test_without_a_key_a_retry_is_a_conflict(client, session, declarant, warehouse, auth_headers):
    headers = auth_headers(declarant)
    client.post(DECLARATIONS, json=declaration_body(warehouse), headers=headers)

    assert client.post(DECLARATIONS, json=declaration_body(warehouse), headers=headers).status_code == 409


def test_the_same_key_with_another_request_is_refused(client, session, declarant, warehouse, auth_headers):
    headers = auth_headers(declarant)
    submit(client, headers, declaration_body(warehouse), "key-1")

    response = submit(client, headers, declaration_body(warehouse, cop_no="ANOTHER-1"), "key-1")

    assert response.status_code == 422
    assert response.json["code"] == "idempotency_key_reused"
    assert count_declarations(session, declarant) == 1


def test_keys_belong_to_one_user(client, session, declarant, warehouse, auth_headers):
    other = make_user(session, role=Role.DECLARANT)
    submit(client, auth_headers(declarant), declaration_body(warehouse), "shared-key")

    response = submit(client, auth_headers(other), declaration_body(warehouse), "shared-key")

    assert response.status_code == 201
    assert response.headers.get("Idempotent-Replayed") is None


def test_a_failed_request_is_not_remembered(client, session, declarant, warehouse, auth_headers):
    headers = auth_headers(declarant)
    bad = declaration_body(warehouse, customs_code="80")

    assert submit(client, headers, bad, "try-again").status_code == 422
    fixed = submit(client, headers, declaration_body(warehouse), "try-again")

    # The first attempt stored nothing, so the corrected request is a different request, not a reuse.
    assert fixed.status_code == 201


def test_a_malformed_key_is_a_field_error(client, declarant, warehouse, auth_headers):
    response = submit(client, auth_headers(declarant), declaration_body(warehouse), "x" * 101)

    assert response.status_code == 422
    assert response.json["errors"] == {"headers": {"Idempotency-Key": ["1 to 100 printable characters."]}}


def test_stored_answers_are_forgotten_after_the_window(app, client, session, declarant, warehouse, auth_headers):
    submit(client, auth_headers(declarant), declaration_body(warehouse), "old-key")
    stored = session.scalars(select(IdempotentRequest)).one()
    stored.created_at = clock.utcnow() - timedelta(hours=49)
    session.flush()

    result = app.test_cli_runner().invoke(args=["idempotency", "purge"])

    assert result.exit_code == 0, result.output
    assert "Forgot 1 " in result.output
    assert session.scalars(select(IdempotentRequest)).all() == []
