"""Admins change the run-time rules in the console through the rules service: same bounds, same audit, at once."""

from __future__ import annotations

from sqlalchemy import select

from app.audit.models import AuditEvent
from app.users.models import Role
from tests.console.conftest import csrf_of
from tests.factories import make_user

PAGE = "/console/admin/rules"


def _admin(console_client, session):
    return console_client(make_user(session, role=Role.ADMIN))


def _post(client, path, data):
    return client.post(path, data={**data, "csrf_token": csrf_of(client.get("/console/").data)})


def test_the_rules_page_lists_every_rule_with_its_value(console_client, session):
    client = _admin(console_client, session)

    page = client.get(PAGE)

    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Weighbridge tolerance" in text
    assert 'id="value-gate_weight_tolerance_percent"' in text
    assert 'id="value-trace_network_window_hours"' in text
    assert f'href="{PAGE}"' in text  # the menu entry


def test_an_admin_changes_a_rule_and_the_next_request_applies_it(console_client, session, client, auth_headers):
    console = _admin(console_client, session)

    answer = _post(console, f"{PAGE}/trace_scan_limit", {"value": "12"})

    assert answer.status_code == 302
    page = console.get(PAGE).get_data(as_text=True)
    assert 'id="value-trace_scan_limit" name="value" inputmode="decimal" value="12"' in page
    assert 'id="reset-trace_scan_limit"' in page
    api = client.get("/api/v1/rules/trace_scan_limit", headers=auth_headers(make_user(session, role=Role.ADMIN)))
    assert api.json["value"] == "12"
    action = session.scalar(select(AuditEvent.action).where(AuditEvent.target_id == "trace_scan_limit"))
    assert action == "admin.rule_changed"


def test_a_value_out_of_bounds_is_refused_beside_its_rule(console_client, session):
    client = _admin(console_client, session)

    answer = _post(client, f"{PAGE}/gate_overdue_hours", {"value": "1000"})

    assert answer.status_code == 400
    assert "Must be between 1 and 720." in answer.get_data(as_text=True)
    assert session.scalar(select(AuditEvent.id).where(AuditEvent.target_id == "gate_overdue_hours")) is None


def test_a_reset_brings_the_default_back(console_client, session):
    client = _admin(console_client, session)
    _post(client, f"{PAGE}/gate_weight_tolerance_percent", {"value": "7.5"})

    answer = _post(client, f"{PAGE}/gate_weight_tolerance_percent/reset", {})

    assert answer.status_code == 302
    page = client.get(PAGE).get_data(as_text=True)
    assert 'id="value-gate_weight_tolerance_percent" name="value" inputmode="decimal" value="3"' in page
    assert 'id="reset-gate_weight_tolerance_percent"' not in page


def test_an_unknown_rule_is_not_found(console_client, session):
    client = _admin(console_client, session)

    assert _post(client, f"{PAGE}/coffee_break_minutes", {"value": "5"}).status_code == 404


def test_an_officer_cannot_open_or_post_the_rules(console_client, session):
    client = console_client(make_user(session, role=Role.CUSTOMS_OFFICER))

    assert client.get(PAGE).status_code == 403
    assert _post(client, f"{PAGE}/trace_scan_limit", {"value": "1"}).status_code == 403
    assert session.scalar(select(AuditEvent.id).where(AuditEvent.target_id == "trace_scan_limit")) is None


def test_a_change_without_its_csrf_token_changes_nothing(console_client, session):
    client = _admin(console_client, session)

    answer = client.post(f"{PAGE}/trace_scan_limit", data={"value": "3"})

    assert answer.status_code == 400
    assert session.scalar(select(AuditEvent.id).where(AuditEvent.target_id == "trace_scan_limit")) is None
