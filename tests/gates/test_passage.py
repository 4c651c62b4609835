import pytest

from app.declarations.models import DeclarationStatus
from app.gates.models import Direction, LaneState, LaneType, PassportType, PassStatus, VehicleClass
from app.notices.models import NoticeKind
from app.users.models import Role
from tests.factories import (
    CONTAINER_NOS,
    make_declaration,
    make_enterprise,
    make_gate,
    make_gate_pass,
    make_user,
    make_vehicle,
)
from tests.gates.helpers import PASSES, WARNINGS, arrive, decide, notice_kinds, weigh


def timeline_steps(client, headers, declaration):
    events = client.get(f"/api/v1/declarations/{declaration.id}/timeline", headers=headers).json["events"]
    return [(event["step"], event["biz_step"]) for event in events]


def test_an_approved_pass_with_matching_weight_is_cleared_automatically_in_the_right_lane(
    client, auth_headers, session, gate, gate_operator, declarant
):
    gate_pass = make_gate_pass(session, declarant=declarant)
    ops = auth_headers(gate_operator)

    arrived = arrive(client, ops, gate, gate_pass.plate, ic_no=gate_pass.vehicle.ic_no)

    assert arrived.status_code == 201
    assert arrived.json["lane"]["lane_type"] == "general"
    assert arrived.json["lane"]["direction"] == "out"
    assert arrived.json["passport_no"] == gate_pass.passport_no
    assert arrived.json["needs"] == ["weight"]

    decided = weigh(client, ops, arrived.json["id"], "10150.0")

    assert decided.status_code == 200
    assert decided.json["status"] == "auto_cleared"
    assert decided.json["reasons"] == []
    assert decided.json["wt_error_kg"] == "150.0"
    assert client.get(f"{PASSES}/{gate_pass.id}", headers=ops).json["status"] == "passed"
    assert notice_kinds(session, declarant) == [NoticeKind.GATE_PASSED]
    declaration = gate_pass.declarations[0]
    assert ("gate_passed", "departing") in timeline_steps(client, auth_headers(declarant), declaration)


@pytest.mark.parametrize(
    ("vehicle_class", "pilot", "passport_type", "lane_type"),
    [
        (VehicleClass.CONTAINER, False, PassportType.SECOND_LINE, "container"),
        (VehicleClass.ECOMMERCE_VAN, False, PassportType.SECOND_LINE, "ecommerce"),
        (VehicleClass.OVERLENGTH, True, PassportType.SECOND_LINE, "overlength"),
        (VehicleClass.GENERAL, True, PassportType.SECOND_LINE, "general_taxpayer_pilot"),
        (VehicleClass.GENERAL, True, PassportType.CHECKPOINT_REGISTERED, "convenient"),
    ],
)
def test_the_lane_follows_vehicle_class_pass_type_and_pilot_flag(
    client, auth_headers, session, gate, gate_operator, vehicle_class, pilot, passport_type, lane_type
):
    enterprise = make_enterprise(session, general_taxpayer_pilot=pilot)
    declarant = make_user(session, role=Role.DECLARANT, enterprise=enterprise)
    vehicle = make_vehicle(session, vehicle_class=vehicle_class)
    declarations = [] if passport_type is PassportType.CHECKPOINT_REGISTERED else None
    gate_pass = make_gate_pass(
        session, declarant=declarant, vehicle=vehicle, declarations=declarations, passport_type=passport_type
    )

    arrived = arrive(client, auth_headers(gate_operator), gate, gate_pass.plate)

    assert arrived.status_code == 201
    assert arrived.json["lane"]["lane_type"] == lane_type


def test_a_closed_preferred_lane_sends_the_vehicle_to_a_general_lane(client, auth_headers, session, gate_operator):
    gate = make_gate(session, lanes=[(LaneType.CONTAINER, Direction.OUT), (LaneType.GENERAL, Direction.OUT)])
    gate.lanes[0].state = LaneState.CLOSED
    gate_pass = make_gate_pass(session, vehicle=make_vehicle(session, vehicle_class=VehicleClass.CONTAINER))

    arrived = arrive(client, auth_headers(gate_operator), gate, gate_pass.plate)

    assert arrived.json["lane"]["lane_type"] == "general"


def test_an_overlength_truck_without_an_open_overlength_lane_is_not_given_another(
    client, auth_headers, session, gate_operator
):
    gate = make_gate(session, lanes=[(LaneType.GENERAL, Direction.OUT)])
    gate_pass = make_gate_pass(session, vehicle=make_vehicle(session, vehicle_class=VehicleClass.OVERLENGTH))

    arrived = arrive(client, auth_headers(gate_operator), gate, gate_pass.plate)

    assert arrived.status_code == 409
    assert arrived.json["code"] == "no_lane_open"


def test_a_weight_outside_tolerance_is_referred_held_and_raises_a_warning_an_officer_resolves(
    client, auth_headers, session, gate, gate_operator, declarant, officer
):
    gate_pass = make_gate_pass(session, declarant=declarant)
    ops = auth_headers(gate_operator)
    arrived = arrive(client, ops, gate, gate_pass.plate)

    decided = weigh(client, ops, arrived.json["id"], "10400")

    assert decided.json["status"] == "referred"
    assert decided.json["reasons"] == ["weight_out_of_tolerance"]
    assert decided.json["needs"] == ["hold_lifted", "decision"]
    assert client.get(f"{PASSES}/{gate_pass.id}", headers=ops).json["status"] == "held"
    assert notice_kinds(session, declarant) == [NoticeKind.GATE_REFERRED]
    queue = client.get(WARNINGS, query_string={"plate": gate_pass.plate}, headers=auth_headers(officer)).json
    [warning] = queue["items"]
    assert warning["source"] == "gate"
    assert warning["details"]["reasons"] == ["weight_out_of_tolerance"]
    assert warning["gate_passage_id"] == arrived.json["id"]

    resolved = client.post(
        f"{WARNINGS}/{warning['id']}/resolve",
        json={"resolution": "false_alarm", "notes": "地磅校准后复称一致"},
        headers=auth_headers(officer),
    )

    assert resolved.status_code == 200
    assert resolved.json["status"] == "resolved"


def test_every_mismatch_is_listed_plate_by_ic_container_and_weight(
    client, auth_headers, session, gate, gate_operator, declarant, officer
):
    vehicle = make_vehicle(session, vehicle_class=VehicleClass.CONTAINER, container_no=CONTAINER_NOS[0])
    gate_pass = make_gate_pass(session, declarant=declarant, vehicle=vehicle)
    ops = auth_headers(gate_operator)

    # The camera misread the plate; the e-plate (IC) still names the vehicle.
    arrived = arrive(client, ops, gate, "渝B99999", ic_no=vehicle.ic_no, container_no=CONTAINER_NOS[1])
    decided = weigh(client, ops, arrived.json["id"], "9000")

    assert arrived.json["passport_no"] == gate_pass.passport_no
    assert decided.json["reasons"] == ["plate_mismatch", "container_mismatch", "weight_out_of_tolerance"]
    [warning] = client.get(WARNINGS, query_string={"plate": vehicle.plate}, headers=auth_headers(officer)).json["items"]
    assert warning["severity"] == "high"
    assert notice_kinds(session, declarant) == [NoticeKind.GATE_REFERRED]


def test_a_container_the_camera_did_not_read_is_asked_for_and_referred(
    client, auth_headers, session, gate, gate_operator
):
    vehicle = make_vehicle(session, vehicle_class=VehicleClass.CONTAINER, container_no=CONTAINER_NOS[2])
    gate_pass = make_gate_pass(session, vehicle=vehicle)
    ops = auth_headers(gate_operator)

    arrived = arrive(client, ops, gate, gate_pass.plate)
    decided = weigh(client, ops, arrived.json["id"], "10000")

    assert arrived.json["needs"] == ["container_no", "weight"]
    assert decided.json["reasons"] == ["container_not_read"]


def test_a_pass_not_yet_approved_is_referred_without_a_risk_warning(
    client, auth_headers, session, gate, gate_operator, officer
):
    gate_pass = make_gate_pass(session, status=PassStatus.DECLARED)
    ops = auth_headers(gate_operator)

    arrived = arrive(client, ops, gate, gate_pass.plate)
    decided = weigh(client, ops, arrived.json["id"], "10000")

    assert arrived.json["needs"] == ["gate_pass_approval", "weight"]
    assert decided.json["reasons"] == ["pass_not_approved"]
    assert (
        client.get(WARNINGS, query_string={"plate": gate_pass.plate}, headers=auth_headers(officer)).json["items"] == []
    )


def test_an_unknown_vehicle_needs_a_pass_and_cannot_be_cleared(client, auth_headers, gate, gate_operator):
    ops = auth_headers(gate_operator)

    arrived = arrive(client, ops, gate, "渝C12345")
    decided = weigh(client, ops, arrived.json["id"], "5000")
    cleared = decide(client, ops, arrived.json["id"], "clear", "documents_verified")

    assert arrived.status_code == 201
    assert arrived.json["pass_id"] is None
    assert arrived.json["needs"] == ["gate_pass", "weight"]
    assert decided.json["reasons"] == ["no_valid_pass"]
    assert cleared.status_code == 409
    turned = decide(client, ops, arrived.json["id"], "turn_back", "no_valid_pass")
    assert turned.json["status"] == "turned_back"


def test_a_second_read_of_a_vehicle_at_the_gate_returns_its_passage(client, auth_headers, session, gate, gate_operator):
    gate_pass = make_gate_pass(session)
    ops = auth_headers(gate_operator)

    first = arrive(client, ops, gate, gate_pass.plate)
    again = arrive(client, ops, gate, gate_pass.plate)

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json["id"] == first.json["id"]


def test_the_gate_operator_clears_a_referred_vehicle_with_a_reason_and_the_pass_moves_on(
    client, auth_headers, session, gate, gate_operator, declarant, admin
):
    gate_pass = make_gate_pass(session, declarant=declarant)
    ops = auth_headers(gate_operator)
    arrived = arrive(client, ops, gate, gate_pass.plate)
    weigh(client, ops, arrived.json["id"], "11000")

    cleared = decide(client, ops, arrived.json["id"], "clear", "weighbridge_error", note="复称 10020kg")

    assert cleared.status_code == 200
    assert cleared.json["status"] == "cleared"
    assert cleared.json["decision_reason"] == "weighbridge_error"
    assert client.get(f"{PASSES}/{gate_pass.id}", headers=ops).json["status"] == "passed"
    assert notice_kinds(session, declarant) == [NoticeKind.GATE_REFERRED, NoticeKind.GATE_PASSED]
    audit = client.get(
        "/api/v1/admin/audit-events", query_string={"action": "gate.passage_decided"}, headers=auth_headers(admin)
    ).json["items"]
    assert audit[0]["details"]["reason_code"] == "weighbridge_error"


def test_a_decision_needs_a_known_reason_code(client, auth_headers, session, gate, gate_operator):
    gate_pass = make_gate_pass(session)
    ops = auth_headers(gate_operator)
    arrived = arrive(client, ops, gate, gate_pass.plate)
    weigh(client, ops, arrived.json["id"], "11000")

    response = decide(client, ops, arrived.json["id"], "clear", "because")

    assert response.status_code == 422
    assert "reason_code" in response.json["errors"]["json"]


def test_sending_to_inspection_issues_tasks_for_open_lists_and_warns_officers(
    client, auth_headers, session, gate, gate_operator, declarant, officer
):
    declaration = make_declaration(session, declarant=declarant, status=DeclarationStatus.ACCEPTED)
    gate_pass = make_gate_pass(
        session, declarant=declarant, declarations=[declaration], passport_type=PassportType.FIRST_LINE
    )
    ops = auth_headers(gate_operator)
    arrived = arrive(client, ops, gate, gate_pass.plate)
    weigh(client, ops, arrived.json["id"], "12000")

    sent = decide(client, ops, arrived.json["id"], "inspect", "weight_discrepancy")

    assert sent.json["status"] == "inspection"
    tasks = client.get(
        "/api/v1/inspection-tasks", query_string={"declaration_id": declaration.id}, headers=auth_headers(officer)
    ).json["items"]
    assert [task["source"] for task in tasks] == ["risk_alert"]
    [warning] = client.get(WARNINGS, query_string={"plate": gate_pass.plate}, headers=auth_headers(officer)).json[
        "items"
    ]
    assert warning["severity"] == "high"
    assert warning["occurrences"] == 2


def test_a_dual_gate_lane_moves_the_pass_one_gate_at_a_time(client, auth_headers, session, gate_operator):
    gate = make_gate(session, lanes=[(LaneType.GENERAL, Direction.OUT)])
    gate.lanes[0].dual_gate = True
    gate_pass = make_gate_pass(session)
    ops = auth_headers(gate_operator)

    first = arrive(client, ops, gate, gate_pass.plate)
    weigh(client, ops, first.json["id"], "10000")
    assert client.get(f"{PASSES}/{gate_pass.id}", headers=ops).json["status"] == "passed_gate_1"

    second = arrive(client, ops, gate, gate_pass.plate)
    weigh(client, ops, second.json["id"], "10000")

    assert second.json["id"] != first.json["id"]
    assert client.get(f"{PASSES}/{gate_pass.id}", headers=ops).json["status"] == "passed"


def test_an_unresolved_warning_about_the_vehicle_holds_it_for_a_person(
    client, auth_headers, session, gate, gate_operator
):
    camera = make_user(session, role=Role.VIDEO_ANALYTICS)
    gate_pass = make_gate_pass(session)
    client.post(
        "/api/v1/risk/video-events",
        json={
            "camera_id": "CAM-07",
            "occurred_at": "2026-11-20T08:00:00+08:00",
            "event_type": "tailgating",
            "plate": gate_pass.plate,
        },
        headers=auth_headers(camera),
    )
    ops = auth_headers(gate_operator)

    arrived = arrive(client, ops, gate, gate_pass.plate)
    decided = weigh(client, ops, arrived.json["id"], "10000")

    assert decided.json["reasons"] == ["open_risk_warning"]


def test_a_repeated_weight_reading_is_answered_the_same(client, auth_headers, session, gate, gate_operator):
    gate_pass = make_gate_pass(session)
    ops = auth_headers(gate_operator)
    arrived = arrive(client, ops, gate, gate_pass.plate)

    first = weigh(client, ops, arrived.json["id"], "10000")
    again = weigh(client, ops, arrived.json["id"], "10000")
    other = weigh(client, ops, arrived.json["id"], "9000")

    assert again.json == first.json
    assert other.status_code == 409


def test_only_gate_operators_report_arrivals(client, auth_headers, gate, declarant):
    response = arrive(client, auth_headers(declarant), gate, "渝A12345")

    assert response.status_code == 403


def test_weights_outside_the_scale_are_rejected(client, auth_headers, session, gate, gate_operator):
    gate_pass = make_gate_pass(session)
    ops = auth_headers(gate_operator)
    arrived = arrive(client, ops, gate, gate_pass.plate)

    response = weigh(client, ops, arrived.json["id"], "-5")

    assert response.status_code == 422
    assert "weighbridge_kg" in response.json["errors"]["json"]
