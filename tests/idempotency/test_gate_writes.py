"""Gate writes (passes, arrivals, weighings, decisions, the gates themselves), each sent twice with one
Idempotency-Key: done once, answered the same twice."""

from app.declarations.models import DeclarationStatus
from app.gates.models import Gate, GatePass, GatePassage, Lane, PassStatus, Vehicle
from app.risk.models import RiskWarning
from app.users.models import Role
from tests.factories import make_declaration, make_gate, make_gate_pass, make_user, make_vehicle
from tests.gates.helpers import ARRIVALS, PASSAGES, PASSES, arrive, weigh
from tests.idempotency.helpers import audited, count, twice


def test_a_gate_pass_declared_twice_is_one_pass(client, session, auth_headers, declarant):
    vehicle = make_vehicle(session)
    released = make_declaration(session, declarant=declarant, status=DeclarationStatus.RELEASED)
    body = {
        "plate": vehicle.plate,
        "passport_type": "second_line",
        "bind_type": "one_vehicle_many_lists",
        "direction": "out",
        "customs_code": "8012",
        "declaration_ids": [released.id],
        "goods_gross_kg": "1500",
        "goods_net_kg": "1400",
    }

    first = twice(client, "POST", PASSES, headers=auth_headers(declarant), json=body)

    assert first.status_code == 201
    assert count(session, GatePass, GatePass.vehicle_id == vehicle.id) == 1


def test_a_void_sent_twice_answers_voided_twice(client, session, auth_headers, declarant):
    gate_pass = make_gate_pass(session, declarant=declarant)

    first = twice(client, "POST", f"{PASSES}/{gate_pass.id}/void", headers=auth_headers(declarant))

    assert first.json["status"] == "voided"
    assert audited(session, "gate.pass_voided") == 1


def test_an_approval_sent_twice_is_recorded_once(client, session, auth_headers, officer):
    gate_pass = make_gate_pass(session, status=PassStatus.DECLARED)

    first = twice(client, "POST", f"{PASSES}/{gate_pass.id}/approve", headers=auth_headers(officer))

    assert first.json["status"] == "approved"
    assert audited(session, "gate.pass_approved") == 1


def test_a_hold_sent_twice_is_recorded_once(client, session, auth_headers, officer):
    gate_pass = make_gate_pass(session)

    first = twice(
        client, "POST", f"{PASSES}/{gate_pass.id}/hold", headers=auth_headers(officer), json={"reason": "布控指令"}
    )

    assert first.json["status"] == "held"
    assert audited(session, "gate.pass_held") == 1


def test_an_arrival_sent_twice_is_one_passage_answered_as_created(client, session, auth_headers, gate_operator):
    gate = make_gate(session)
    gate_pass = make_gate_pass(session)

    first = twice(
        client,
        "POST",
        ARRIVALS,
        headers=auth_headers(gate_operator),
        json={"gate_id": gate.id, "direction": "out", "plate": gate_pass.plate},
    )

    # Done again, the arrival would answer 200 "already at the gate".
    assert first.status_code == 201
    assert count(session, GatePassage, GatePassage.gate_id == gate.id) == 1


def test_a_weighing_sent_twice_is_weighed_once(client, session, auth_headers, gate_operator):
    ops = auth_headers(gate_operator)
    gate_pass = make_gate_pass(session)
    passage_id = arrive(client, ops, make_gate(session), gate_pass.plate).json["id"]

    # Far outside tolerance: the weighing refers the vehicle and raises one risk warning.
    first = twice(client, "POST", f"{PASSAGES}/{passage_id}/weight", headers=ops, json={"weighbridge_kg": "20000"})

    assert first.json["status"] == "referred"
    assert count(session, RiskWarning) == 1


def test_a_decision_sent_twice_is_decided_once(client, session, auth_headers, gate_operator):
    ops = auth_headers(gate_operator)
    passage_id = arrive(client, ops, make_gate(session), "渝C12345").json["id"]
    weigh(client, ops, passage_id, "5000")
    decided_before = audited(session, "gate.passage_decided")  # the weighbridge's own referral is on the chain too

    first = twice(
        client,
        "POST",
        f"{PASSAGES}/{passage_id}/decision",
        headers=ops,
        json={"action": "turn_back", "reason_code": "no_valid_pass"},
    )

    assert first.json["status"] == "turned_back"
    assert audited(session, "gate.passage_decided") == decided_before + 1


def test_a_vehicle_registered_twice_is_one_vehicle(client, session, auth_headers, declarant):
    body = {"plate": "渝A55555", "vehicle_class": "general", "tare_kg": "7500"}

    first = twice(client, "POST", "/api/v1/vehicles", headers=auth_headers(declarant), json=body)

    assert first.status_code == 201
    assert count(session, Vehicle, Vehicle.plate == "渝A55555") == 1


def test_a_gate_and_its_lane_registered_twice_are_one_of_each(client, session, auth_headers, admin):
    headers = auth_headers(admin)

    gate = twice(
        client,
        "POST",
        "/api/v1/gates",
        headers=headers,
        json={"code": "xy-kk9", "name": "九号卡口", "customs_code": "8012"},
    )
    twice(
        client,
        "POST",
        f"/api/v1/gates/{gate.json['id']}/lanes",
        headers=headers,
        json={"code": "e01", "lane_type": "container", "direction": "out"},
    )

    assert count(session, Gate, Gate.code == "XY-KK9") == 1
    assert count(session, Lane, Lane.gate_id == gate.json["id"]) == 1


def test_a_lane_switch_sent_twice_is_switched_and_audited_once(client, session, auth_headers):
    gate = make_gate(session)
    operator = make_user(session, role=Role.GATE_OPERATOR)

    first = twice(
        client, "PATCH", f"/api/v1/lanes/{gate.lanes[0].id}", headers=auth_headers(operator), json={"state": "closed"}
    )

    assert first.json["state"] == "closed"
    assert audited(session, "gate.lane_switched") == 1
