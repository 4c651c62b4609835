from decimal import Decimal

import pytest
from sqlalchemy import select

from app.exports import port
from app.exports.models import ExportContainer, ParcelStage
from app.gates.models import PassStatus, VehicleClass
from app.notices.models import Notice, NoticeKind
from app.users.models import Role
from tests.exports.loading_helpers import (
    CONTAINERS,
    LOAD,
    container_body,
    operator_of,
    parcel,
    released_list,
    steps,
    warehouse_enterprise,
    waybills_of,
)
from tests.factories import make_gate, make_user, make_vehicle
from tests.gates.helpers import PASSES, arrive, weigh

SEAL = "CQSEAL0001"
TARE = Decimal("3000.0")


@pytest.fixture
def warehouse(session):
    return warehouse_enterprise(session)


@pytest.fixture
def operator(session, warehouse, auth_headers):
    return auth_headers(operator_of(session, warehouse))


@pytest.fixture
def gate_staff(session, auth_headers):
    return auth_headers(make_user(session, role=Role.GATE_OPERATOR))


@pytest.fixture
def van(session):
    return make_vehicle(session, vehicle_class=VehicleClass.ECOMMERCE_VAN, tare_kg=TARE)


def sealed_container(session, client, operator, warehouse, declarant, *, recheck_released=0):
    lists = [released_list(session, warehouse, parcels=2, declarant=declarant) for _ in range(2)]
    waybills = [w for export in lists for w in waybills_of(session, export)]
    for waybill in waybills[:recheck_released]:
        parcel(session, waybill).rechecked_at = parcel(session, waybill).updated_at
    session.flush()
    body = {**container_body(), "seal_no": SEAL, "bags": [{"bag_no": "MB-0001", "waybills": waybills}]}
    response = client.post(LOAD, json=body, headers=operator)
    assert response.status_code == 201, response.json
    return response.json["container"], lists, waybills


def through_the_gate(client, gate_staff, officer_headers, container, van, gate):
    gate_pass = client.get(f"{PASSES}/{container['gate_pass_id']}", headers=officer_headers).json
    assert client.post(f"{PASSES}/{gate_pass['id']}/approve", headers=officer_headers).status_code == 200
    arrived = arrive(client, gate_staff, gate, van.plate, container_no=container["container_no"], eseal_no=SEAL)
    assert arrived.status_code == 201, arrived.json
    weighed = weigh(client, gate_staff, arrived.json["id"], gate_pass["total_kg"])
    return arrived.json, weighed.json


def test_a_sealed_container_leaves_by_the_ecommerce_lane_and_the_port_gets_one_record(
    session, client, warehouse, operator, declarant, officer, auth_headers, gate_staff, van
):
    officer_headers = auth_headers(officer)
    container, lists, waybills = sealed_container(session, client, operator, warehouse, declarant, recheck_released=1)
    gate = make_gate(session)

    declared = client.post(f"{CONTAINERS}/{container['id']}/gate-pass", json={"plate": van.plate}, headers=operator)
    assert declared.status_code == 200, declared.json
    gate_pass = client.get(f"{PASSES}/{declared.json['gate_pass_id']}", headers=officer_headers).json
    assert (gate_pass["passport_type"], gate_pass["direction"]) == ("first_line", "out")
    assert (gate_pass["container_no"], gate_pass["eseal_no"]) == (container["container_no"], SEAL)
    assert gate_pass["goods_gross_kg"] == "6.0"
    assert [d["id"] for d in gate_pass["declarations"]] == [export.id for export in lists]
    arrived, weighed = through_the_gate(client, gate_staff, officer_headers, declared.json, van, gate)
    assert arrived["lane"]["lane_type"] == "ecommerce"
    assert weighed["status"] == "auto_cleared"

    left = client.post(f"{CONTAINERS}/{container['id']}/left-zone", headers=gate_staff)
    record = client.get(f"{CONTAINERS}/{container['id']}/port-record", headers=gate_staff)

    assert left.status_code == 200, left.json
    assert left.json["status"] == "left_zone"
    assert {parcel(session, waybill).stage for waybill in waybills} == {ParcelStage.LOADED}
    assert record.status_code == 200, record.json
    assert record.json["port_reference"].startswith("PORT-ZPL8013")
    sent = record.json["record"]
    assert (sent["container"]["container_no"], sent["container"]["seal_no"]) == (container["container_no"], SEAL)
    assert (sent["gate"]["passport_no"], sent["gate"]["lane_type"]) == (gate_pass["passport_no"], "ecommerce")
    assert [bag["waybills"] for bag in sent["bags"]] == [waybills]
    assert [item["cop_no"] for item in sent["lists"]] == [export.cop_no for export in lists]
    inspection = sent["zone_inspection"]
    assert (inspection["done"], inspection["port_inspection_needed"]) == (True, False)
    assert (inspection["passed_by_line"], inspection["released_by_recheck"]) == (3, 1)
    assert inspection["rechecked_waybills"] == waybills[:1]
    (step,) = steps(session, lists[0], "left_zone")
    assert (step.biz_step.value, step.disposition.value) == ("departing", "in_transit")
    notices = session.scalars(select(Notice.kind).where(Notice.recipient_id == declarant.id)).all()
    assert notices.count(NoticeKind.EXPORT_LEFT_ZONE) == 2
    again = client.post(f"{CONTAINERS}/{container['id']}/left-zone", headers=gate_staff)
    assert (again.status_code, again.json["left_zone_at"]) == (200, left.json["left_zone_at"])


def test_the_gates_own_checks_hold_a_container_whose_seal_does_not_match(
    session, client, warehouse, operator, declarant, officer, auth_headers, gate_staff, van
):
    container, _, _ = sealed_container(session, client, operator, warehouse, declarant)
    client.post(f"{CONTAINERS}/{container['id']}/gate-pass", json={"plate": van.plate}, headers=operator)
    container = client.get(f"{CONTAINERS}/{container['id']}", headers=operator).json
    officer_headers = auth_headers(officer)
    client.post(f"{PASSES}/{container['gate_pass_id']}/approve", headers=officer_headers)
    gate = make_gate(session)
    arrived = arrive(client, gate_staff, gate, van.plate, container_no=container["container_no"], eseal_no="OTHERSEAL")
    total = client.get(f"{PASSES}/{container['gate_pass_id']}", headers=officer_headers).json["total_kg"]

    weighed = weigh(client, gate_staff, arrived.json["id"], total)
    left = client.post(f"{CONTAINERS}/{container['id']}/left-zone", headers=gate_staff)

    assert (weighed.json["status"], weighed.json["reasons"]) == ("referred", ["eseal_mismatch"])
    assert (left.status_code, left.json["code"]) == (409, "invalid_transition")
    assert client.get(f"{CONTAINERS}/{container['id']}/port-record", headers=gate_staff).status_code == 404


def test_a_gate_pass_needs_a_sealed_container_and_an_ecommerce_van(
    session, client, warehouse, operator, declarant, van
):
    open_container = client.post(CONTAINERS, json=container_body(1), headers=operator).json
    sealed, _, _ = sealed_container(session, client, operator, warehouse, declarant)
    truck = make_vehicle(session, vehicle_class=VehicleClass.CONTAINER)

    unsealed = client.post(
        f"{CONTAINERS}/{open_container['id']}/gate-pass", json={"plate": van.plate}, headers=operator
    )
    wrong_vehicle = client.post(f"{CONTAINERS}/{sealed['id']}/gate-pass", json={"plate": truck.plate}, headers=operator)

    assert (unsealed.status_code, unsealed.json["code"]) == (409, "invalid_transition")
    assert wrong_vehicle.status_code == 422
    assert "plate" in wrong_vehicle.json["errors"]["json"]


def test_a_gate_pass_declared_twice_is_the_same_pass(session, client, warehouse, operator, declarant, van):
    container, _, _ = sealed_container(session, client, operator, warehouse, declarant)
    url = f"{CONTAINERS}/{container['id']}/gate-pass"

    first = client.post(url, json={"plate": van.plate}, headers=operator)
    second = client.post(url, json={"plate": van.plate}, headers=operator)

    assert first.json["gate_pass_id"] == second.json["gate_pass_id"]


def test_a_port_that_refuses_the_record_keeps_the_container_in_the_zone(
    session, client, warehouse, operator, declarant, officer, auth_headers, gate_staff, van, monkeypatch
):
    container, _, _ = sealed_container(session, client, operator, warehouse, declarant)
    declared = client.post(f"{CONTAINERS}/{container['id']}/gate-pass", json={"plate": van.plate}, headers=operator)

    class Refusing:
        name = "refusing"

        def send(self, record):
            return port.PortAnswer(accepted=False, reason="manifest closed")

    monkeypatch.setattr("app.exports.release.port_gateway", lambda: Refusing())
    # The gate lets the vehicle through whatever the port says; the container waits for the port in the records.
    _, weighed = through_the_gate(client, gate_staff, auth_headers(officer), declared.json, van, make_gate(session))
    assert weighed["status"] == "auto_cleared"
    response = client.post(f"{CONTAINERS}/{container['id']}/left-zone", headers=gate_staff)

    assert (response.status_code, response.json["code"]) == (409, "port_refused")
    assert session.get(ExportContainer, container["id"]).status.value == "sealed"
    assert session.get(ExportContainer, container["id"]).gate_pass_id is not None
    assert (
        PassStatus.PASSED.value
        == client.get(f"{PASSES}/{declared.json['gate_pass_id']}", headers=auth_headers(officer)).json["status"]
    )


def test_only_the_gate_or_an_officer_reports_a_container_out(client, operator, declarant, auth_headers):
    container = client.post(CONTAINERS, json=container_body(), headers=operator).json

    assert client.post(f"{CONTAINERS}/{container['id']}/left-zone", headers=operator).status_code == 403
    assert client.post(f"{CONTAINERS}/{container['id']}/left-zone", headers=auth_headers(declarant)).status_code == 403
