"""Issue 19's "done when", through the HTTP API alone: a 9610 list of parcels from submission to departure.

A declarant submits; customs' receipts accept and release it; the warehouse checks the vehicle's seal and scans the
parcels in; the X-ray line passes all but one, which is diverted, rechecked and released; the parcels are bagged and
loaded into a sealed container that leaves by the e-commerce lane against its gate pass (the port gets one record);
the departure closes the list. The declarant hears of every decision, the timeline and the EPCIS document tell the
whole chain, and another enterprise sees none of it.
"""

import json
from decimal import Decimal

import pytest
from jsonschema import Draft7Validator, FormatChecker
from sqlalchemy import select

from app.enterprises.models import EnterpriseKind
from app.gates.models import VehicleClass
from app.notices.models import Notice
from app.users.models import Role
from tests.exports.helpers import EXPORT_LISTS, RECEIPTS, export_body, receipt
from tests.exports.loading_helpers import CONTAINERS, DEPARTURES, LOAD, RECHECKS
from tests.factories import make_enterprise, make_gate, make_user, make_vehicle
from tests.gates.helpers import PASSES, arrive, weigh
from tests.trace.helpers import REFERENCE

SCAN_INS = "/api/v1/export-scan-ins"
LINE = "/api/v1/export-line/scans"
SEAL = "CQSEAL7001"


@pytest.fixture
def people(session, auth_headers):
    warehouse = make_enterprise(session, kinds=[EnterpriseKind.ZONE], name="西永综保出口监管仓")
    roles = {
        "declarant": make_user(session, role=Role.DECLARANT),
        "stranger": make_user(session, role=Role.DECLARANT),
        "operator": make_user(session, role=Role.WAREHOUSE_OPERATOR, enterprise=warehouse),
        "line": make_user(session, role=Role.XRAY_LINE, enterprise=warehouse),
        "officer": make_user(session, role=Role.CUSTOMS_OFFICER),
        "gateway": make_user(session, role=Role.CUSTOMS_GATEWAY),
        "gate": make_user(session, role=Role.GATE_OPERATOR),
    }
    headers = {name: auth_headers(user) for name, user in roles.items()}
    return warehouse, roles, headers


def ok(response, status=200):
    assert response.status_code == status, response.json
    return response.json


def test_a_9610_list_goes_from_submission_to_departure_and_the_declarant_hears_of_each_step(session, client, people):
    warehouse, users, h = people
    export = ok(client.post(EXPORT_LISTS, json=export_body(warehouse), headers=h["declarant"]), 201)
    waybills = [parcel["waybill_no"] for parcel in export["parcels"]]
    accepted = receipt(export["guid"], 120, "20261207090000000", invt_no="80122026E000000777")
    ok(client.post(RECEIPTS, json={"receipts": [accepted]}, headers=h["gateway"]))
    released = receipt(export["guid"], 800, "20261207091000000")
    ok(client.post(RECEIPTS, json={"receipts": [released]}, headers=h["gateway"]))

    vehicle = {"plate": "渝A·E7001", "seal_no": "SEAL-IN-7001", "seal_intact": True, "waybills": waybills}
    scanned = ok(client.post(SCAN_INS, json=vehicle, headers=h["operator"]))
    assert {item["outcome"] for item in scanned["items"]} == {"scanned_in"}

    answers = [
        ok(client.post(LINE, json=scan, headers=h["line"]))
        for scan in (
            {"waybill_no": waybills[0], "line_id": "XR-01", "image_ref": "xr/1.png", "verdict": "clear"},
            {"waybill_no": waybills[1], "line_id": "XR-01", "image_ref": "xr/2.png", "verdict": "suspect"},
            {"waybill_no": waybills[2], "line_id": "XR-01", "image_ref": "xr/3.png", "verdict": "clear"},
        )
    ]
    assert [(a["decision"], a["reason"]) for a in answers] == [("pass", None), ("divert", "machine"), ("pass", None)]

    ok(client.post(f"{EXPORT_LISTS}/{export['id']}/recheck-task", headers=h["officer"]))
    recheck = {"waybill_no": waybills[1], "result": "normal", "disposal": "release", "notes": "T恤，与申报相符"}
    ok(client.post(RECHECKS, json=recheck, headers=h["officer"]), 201)

    load = {
        "container_no": "AKE12345CA",
        "traf_mode": "5",
        "voyage_no": "CA1234",
        "bill_no": "999-12345675",
        "port_code": "8013",
        "seal_no": SEAL,
        "bags": [{"bag_no": "MB-7001", "waybills": waybills}],
    }
    container = ok(client.post(LOAD, json=load, headers=h["operator"]), 201)["container"]
    van = make_vehicle(session, vehicle_class=VehicleClass.ECOMMERCE_VAN, tare_kg=Decimal("3000.0"))
    declared = ok(
        client.post(f"{CONTAINERS}/{container['id']}/gate-pass", json={"plate": van.plate}, headers=h["operator"])
    )
    gate_pass = ok(client.get(f"{PASSES}/{declared['gate_pass_id']}", headers=h["officer"]))
    ok(client.post(f"{PASSES}/{gate_pass['id']}/approve", headers=h["officer"]))
    arrived = ok(
        arrive(client, h["gate"], make_gate(session), van.plate, container_no="AKE12345CA", eseal_no=SEAL), 201
    )
    assert arrived["lane"]["lane_type"] == "ecommerce"
    assert ok(weigh(client, h["gate"], arrived["id"], gate_pass["total_kg"]))["status"] == "auto_cleared"

    # The gate's clearance is the zone–port release: the port has its one record without another call.
    record = ok(client.get(f"{CONTAINERS}/{container['id']}/port-record", headers=h["gate"]))
    assert record["record"]["zone_inspection"]["port_inspection_needed"] is False
    assert [bag["waybills"] for bag in record["record"]["bags"]] == [waybills]

    departure = {
        "cop_no": "DEP-7001",
        "logistics_code": "500224L001",
        "logistics_name": "渝新欧国际物流",
        "traf_mode": "5",
        "traf_name": "CA",
        "voyage_no": "CA1234",
        "bill_no": "999-12345675",
        "leave_time": "20261207183000000",
        "return_status": 120,
    }
    assert ok(client.post(DEPARTURES, json=departure, headers=h["gateway"]))["outcome"] == "departed"

    final = ok(client.get(f"{EXPORT_LISTS}/{export['id']}", headers=h["declarant"]))
    assert final["status"] == "closed"
    assert {parcel["stage"] for parcel in final["parcels"]} == {"departed"}
    kinds = session.scalars(
        select(Notice.kind).where(Notice.recipient_id == users["declarant"].id).order_by(Notice.id)
    ).all()
    assert [kind.value for kind in dict.fromkeys(kinds)] == [
        "declaration.accepted",
        "declaration.released",
        "export.diverted",
        "export.rechecked",
        "export.left_zone",
        "export.departed",
    ]
    steps = [
        e["step"] for e in ok(client.get(f"{EXPORT_LISTS}/{export['id']}/timeline", headers=h["declarant"]))["events"]
    ]
    for step in ("submitted", "receipt_120", "receipt_800", "line_diverted", "left_zone", "departed"):
        assert step in steps, steps

    document = ok(client.get(f"{EXPORT_LISTS}/{export['id']}/epcis", headers=h["declarant"]))
    schema = json.loads((REFERENCE / "EPCIS-JSON-Schema.json").read_text())
    assert not list(Draft7Validator(schema, format_checker=FormatChecker()).iter_errors(document))
    told = [(event["type"], event["bizStep"]) for event in document["epcisBody"]["eventList"]]
    for expected in (
        ("ObjectEvent", "commissioning"),
        ("ObjectEvent", "inspecting"),
        ("AggregationEvent", "packing"),
        ("AggregationEvent", "loading"),
        ("ObjectEvent", "departing"),
    ):
        assert expected in told, told

    for path in ("", "/timeline", "/epcis"):
        assert client.get(f"{EXPORT_LISTS}/{export['id']}{path}", headers=h["stranger"]).status_code == 404
    assert client.get(EXPORT_LISTS, headers=h["stranger"]).json["items"] == []
