import re

import pytest

from app.declarations.models import DeclarationStatus
from app.gates.models import PassStatus
from app.users.models import Role
from tests.factories import CONTAINER_NOS, make_declaration, make_gate_pass, make_user, make_vehicle
from tests.gates.helpers import PASSES

GATES = "/api/v1/gates"
VEHICLES = "/api/v1/vehicles"
AUDIT = "/api/v1/admin/audit-events"


# Gates and lanes


def test_an_admin_builds_a_gate_with_lanes(client, auth_headers, admin, gate_operator):
    headers = auth_headers(admin)
    gate = client.post(GATES, json={"code": "xy-kk1", "name": "西永一号卡口", "customs_code": "8012"}, headers=headers)
    lane = client.post(
        f"{GATES}/{gate.json['id']}/lanes",
        json={"code": "e01", "lane_type": "container", "direction": "out", "dual_gate": True},
        headers=headers,
    )

    assert gate.status_code == 201
    assert gate.json["code"] == "XY-KK1"
    assert lane.status_code == 201
    read = client.get(f"{GATES}/{gate.json['id']}", headers=auth_headers(gate_operator)).json
    assert [(lane["code"], lane["lane_type"], lane["state"], lane["dual_gate"]) for lane in read["lanes"]] == [
        ("E01", "container", "open", True)
    ]


def test_a_gate_operator_switches_a_lane_and_the_switch_is_audited(client, auth_headers, gate, gate_operator, admin):
    lane = gate.lanes[0]

    switched = client.patch(
        f"/api/v1/lanes/{lane.id}",
        json={"lane_type": "convenient", "state": "closed"},
        headers=auth_headers(gate_operator),
    )

    assert switched.status_code == 200
    assert (switched.json["lane_type"], switched.json["state"]) == ("convenient", "closed")
    [event] = client.get(
        AUDIT, query_string={"action": "gate.lane_switched", "target_id": str(lane.id)}, headers=auth_headers(admin)
    ).json["items"]
    # make_gate's first lane is an overlength lane.
    assert event["details"]["lane_type"] == {"from": "overlength", "to": "convenient"}
    assert event["details"]["state"] == {"from": "open", "to": "closed"}


@pytest.mark.parametrize("role", [Role.DECLARANT, Role.CUSTOMS_OFFICER])
def test_others_may_not_switch_lanes(client, auth_headers, session, gate, role):
    headers = auth_headers(make_user(session, role=role))

    response = client.patch(f"/api/v1/lanes/{gate.lanes[0].id}", json={"state": "closed"}, headers=headers)

    assert response.status_code == 403


def test_a_lane_switch_must_change_something(client, auth_headers, gate, admin):
    response = client.patch(f"/api/v1/lanes/{gate.lanes[0].id}", json={}, headers=auth_headers(admin))

    assert response.status_code == 422


def test_a_reason_alone_switches_nothing(client, auth_headers, gate, admin):
    response = client.patch(
        f"/api/v1/lanes/{gate.lanes[0].id}", json={"reason": "Just because"}, headers=auth_headers(admin)
    )

    assert response.status_code == 422


def test_a_lane_turned_round_keeps_the_reason_in_its_audit_entry(client, auth_headers, gate, admin):
    lane = gate.lanes[0]

    switched = client.patch(
        f"/api/v1/lanes/{lane.id}",
        json={"direction": "out", "reason": "  Morning exports peak  "},
        headers=auth_headers(admin),
    )

    assert (switched.status_code, switched.json["direction"]) == (200, "out")
    [event] = client.get(
        AUDIT, query_string={"action": "gate.lane_switched", "target_id": str(lane.id)}, headers=auth_headers(admin)
    ).json["items"]
    assert event["details"] == {"direction": {"from": "in", "to": "out"}, "reason": "Morning exports peak"}


# Vehicles


@pytest.mark.parametrize("plate", ["渝A12345", "渝A·D12345", "粤B12345F", "川a 1234挂"])
def test_a_declarant_registers_vehicles_with_mainland_plates(client, auth_headers, declarant, plate):
    response = client.post(
        VEHICLES,
        json={"plate": plate, "vehicle_class": "general", "tare_kg": "7500"},
        headers=auth_headers(declarant),
    )

    assert response.status_code == 201
    assert re.fullmatch(r"[^\s·]+", response.json["plate"])
    assert response.json["enterprise_id"] == declarant.enterprise_id


@pytest.mark.parametrize("plate", ["ABC1234", "渝I12345", "渝A1234", "渝A123456"])
def test_plates_that_are_not_mainland_plates_are_rejected(client, auth_headers, declarant, plate):
    response = client.post(
        VEHICLES, json={"plate": plate, "vehicle_class": "general", "tare_kg": "7500"}, headers=auth_headers(declarant)
    )

    assert response.status_code == 422
    assert "plate" in response.json["errors"]["json"]


def test_container_numbers_are_checked_by_iso_6346(client, auth_headers, declarant):
    good = client.post(
        VEHICLES,
        json={"plate": "渝A55555", "vehicle_class": "container", "tare_kg": "9000", "container_no": "csqu 305438 3"},
        headers=auth_headers(declarant),
    )
    bad = client.post(
        VEHICLES,
        json={"plate": "渝A55556", "vehicle_class": "container", "tare_kg": "9000", "container_no": "CSQU3054384"},
        headers=auth_headers(declarant),
    )

    assert good.json["container_no"] == "CSQU3054383"
    assert bad.status_code == 422
    assert "container_no" in bad.json["errors"]["json"]


def test_a_plate_is_registered_once(client, auth_headers, session, declarant):
    vehicle = make_vehicle(session)

    response = client.post(
        VEHICLES,
        json={"plate": vehicle.plate, "vehicle_class": "general", "tare_kg": "7500"},
        headers=auth_headers(declarant),
    )

    assert response.status_code == 409
    assert response.json["code"] == "plate_taken"


def test_declarants_see_only_their_enterprises_vehicles(client, auth_headers, session, declarant, gate_operator):
    own = make_vehicle(session, enterprise=declarant.enterprise)
    other = make_vehicle(session)

    mine = client.get(VEHICLES, headers=auth_headers(declarant)).json["items"]
    theirs = client.get(f"{VEHICLES}/{other.id}", headers=auth_headers(declarant))

    assert [vehicle["id"] for vehicle in mine] == [own.id]
    assert theirs.status_code == 404
    assert client.get(f"{VEHICLES}/{other.id}", headers=auth_headers(gate_operator)).status_code == 200


# Gate passes


def declare(client, headers, vehicle, declarations, **overrides):
    body = {
        "plate": vehicle.plate,
        "passport_type": "second_line",
        "bind_type": "one_vehicle_many_lists",
        "direction": "out",
        "customs_code": "8012",
        "declaration_ids": [declaration.id for declaration in declarations],
        "goods_gross_kg": "1500",
        "goods_net_kg": "1400",
        **overrides,
    }
    return client.post(PASSES, json=body, headers=headers)


def test_a_declarant_declares_a_pass_and_an_officer_approves_it_once_the_lists_are_released(
    client, auth_headers, session, declarant, officer
):
    vehicle = make_vehicle(session)
    released = make_declaration(session, declarant=declarant, status=DeclarationStatus.RELEASED)
    pending = make_declaration(session, declarant=declarant, status=DeclarationStatus.AUDITED)

    declared = declare(client, auth_headers(declarant), vehicle, [released, pending])
    refused = client.post(f"{PASSES}/{declared.json['id']}/approve", headers=auth_headers(officer))
    pending.status = DeclarationStatus.RELEASED
    session.flush()
    approved = client.post(f"{PASSES}/{declared.json['id']}/approve", headers=auth_headers(officer))

    assert declared.status_code == 201
    assert re.fullmatch(r"Z8012E\d{6}\d{12}", declared.json["passport_no"])
    assert declared.json["total_kg"] == f"{vehicle.tare_kg + 1500:.1f}"
    assert declared.json["status"] == "declared"
    assert refused.status_code == 409
    assert pending.cop_no in refused.json["detail"]
    assert approved.json["status"] == "approved"


def test_the_customs_gateway_approves_a_pass_as_customs_receipt_sas221_would(client, auth_headers, session):
    gate_pass = make_gate_pass(session, status=PassStatus.DECLARED)
    gateway = make_user(session, role=Role.CUSTOMS_GATEWAY)

    approved = client.post(f"{PASSES}/{gate_pass.id}/approve", headers=auth_headers(gateway))

    assert approved.status_code == 200
    assert approved.json["status"] == "approved"


def test_checkpoint_registered_goods_need_no_declaration(client, auth_headers, session, declarant, officer):
    declared = declare(
        client,
        auth_headers(declarant),
        make_vehicle(session),
        [],
        passport_type="checkpoint_registered",
        bind_type="one_list_one_vehicle",
    )
    approved = client.post(f"{PASSES}/{declared.json['id']}/approve", headers=auth_headers(officer))

    assert declared.status_code == 201
    assert approved.json["status"] == "approved"


def test_a_second_line_pass_must_name_its_declarations(client, auth_headers, session, declarant):
    response = declare(client, auth_headers(declarant), make_vehicle(session), [])

    assert response.status_code == 422
    assert "declaration_ids" in response.json["errors"]["json"]


def test_a_pass_may_not_cover_another_enterprises_declarations(client, auth_headers, session, declarant):
    theirs = make_declaration(session, status=DeclarationStatus.RELEASED)

    response = declare(client, auth_headers(declarant), make_vehicle(session), [theirs])

    assert response.status_code == 422


def test_one_list_one_vehicle_binds_one_declaration(client, auth_headers, session, declarant):
    lists = [make_declaration(session, declarant=declarant, status=DeclarationStatus.RELEASED) for _ in range(2)]

    response = declare(client, auth_headers(declarant), make_vehicle(session), lists, bind_type="one_list_one_vehicle")

    assert response.status_code == 422


def test_a_vehicle_has_one_pass_in_play(client, auth_headers, session, declarant):
    gate_pass = make_gate_pass(session, declarant=declarant)
    released = make_declaration(session, declarant=declarant, status=DeclarationStatus.RELEASED)

    response = declare(client, auth_headers(declarant), gate_pass.vehicle, [released])

    assert response.status_code == 409
    assert response.json["code"] == "vehicle_has_live_pass"


def test_the_declarant_voids_an_unused_pass_but_not_a_used_one(client, auth_headers, session, declarant):
    unused = make_gate_pass(session, declarant=declarant)
    used = make_gate_pass(session, declarant=declarant, status=PassStatus.PASSED)

    voided = client.post(f"{PASSES}/{unused.id}/void", headers=auth_headers(declarant))
    refused = client.post(f"{PASSES}/{used.id}/void", headers=auth_headers(declarant))

    assert voided.json["status"] == "voided"
    assert refused.status_code == 409


def test_declarants_see_only_their_enterprises_passes(client, auth_headers, session, declarant):
    own = make_gate_pass(session, declarant=declarant)
    other = make_gate_pass(session)

    listed = client.get(PASSES, headers=auth_headers(declarant)).json["items"]

    assert [gate_pass["id"] for gate_pass in listed] == [own.id]
    assert client.get(f"{PASSES}/{other.id}", headers=auth_headers(declarant)).status_code == 404


def test_passes_can_carry_a_container_other_than_the_registered_one(client, auth_headers, session, declarant):
    vehicle = make_vehicle(session, container_no=CONTAINER_NOS[0])
    released = make_declaration(session, declarant=declarant, status=DeclarationStatus.RELEASED)

    declared = declare(client, auth_headers(declarant), vehicle, [released], container_no=CONTAINER_NOS[1])

    assert declared.json["container_no"] == CONTAINER_NOS[1]
