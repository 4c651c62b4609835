"""Officers' queues and the gate screen over plain HTTP: what each role may open, and that a button does what the
API's route does (the same use case, the same audit entry)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.declarations.models import DeclarationStatus
from app.gates.models import GatePassage
from app.risk import service as risk
from app.risk.models import RiskWarning, Severity, WarningSource
from app.users.models import Role
from tests.console.conftest import csrf_of
from tests.factories import make_declaration, make_gate, make_user
from tests.gates.helpers import arrive, weigh

OFFICER_PAGES = ("/console/officer/warnings", "/console/officer/inspections", "/console/officer/referrals")
GATE_PAGES = ("/console/gate", "/console/gate/live")


def raise_warning(session, **overrides):
    return risk.raise_warning(
        session,
        source=overrides.pop("source", WarningSource.OFFICER),
        subject_key=overrides.pop("subject_key", "test:desk"),
        severity=overrides.pop("severity", Severity.HIGH),
        title=overrides.pop("title", "Suspicious pallet"),
        **overrides,
    )


def referred_passage(client, auth_headers, session, gate_operator):
    """A vehicle with no pass, read at a gate and weighed: referred to a person."""
    gate = make_gate(session)
    headers = auth_headers(gate_operator)
    arrived = arrive(client, headers, gate, "渝B77777")
    assert arrived.status_code == 201, arrived.json
    weighed = weigh(client, headers, arrived.json["id"], 12000)
    assert weighed.json["status"] == "referred", weighed.json
    return gate, weighed.json["id"]


@pytest.mark.parametrize("path", OFFICER_PAGES)
def test_a_gate_operator_is_refused_the_officers_pages(console_client, gate_operator, path):
    assert console_client(gate_operator).get(path).status_code == 403


@pytest.mark.parametrize("path", GATE_PAGES)
def test_an_officer_is_refused_the_gate_screen(console_client, officer, path):
    assert console_client(officer).get(path).status_code == 403


def test_a_gate_operator_may_not_post_an_officers_resolution(console_client, session, gate_operator):
    warning = raise_warning(session)
    client = console_client(gate_operator)
    token = csrf_of(client.get("/console/gate").data)

    answer = client.post(
        f"/console/officer/warnings/{warning.id}/resolve",
        data={"resolution": "false_alarm", "notes": "x", "csrf_token": token},
    )

    assert answer.status_code == 403
    assert session.get(RiskWarning, warning.id).resolved_at is None


def test_the_menu_shows_each_role_its_own_desk(console_client, officer, gate_operator):
    officers_home = console_client(officer).get("/console/").data
    gate_home = console_client(gate_operator).get("/console/").data

    assert b"/console/officer/warnings" in officers_home and b"/console/gate" not in officers_home
    assert b"/console/gate" in gate_home and b"/console/officer/" not in gate_home


def test_the_warning_queue_filters_by_severity_status_and_kind(console_client, session, officer):
    raise_warning(session, subject_key="test:high", title="High one")
    raise_warning(session, subject_key="test:low", title="Low one", severity=Severity.LOW)
    client = console_client(officer)

    page = client.get(
        "/console/officer/warnings", query_string={"severity": "low", "status": "open", "source": "officer"}
    )

    assert b"Low one" in page.data and b"High one" not in page.data


def test_a_bad_filter_is_shown_not_a_500(console_client, officer):
    page = console_client(officer).get("/console/officer/warnings", query_string={"severity": "dire"})

    assert page.status_code == 200
    assert b"field-error" in page.data


def test_an_officer_takes_and_resolves_a_warning_with_a_note_and_it_is_audited(console_client, session, officer):
    warning = raise_warning(session)
    client = console_client(officer)
    token = csrf_of(client.get("/console/officer/warnings").data)

    taken = client.post(
        f"/console/officer/warnings/{warning.id}/take", data={"csrf_token": token, "next": "/console/officer/warnings"}
    )
    resolved = client.post(
        f"/console/officer/warnings/{warning.id}/resolve",
        data={"resolution": "false_alarm", "notes": "Pallet re-counted", "csrf_token": token},
        follow_redirects=True,
    )

    assert taken.status_code == 302 and taken.location == "/console/officer/warnings"
    assert f"Warning {warning.id} is resolved.".encode() in resolved.data
    session.refresh(warning)
    assert (warning.status.value, warning.resolution_notes, warning.resolved_by_id) == (
        "resolved",
        "Pallet re-counted",
        officer.id,
    )
    actions = session.scalars(
        select(AuditEvent.action).where(AuditEvent.target_id == str(warning.id)).order_by(AuditEvent.id)
    ).all()
    assert actions[-2:] == ["risk.warning_taken", "risk.warning_resolved"]


def test_a_resolution_without_a_note_is_refused_with_the_reason(console_client, session, officer):
    warning = raise_warning(session)
    client = console_client(officer)
    token = csrf_of(client.get("/console/officer/warnings").data)

    page = client.post(
        f"/console/officer/warnings/{warning.id}/resolve",
        data={"resolution": "confirmed", "notes": " ", "csrf_token": token},
        follow_redirects=True,
    )

    assert b'class="flash error"' in page.data
    assert session.get(RiskWarning, warning.id).resolved_at is None


def test_a_warning_someone_else_took_is_refused_with_the_services_words(console_client, session, officer):
    warning = raise_warning(session)
    other = make_user(session, role=Role.CUSTOMS_OFFICER)
    risk.take(session, warning.id, officer=other, actor=risk.audit.by(other))
    client = console_client(officer)
    token = csrf_of(client.get("/console/officer/warnings").data)

    page = client.post(
        f"/console/officer/warnings/{warning.id}/take", data={"csrf_token": token}, follow_redirects=True
    )

    assert b"being worked on by another officer" in page.data


def test_an_officer_turns_a_warning_into_an_inspection_task(console_client, session, officer):
    declaration = make_declaration(session, status=DeclarationStatus.ACCEPTED)
    warning = raise_warning(session, declaration_id=declaration.id)
    client = console_client(officer)
    token = csrf_of(client.get("/console/officer/warnings").data)

    client.post(
        f"/console/officer/warnings/{warning.id}/inspection",
        data={"method": "open_box", "reason": "Check the pallet", "csrf_token": token},
    )

    session.refresh(warning)
    assert warning.inspection_task_id is not None
    assert warning.assignee_id == officer.id


def test_a_post_without_the_csrf_token_is_refused(console_client, session, officer):
    warning = raise_warning(session)

    answer = console_client(officer).post(f"/console/officer/warnings/{warning.id}/take")

    assert answer.status_code == 400
    assert session.get(RiskWarning, warning.id).assignee_id is None


def test_the_gate_screen_lists_the_vehicles_at_the_gate_with_what_they_still_need(
    client, console_client, auth_headers, session, gate_operator
):
    gate = make_gate(session)
    arrive(client, auth_headers(gate_operator), gate, "渝B66666")
    desk = console_client(gate_operator)

    rows = desk.get("/console/gate/live", query_string={"gate_id": gate.id}).data.decode()

    assert 'data-plate="渝B66666"' in rows
    assert "a gate pass" in rows and "weighing" in rows
    assert "<html" not in rows  # the rows alone, for the screen's script


def test_the_gate_screen_loads_its_script_from_the_consoles_static_folder(console_client, session, gate_operator):
    gate = make_gate(session)
    page = console_client(gate_operator).get("/console/gate", query_string={"gate_id": gate.id}).data

    assert b'src="/console/static/gate.js"' in page
    assert b"<script>" not in page and b" style=" not in page


def test_a_gate_operator_clears_a_referred_vehicle_with_a_reason_code(
    client, console_client, auth_headers, session, gate_operator
):
    gate, passage_id = referred_passage(client, auth_headers, session, gate_operator)
    desk = console_client(gate_operator)
    screen = desk.get("/console/gate", query_string={"gate_id": gate.id}).data

    answer = desk.post(
        f"/console/gate/passages/{passage_id}/decision",
        data={
            "action": "turn_back",
            "reason_code": "no_valid_pass",
            "csrf_token": csrf_of(screen),
            "next": f"/console/gate?gate_id={gate.id}",
        },
    )

    assert answer.status_code == 302 and answer.location == f"/console/gate?gate_id={gate.id}"
    passage = session.get(GatePassage, passage_id)
    session.refresh(passage)
    assert (passage.status.value, passage.decision_reason.value, passage.decided_by_id) == (
        "turned_back",
        "no_valid_pass",
        gate_operator.id,
    )


def test_an_officer_decides_on_a_referred_vehicle_from_the_referrals_queue(
    client, console_client, auth_headers, session, gate_operator, officer
):
    _gate, passage_id = referred_passage(client, auth_headers, session, gate_operator)
    desk = console_client(officer)
    queue = desk.get("/console/officer/referrals").data
    assert f'data-passage="{passage_id}"'.encode() in queue

    desk.post(
        f"/console/officer/referrals/{passage_id}/decision",
        data={"action": "inspect", "reason_code": "random_check", "csrf_token": csrf_of(queue)},
    )

    passage = session.get(GatePassage, passage_id)
    session.refresh(passage)
    assert passage.status.value == "inspection"
    assert f'data-passage="{passage_id}"'.encode() not in desk.get("/console/officer/referrals").data


def test_a_decision_without_a_reason_code_is_refused_with_the_reason(
    client, console_client, auth_headers, session, gate_operator
):
    gate, passage_id = referred_passage(client, auth_headers, session, gate_operator)
    desk = console_client(gate_operator)
    token = csrf_of(desk.get("/console/gate", query_string={"gate_id": gate.id}).data)

    page = desk.post(
        f"/console/gate/passages/{passage_id}/decision",
        data={"action": "clear", "csrf_token": token},
        follow_redirects=True,
    )

    assert b'class="flash error"' in page.data
    assert session.get(GatePassage, passage_id).status.value == "referred"


def test_the_gate_screen_reads_chinese_when_chosen(console_client, session, gate_operator):
    desk = console_client(gate_operator)
    page = desk.get("/console/gate")
    desk.post("/console/language", data={"lang": "zh", "csrf_token": csrf_of(page.data)})

    chinese = desk.get("/console/gate").data.decode()

    assert "卡口大屏" in chinese and "每隔几秒自动刷新。" in chinese
