"""Admins read and change the run-time rules over the API; a change is audited and takes effect without a restart."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.common import clock
from app.declarations.models import DeclarationStatus
from app.users.models import Role
from tests.factories import make_declaration, make_gate, make_gate_pass, make_user
from tests.gates.helpers import arrive, weigh
from tests.trace.helpers import GTIN, issue, make_setup, release, set_status

RULES = "/api/v1/rules"
KEYS = [
    "gate_weight_tolerance_percent",
    "gate_overdue_hours",
    "trace_scan_limit",
    "trace_network_limit",
    "trace_region_limit",
    "trace_network_window_hours",
]


@pytest.fixture
def admin_headers(session, auth_headers):
    return auth_headers(make_user(session, role=Role.ADMIN))


def put_rule(client, headers, key, value):
    return client.put(f"{RULES}/{key}", json={"value": value}, headers=headers)


def test_an_admin_lists_every_rule_with_its_default_and_bounds(client, admin_headers):
    answer = client.get(RULES, headers=admin_headers)

    assert answer.status_code == 200
    rules = {rule["key"]: rule for rule in answer.json["items"]}
    assert list(rules) == KEYS
    tolerance = rules["gate_weight_tolerance_percent"]
    assert (tolerance["value"], tolerance["default"], tolerance["overridden"]) == ("3", "3", False)
    assert (tolerance["minimum"], tolerance["maximum"], tolerance["unit"]) == ("0", "20", "percent")
    assert tolerance["label"] == "Weighbridge tolerance"
    assert rules["gate_overdue_hours"]["value"] == "72"
    assert (rules["trace_scan_limit"]["value"], rules["trace_scan_limit"]["kind"]) == ("50", "integer")


def test_an_admin_changes_a_rule_and_sees_who_changed_it(client, admin_headers):
    answer = put_rule(client, admin_headers, "gate_weight_tolerance_percent", "4.5")

    assert answer.status_code == 200
    assert (answer.json["value"], answer.json["default"], answer.json["overridden"]) == ("4.5", "3", True)
    assert answer.json["updated_by"] is not None
    assert answer.json["updated_at"] is not None
    read = client.get(f"{RULES}/gate_weight_tolerance_percent", headers=admin_headers).json
    assert read["value"] == "4.5"


def test_a_change_is_audited_from_the_old_value_to_the_new(client, session, admin_headers):
    put_rule(client, admin_headers, "trace_scan_limit", 20)
    put_rule(client, admin_headers, "trace_scan_limit", 30)

    events = session.scalars(
        select(AuditEvent).where(AuditEvent.target_type == "rule_settings").order_by(AuditEvent.id)
    ).all()
    assert [(event.action, event.target_id, event.details) for event in events] == [
        ("admin.rule_changed", "trace_scan_limit", {"value": {"from": "50", "to": "20"}}),
        ("admin.rule_changed", "trace_scan_limit", {"value": {"from": "20", "to": "30"}}),
    ]


def test_setting_a_rule_to_its_default_pins_it_and_is_audited(client, session, admin_headers):
    answer = put_rule(client, admin_headers, "trace_region_limit", 3)

    assert (answer.json["value"], answer.json["overridden"]) == ("3", True)
    action = session.scalar(select(AuditEvent.action).where(AuditEvent.target_id == "trace_region_limit"))
    assert action == "admin.rule_changed"


def test_a_reset_returns_the_rule_to_its_default_and_is_audited(client, session, admin_headers):
    put_rule(client, admin_headers, "gate_overdue_hours", 24)

    answer = client.delete(f"{RULES}/gate_overdue_hours", headers=admin_headers)

    assert answer.status_code == 200
    assert (answer.json["value"], answer.json["overridden"], answer.json["updated_by"]) == ("72", False, None)
    last = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert (last.action, last.details) == ("admin.rule_reset", {"value": {"from": "24", "to": "72"}})


@pytest.mark.parametrize("role", [Role.CUSTOMS_OFFICER, Role.GATE_OPERATOR, Role.DECLARANT])
def test_only_admins_read_or_change_rules(client, session, auth_headers, role):
    headers = auth_headers(make_user(session, role=role))

    assert client.get(RULES, headers=headers).status_code == 403
    assert put_rule(client, headers, "trace_scan_limit", 10).status_code == 403
    assert client.delete(f"{RULES}/trace_scan_limit", headers=headers).status_code == 403


def test_signed_out_callers_are_refused(client):
    assert client.get(RULES).status_code == 401


def test_an_unknown_rule_is_not_found(client, admin_headers):
    answer = put_rule(client, admin_headers, "coffee_break_minutes", 15)

    assert answer.status_code == 404
    assert answer.json["code"] == "not_found"
    assert client.get(f"{RULES}/coffee_break_minutes", headers=admin_headers).status_code == 404


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("gate_weight_tolerance_percent", "20.01"),
        ("gate_weight_tolerance_percent", "-1"),
        ("gate_weight_tolerance_percent", "2.345"),
        ("gate_overdue_hours", 0),
        ("gate_overdue_hours", 721),
        ("trace_scan_limit", 0),
        ("trace_network_limit", "2.5"),
        ("trace_region_limit", "many"),
        ("trace_network_window_hours", "1e400"),
    ],
)
def test_a_value_out_of_bounds_is_refused_naming_the_field(client, admin_headers, key, value):
    answer = put_rule(client, admin_headers, key, value)

    assert answer.status_code == 422, answer.json
    assert answer.json["code"] == "validation_failed"
    assert list(answer.json["errors"]["json"]) == ["value"]
    assert client.get(f"{RULES}/{key}", headers=admin_headers).json["overridden"] is False


def test_the_bounds_themselves_are_allowed(client, admin_headers):
    assert put_rule(client, admin_headers, "gate_weight_tolerance_percent", 0).json["value"] == "0"
    assert put_rule(client, admin_headers, "gate_weight_tolerance_percent", "20.00").json["value"] == "20"
    assert put_rule(client, admin_headers, "gate_overdue_hours", "720").json["value"] == "720"


def test_a_repeated_change_with_its_idempotency_key_is_answered_the_same(client, session, admin_headers):
    headers = {**admin_headers, "Idempotency-Key": "rule-1"}

    first = client.put(f"{RULES}/trace_region_limit", json={"value": 4}, headers=headers)
    again = client.put(f"{RULES}/trace_region_limit", json={"value": 4}, headers=headers)

    assert (first.status_code, again.status_code) == (200, 200)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json == first.json


# The effect: the next request applies the new value (in this process at once; elsewhere within the cache's ttl).


def test_a_weighing_within_the_old_tolerance_is_referred_under_a_tighter_one(
    client, session, auth_headers, admin_headers, declarant
):
    gate = make_gate(session)
    ops = auth_headers(make_user(session, role=Role.GATE_OPERATOR))
    first, second = make_gate_pass(session, declarant=declarant), make_gate_pass(session, declarant=declarant)

    # 1.5 % over the expected 10,000 kg: within the default 3 %.
    before = weigh(client, ops, arrive(client, ops, gate, first.plate).json["id"], "10150")
    put_rule(client, admin_headers, "gate_weight_tolerance_percent", "1")
    after = weigh(client, ops, arrive(client, ops, gate, second.plate).json["id"], "10150")

    assert before.json["status"] == "auto_cleared"
    assert (after.json["status"], after.json["reasons"]) == ("referred", ["weight_out_of_tolerance"])


def test_a_weighing_outside_the_old_tolerance_is_cleared_under_a_wider_one(
    client, session, auth_headers, admin_headers, declarant
):
    gate = make_gate(session)
    ops = auth_headers(make_user(session, role=Role.GATE_OPERATOR))
    gate_pass = make_gate_pass(session, declarant=declarant)
    put_rule(client, admin_headers, "gate_weight_tolerance_percent", "5")

    # 4 % over: referred under the default 3 %.
    decided = weigh(client, ops, arrive(client, ops, gate, gate_pass.plate).json["id"], "10400")

    assert (decided.json["status"], decided.json["reasons"]) == ("auto_cleared", [])


def test_a_lower_scan_limit_makes_a_code_suspicious_sooner(client, session, auth_headers, admin_headers):
    setup = make_setup(session)
    headers = auth_headers(setup.operator)
    serial = issue(client, headers, setup.declaration.id, 1).json["codes"][0]["serial"]
    set_status(client, headers, "affixed", serials=[serial])
    release(client, auth_headers(setup.officer), setup.declaration.id)
    path = f"/01/{GTIN}/21/{serial}"
    looked_up = [client.get(path, headers={"Accept": "application/json"}).json["verdict"] for _ in range(2)]

    put_rule(client, admin_headers, "trace_scan_limit", 2)
    then = client.get(path, headers={"Accept": "application/json"}).json["verdict"]

    assert (looked_up, then) == (["genuine", "genuine"], "suspicious")
    warnings = client.get("/api/v1/risk/warnings?source=trace", headers=auth_headers(setup.officer)).json["items"]
    assert [warning["details"]["lookup_limit"] for warning in warnings] == [2]


def test_the_overdue_sweep_uses_the_hours_the_admin_set(app, client, session, auth_headers, admin_headers):
    released = make_declaration(
        session, status=DeclarationStatus.RELEASED, released_at=clock.utcnow() - timedelta(hours=10)
    )
    officer = auth_headers(make_user(session, role=Role.CUSTOMS_OFFICER))
    runner = app.test_cli_runner()

    runner.invoke(args=["risk", "sweep"])
    before = client.get("/api/v1/risk/warnings?source=overdue_gate", headers=officer).json["items"]
    put_rule(client, admin_headers, "gate_overdue_hours", 8)
    swept = runner.invoke(args=["risk", "sweep"])

    assert swept.exit_code == 0, swept.output
    after = client.get("/api/v1/risk/warnings?source=overdue_gate", headers=officer).json["items"]
    assert before == []
    assert [warning["declaration_id"] for warning in after] == [released.id]
    assert "8" in after[0]["title"]
