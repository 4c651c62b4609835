"""Schemathesis over every operation of the committed OpenAPI document, as a declarant and as an admin.

Each operation gets a few positive (schema-valid) and negative (schema-violating) requests through the WSGI app,
inside the test's rollback transaction. A request must never answer 5xx, and every answer must be one the document
promises: its status code, its content type and a body matching the documented schema.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from app.users.models import Role
from tests.factories import make_user

COMMITTED = Path(__file__).resolve().parent.parent / "openapi" / "openapi.json"
SCHEMA = schemathesis.openapi.from_path(COMMITTED)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# An event stream never ends by itself: it is read this long (the shared app's heartbeat is shorter, so it is cut
# at the first heartbeat after), then closed.
STREAM_SECONDS = 1.0
EXAMPLES = 8  # per operation, role and generation mode: the whole module stays within a few minutes on 2 cores

# These would end the caller's own session half-way through its run, so every later request would only see 401s;
# tests/auth covers them.
EXCLUDED = {
    "POST /api/v1/auth/logout",  # revokes the caller's refresh-token family
    "POST /api/v1/me/password",  # changes the caller's password and revokes its sessions
}
OPERATIONS = sorted(result.ok().label for result in SCHEMA.get_all_operations() if result.ok().label not in EXCLUDED)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda mode: mode.value)
@pytest.mark.parametrize("role", [Role.DECLARANT, Role.ADMIN], ids=lambda role: role.value)
@pytest.mark.parametrize("label", OPERATIONS)
def test_every_operation_answers_as_documented(app, session, auth_headers, label, role, mode):
    operation = SCHEMA.find_operation_by_label(label)
    headers = auth_headers(make_user(session, role=role))

    # derandomize: the same requests on every run, so CI is stable; no example database, for the same reason.
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def answers_as_documented(case: schemathesis.Case) -> None:
        case.call_and_validate(app=app, headers=headers, checks=CHECKS, timeout=STREAM_SECONDS)

    try:
        answers_as_documented()
    except Unsatisfiable:
        # A free-text path segment or no input at all: nothing of the request can break its schema.
        if mode is not GenerationMode.NEGATIVE:
            raise
        pytest.skip(f"{label} has no input that can be made invalid")
