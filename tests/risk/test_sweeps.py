from datetime import timedelta

from app.common import clock
from app.declarations.models import DeclarationStatus
from app.gates.models import PassStatus
from app.inspections.models import InspectionResult
from app.users.models import Role
from tests.factories import make_declaration, make_gate_pass, make_task, make_user

WARNINGS = "/api/v1/risk/warnings"


def queue(client, auth_headers, session, **filters):
    officer = make_user(session, role=Role.CUSTOMS_OFFICER)
    return client.get(WARNINGS, query_string=filters, headers=auth_headers(officer)).json["items"]


def test_released_goods_that_never_passed_a_gate_are_warned_about_once(app, client, auth_headers, session):
    long_ago = clock.utcnow() - timedelta(days=4)
    stuck = make_declaration(session, status=DeclarationStatus.RELEASED, released_at=long_ago)
    gone = make_declaration(session, status=DeclarationStatus.RELEASED, released_at=long_ago)
    make_gate_pass(session, declarations=[gone], status=PassStatus.PASSED)
    make_declaration(session, status=DeclarationStatus.RELEASED, released_at=clock.utcnow())
    runner = app.test_cli_runner()

    first = runner.invoke(args=["risk", "sweep"])
    runner.invoke(args=["risk", "sweep"])

    assert first.exit_code == 0, first.output
    warned = queue(client, auth_headers, session, source="overdue_gate")
    assert [(w["declaration_id"], w["occurrences"]) for w in warned] == [(stuck.id, 1)]


def test_an_enterprise_with_repeated_abnormal_inspections_is_warned_about(app, client, auth_headers, session):
    declarant = make_user(session, role=Role.DECLARANT)
    for _ in range(3):
        declaration = make_declaration(session, declarant=declarant, status=DeclarationStatus.INSPECTION)
        task = make_task(session, declaration=declaration)
        task.result, task.result_at = InspectionResult.ABNORMAL, clock.utcnow()
    session.flush()

    result = app.test_cli_runner().invoke(args=["risk", "sweep"])

    assert result.exit_code == 0, result.output
    [warning] = queue(client, auth_headers, session, source="inspection")
    assert warning["enterprise_id"] == declarant.enterprise_id
    assert warning["details"]["abnormal_inspections"] == 3
