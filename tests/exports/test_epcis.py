"""The EPCIS 2.0 export of an export list's parcels, built from the zone flow's tables (filled here directly)."""

import json
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pytest
from jsonschema import Draft7Validator, FormatChecker

from app.common import clock
from app.declarations.models import Declaration, DeclarationStatus
from app.enterprises.models import EnterpriseKind
from app.exports.models import (
    BagStatus,
    ContainerStatus,
    DivertReason,
    ExportContainer,
    LineDecision,
    LineScan,
    LineVerdict,
    MasterBag,
    ParcelStage,
    Recheck,
    RecheckDisposal,
)
from app.trace.canonical_uris import canonical_uri
from app.trace.event_hash import event_hash
from app.users.models import Role
from tests.exports.helpers import EXPORT_LISTS
from tests.factories import make_declaration, make_enterprise, make_export_list, make_user
from tests.trace.helpers import REFERENCE


@pytest.fixture(scope="module")
def validator():
    schema = json.loads((REFERENCE / "EPCIS-JSON-Schema.json").read_text())
    return Draft7Validator(schema, format_checker=FormatChecker())


@dataclass
class Flow:
    declaration: Declaration
    warehouse_operator: object
    start: object


def epcis(client, headers, declaration_id):
    return client.get(f"{EXPORT_LISTS}/{declaration_id}/epcis", headers=headers)


def scan(parcel, at, *, verdict=LineVerdict.CLEAR, decision=LineDecision.PASS, reason=None):
    return LineScan(
        parcel_id=parcel.id,
        waybill_no=parcel.waybill_no,
        line_id="X1",
        image_ref=f"img/{parcel.waybill_no}.png",
        verdict=verdict,
        decision=decision,
        reason=reason,
        scanned_at=at,
    )


@pytest.fixture
def flow(session, declarant):
    """Three parcels scanned in together; two pass the line, one is flagged, rechecked and released; bagged in two
    moments into one bag; the bag loaded into a sealed container; all departed."""
    warehouse = make_enterprise(session, kinds=[EnterpriseKind.ZONE])
    operator = make_user(session, role=Role.WAREHOUSE_OPERATOR, enterprise=warehouse)
    officer = make_user(session, role=Role.CUSTOMS_OFFICER)
    declaration = make_export_list(
        session, declarant=declarant, warehouse=warehouse, status=DeclarationStatus.CLOSED, parcels=3
    )
    start = clock.utcnow().replace(microsecond=0) - timedelta(hours=6)
    first, second, flagged = declaration.export.parcels
    container = ExportContainer(
        container_no="AKE12345CA",
        seal_no="SL0001",
        status=ContainerStatus.DEPARTED,
        warehouse_enterprise_id=warehouse.id,
        traf_mode="5",
        voyage_no="CA1234",
        port_code="8013",
        created_by_id=operator.id,
        sealed_at=start + timedelta(hours=4),
        departed_at=start + timedelta(hours=5),
    )
    session.add(container)
    session.flush()
    bag = MasterBag(
        bag_no="BAG-0001",
        status=BagStatus.LOADED,
        warehouse_enterprise_id=warehouse.id,
        container_id=container.id,
        parcel_count=3,
        gross_weight=Decimal("4.5"),
        created_by_id=operator.id,
        closed_at=start + timedelta(hours=3, minutes=30),
    )
    session.add(bag)
    session.flush()
    for parcel in (first, second, flagged):
        parcel.stage = ParcelStage.DEPARTED
        parcel.scanned_in_at = start
        parcel.bag_id = bag.id
        parcel.departed_at = start + timedelta(hours=5)
    first.line_scanned_at = start + timedelta(hours=1)
    second.line_scanned_at = start + timedelta(hours=1, seconds=1)
    flagged.line_scanned_at = start + timedelta(hours=1, seconds=2)
    flagged.divert_reason = DivertReason.MACHINE
    flagged.rechecked_at = start + timedelta(hours=2)
    first.bagged_at = second.bagged_at = start + timedelta(hours=3)
    flagged.bagged_at = start + timedelta(hours=3, minutes=10)
    session.add_all(
        [
            scan(first, first.line_scanned_at),
            scan(second, second.line_scanned_at),
            scan(
                flagged,
                flagged.line_scanned_at,
                verdict=LineVerdict.SUSPECT,
                decision=LineDecision.DIVERT,
                reason=DivertReason.MACHINE,
            ),
            Recheck(
                parcel_id=flagged.id,
                officer_id=officer.id,
                result="normal",
                disposal=RecheckDisposal.RELEASE,
                recorded_at=flagged.rechecked_at,
            ),
        ]
    )
    session.flush()
    return Flow(declaration=declaration, warehouse_operator=operator, start=start)


def test_the_export_validates_against_gs1s_epcis_schema(client, auth_headers, declarant, flow, validator):
    response = epcis(client, auth_headers(declarant), flow.declaration.id)

    assert response.status_code == 200
    assert response.mimetype == "application/ld+json"
    assert [error.message for error in validator.iter_errors(response.json)] == []


def test_the_export_tells_scan_in_line_recheck_packing_loading_and_departure(client, auth_headers, declarant, flow):
    events = epcis(client, auth_headers(declarant), flow.declaration.id).json["epcisBody"]["eventList"]

    assert [
        (event["type"], event["action"], event["bizStep"], event.get("disposition"), len(event.get("epcList", [])))
        for event in events
    ] == [
        ("ObjectEvent", "ADD", "commissioning", "active", 3),
        ("ObjectEvent", "OBSERVE", "inspecting", "conformant", 1),
        ("ObjectEvent", "OBSERVE", "inspecting", "conformant", 1),
        ("ObjectEvent", "OBSERVE", "inspecting", "non_conformant", 1),
        ("ObjectEvent", "OBSERVE", "inspecting", "conformant", 1),
        ("AggregationEvent", "ADD", "packing", None, 0),
        ("AggregationEvent", "ADD", "packing", None, 0),
        ("AggregationEvent", "ADD", "loading", "container_closed", 0),
        ("ObjectEvent", "OBSERVE", "departing", "in_transit", 3),
    ]
    assert events[3]["park:lineDecision"] == "divert"
    assert events[4]["park:disposal"] == "release"
    assert events[-1]["destinationList"] == [
        {"type": "location", "destination": events[-1]["readPoint"]["id"].replace("port/8013", "country/344")}
    ]


def test_parcels_bags_and_containers_have_uris_under_the_park_host(client, auth_headers, declarant, flow, settings):
    events = epcis(client, auth_headers(declarant), flow.declaration.id).json["epcisBody"]["eventList"]
    guid = flow.declaration.guid.lower()
    parcels = [
        f"https://{settings.trace_host}/export/parcel/{guid}/{p.waybill_no}" for p in flow.declaration.export.parcels
    ]
    bag = f"https://{settings.trace_host}/export/bag/BAG-0001"

    assert events[0]["epcList"] == sorted(parcels)
    packing = [event for event in events if event["bizStep"] == "packing"]
    assert [(event["parentID"], event["childEPCs"]) for event in packing] == [
        (bag, sorted(parcels[:2])),
        (bag, [parcels[2]]),
    ]
    loading = events[-2]
    assert loading["parentID"] == f"https://{settings.trace_host}/export/container/AKE12345CA"
    assert loading["childEPCs"] == [bag]
    assert loading["park:sealNo"] == "SL0001"
    # Private URIs, not GS1 keys: the event hash must take them as written, not as Digital Link.
    for uri in (*parcels, bag, loading["parentID"]):
        assert canonical_uri(uri) == uri
    transaction = events[0]["bizTransactionList"][0]
    assert transaction == {
        "type": f"https://{settings.trace_host}/voc/customsExportList",
        "bizTransaction": f"urn:uuid:{guid}",
    }
    assert events[0]["bizLocation"]["id"].endswith(flow.declaration.area_code)
    assert events[0]["sourceList"][0]["type"] == "owning_party"


def test_event_ids_are_cbv_event_hashes_and_stay_when_customs_numbers_the_list(
    client, session, auth_headers, declarant, flow
):
    first = epcis(client, auth_headers(declarant), flow.declaration.id).json
    flow.declaration.invt_no = "80122026E000000123"
    session.flush()
    again = epcis(client, auth_headers(declarant), flow.declaration.id).json

    ids = [event["eventID"] for event in first["epcisBody"]["eventList"]]
    assert [event["eventID"] for event in again["epcisBody"]["eventList"]] == ids
    assert len(set(ids)) == len(ids)
    assert ids == [
        event_hash({k: v for k, v in event.items() if k != "eventID"}, context=first["@context"])
        for event in first["epcisBody"]["eventList"]
    ]


def test_a_divert_for_targeting_is_not_a_verdict_on_the_goods(client, session, auth_headers, declarant):
    declaration = make_export_list(session, declarant=declarant, parcels=1, stage=ParcelStage.DIVERTED)
    (parcel,) = declaration.export.parcels
    at = clock.utcnow()
    parcel.scanned_in_at = at - timedelta(minutes=5)
    session.add(scan(parcel, at, decision=LineDecision.DIVERT, reason=DivertReason.TARGETED))
    session.flush()

    events = epcis(client, auth_headers(declarant), declaration.id).json["epcisBody"]["eventList"]

    assert [(event["bizStep"], event["disposition"]) for event in events] == [
        ("commissioning", "active"),
        ("inspecting", "in_progress"),
    ]
    assert events[1]["readPoint"]["id"].endswith("/xray-line/X1")


def test_a_list_not_yet_in_the_zone_has_no_events(client, session, auth_headers, declarant, validator):
    declaration = make_export_list(session, declarant=declarant, parcels=2)

    document = epcis(client, auth_headers(declarant), declaration.id).json

    assert document["epcisBody"]["eventList"] == []
    assert list(validator.iter_errors(document)) == []


def test_an_unsealed_container_is_not_told_as_loaded_yet(client, session, auth_headers, declarant, flow):
    container = session.get(
        ExportContainer, session.get(MasterBag, flow.declaration.export.parcels[0].bag_id).container_id
    )
    container.sealed_at = None
    session.flush()

    events = epcis(client, auth_headers(declarant), flow.declaration.id).json["epcisBody"]["eventList"]

    assert "loading" not in [event["bizStep"] for event in events]


@pytest.mark.parametrize("role", [Role.CUSTOMS_OFFICER, Role.ADMIN])
def test_officers_and_admins_see_any_list(client, session, auth_headers, flow, role):
    assert epcis(client, auth_headers(make_user(session, role=role)), flow.declaration.id).status_code == 200


def test_the_warehouse_sees_its_lists(client, auth_headers, flow):
    assert epcis(client, auth_headers(flow.warehouse_operator), flow.declaration.id).status_code == 200


def test_another_enterprise_sees_nothing(client, session, auth_headers, flow):
    other_declarant = make_user(session, role=Role.DECLARANT)
    other_warehouse = make_user(session, role=Role.WAREHOUSE_OPERATOR)

    for user in (other_declarant, other_warehouse):
        response = epcis(client, auth_headers(user), flow.declaration.id)
        assert response.status_code == 404
        assert response.mimetype == "application/problem+json"


def test_roles_outside_the_list_flow_are_refused(client, session, auth_headers, flow):
    gate = make_user(session, role=Role.GATE_OPERATOR)

    assert epcis(client, auth_headers(gate), flow.declaration.id).status_code == 403
    assert client.get(f"{EXPORT_LISTS}/{flow.declaration.id}/epcis").status_code == 401


def test_an_import_declaration_is_not_an_export_list(client, session, auth_headers):
    declaration = make_declaration(session)
    officer = make_user(session, role=Role.CUSTOMS_OFFICER)

    assert epcis(client, auth_headers(officer), declaration.id).status_code == 404
