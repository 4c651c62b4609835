import pytest
from sqlalchemy import select

from app.common import clock
from app.exports.models import ContainerStatus, ExportContainer, ParcelStage
from app.notices.models import Notice, NoticeKind
from tests.exports.helpers import CEB
from tests.exports.loading_helpers import (
    DEPARTURES,
    EXPORT_LISTS,
    LOAD,
    container_body,
    operator_of,
    parcel,
    released_list,
    steps,
    warehouse_enterprise,
    waybills_of,
)

BILL = "999-12345675"


@pytest.fixture
def warehouse(session):
    return warehouse_enterprise(session)


@pytest.fixture
def operator(session, warehouse, auth_headers):
    return auth_headers(operator_of(session, warehouse))


@pytest.fixture
def gateway_headers(gateway, auth_headers):
    return auth_headers(gateway)


def left_the_zone(session, client, operator, waybills, index=0):
    """A container loaded with `waybills` that has left the zone (the gate's part is tests/exports/test_release)."""
    body = {
        **container_body(index),
        "seal_no": "SEAL0001",
        "bags": [{"bag_no": f"MB-{index:04d}", "waybills": waybills}],
    }
    response = client.post(LOAD, json=body, headers=operator)
    assert response.status_code == 201, response.json
    container = session.get(ExportContainer, response.json["container"]["id"])
    container.status, container.left_zone_at = ContainerStatus.LEFT_ZONE, clock.utcnow()
    session.flush()
    return container


def departure(**overrides):
    body = {
        "cop_no": "DEP20261207001",
        "logistics_code": "500224L001",
        "logistics_name": "渝新欧国际物流",
        "traf_mode": "5",
        "traf_name": "CA",
        "voyage_no": "CA1234",
        "bill_no": BILL,
        "leave_time": "20261207183000000",
        "return_status": 120,
    }
    body.update(overrides)
    return body


def test_the_departure_departs_the_bills_containers_and_closes_their_lists(
    session, client, warehouse, operator, declarant, gateway_headers, auth_headers
):
    lists = [released_list(session, warehouse, declarant=declarant) for _ in range(2)]
    waybills = [w for export in lists for w in waybills_of(session, export)]
    container = left_the_zone(session, client, operator, waybills)

    response = client.post(DEPARTURES, json=departure(), headers=gateway_headers)

    assert response.status_code == 200, response.json
    assert response.json["outcome"] == "departed"
    assert (response.json["parcels_departed"], response.json["lists_touched"]) == (6, 2)
    assert response.json["lists_closed"] == [export.id for export in lists]
    assert response.json["containers"][0]["status"] == "departed"
    assert {parcel(session, waybill).stage for waybill in waybills} == {ParcelStage.DEPARTED}
    body = client.get(f"{EXPORT_LISTS}/{lists[0].id}", headers=auth_headers(declarant)).json
    assert body["status"] == "closed"
    assert body["departed_at"].startswith("2026-12-07T10:30:00")
    (step,) = steps(session, lists[0], "departed")
    assert (step.biz_step.value, step.status.value, step.status_changed) == ("departing", "closed", True)
    kinds = session.scalars(select(Notice.kind).where(Notice.recipient_id == declarant.id)).all()
    assert kinds.count(NoticeKind.EXPORT_DEPARTED) == 2
    session.refresh(container)
    assert container.status is ContainerStatus.DEPARTED


def test_the_ceb509_xml_document_is_taken(session, client, warehouse, operator, declarant, gateway_headers):
    export = released_list(session, warehouse, declarant=declarant)
    waybills = waybills_of(session, export)
    left_the_zone(session, client, operator, waybills)
    items = "".join(
        f"<ceb:DepartureList><ceb:gnum>{n}</ceb:gnum><ceb:totalPackageNo>MB-0000</ceb:totalPackageNo>"
        f"<ceb:logisticsNo>{waybill}</ceb:logisticsNo></ceb:DepartureList>"
        for n, waybill in enumerate([*waybills, "NOTLOADED01"], start=1)
    )
    document = f"""<?xml version="1.0" encoding="UTF-8"?>
<ceb:CEB509Message guid="4CDE1CFD-EDED-46B1-946C-B8022E42FC94" version="1.0" xmlns:ceb="{CEB}">
  <ceb:Departure>
    <ceb:DepartureHead>
      <ceb:guid>4CDE1CFD-EDED-46B1-946C-B8022E42FC94</ceb:guid>
      <ceb:appType>1</ceb:appType>
      <ceb:appTime>20261207180000</ceb:appTime>
      <ceb:appStatus>2</ceb:appStatus>
      <ceb:customsCode>8013</ceb:customsCode>
      <ceb:copNo>DEP20261207002</ceb:copNo>
      <ceb:logisticsCode>500224L001</ceb:logisticsCode>
      <ceb:logisticsName>渝新欧国际物流</ceb:logisticsName>
      <ceb:trafMode>5</ceb:trafMode>
      <ceb:trafName>CA</ceb:trafName>
      <ceb:voyageNo>CA1234</ceb:voyageNo>
      <ceb:billNo>{BILL}</ceb:billNo>
      <ceb:leaveTime>20261207183000</ceb:leaveTime>
      <ceb:msgCount>1</ceb:msgCount>
      <ceb:msgSeqNo>1</ceb:msgSeqNo>
    </ceb:DepartureHead>
    {items}
  </ceb:Departure>
</ceb:CEB509Message>"""

    response = client.post(DEPARTURES, data=document.encode(), content_type="application/xml", headers=gateway_headers)

    assert response.status_code == 200, response.json
    assert (response.json["outcome"], response.json["lists_closed"]) == ("departed", [export.id])
    assert response.json["unknown_packages"] == ["NOTLOADED01"]


def test_a_departure_sent_again_changes_nothing(session, client, warehouse, operator, declarant, gateway_headers):
    left_the_zone(
        session, client, operator, waybills_of(session, released_list(session, warehouse, declarant=declarant))
    )
    client.post(DEPARTURES, json=departure(), headers=gateway_headers)

    again = client.post(DEPARTURES, json=departure(), headers=gateway_headers)

    assert again.status_code == 200
    assert (again.json["outcome"], again.json["parcels_departed"], again.json["lists_closed"]) == (
        "already_departed",
        0,
        [],
    )
    kinds = session.scalars(select(Notice.kind).where(Notice.recipient_id == declarant.id)).all()
    assert kinds.count(NoticeKind.EXPORT_DEPARTED) == 1


def test_a_list_with_parcels_still_in_the_zone_stays_open(
    session, client, warehouse, operator, declarant, gateway_headers
):
    export = released_list(session, warehouse, declarant=declarant)
    waybills = waybills_of(session, export)
    left_the_zone(session, client, operator, waybills[:2])

    response = client.post(DEPARTURES, json=departure(), headers=gateway_headers)

    assert (response.json["parcels_departed"], response.json["lists_closed"]) == (2, [])
    session.refresh(export)
    assert export.status.value == "released"
    (step,) = steps(session, export, "parcels_departed")
    assert step.details["parcels"] == 2


@pytest.mark.parametrize(("status", "outcome"), [(100, "refused"), (-1, "refused"), (2, "pending")])
def test_a_departure_customs_has_not_accepted_moves_nothing(
    session, client, warehouse, operator, declarant, gateway_headers, status, outcome
):
    waybills = waybills_of(session, released_list(session, warehouse, declarant=declarant))
    left_the_zone(session, client, operator, waybills)

    response = client.post(DEPARTURES, json=departure(return_status=status), headers=gateway_headers)

    assert response.json["outcome"] == outcome
    assert parcel(session, waybills[0]).stage is ParcelStage.LOADED


def test_an_unknown_bill_or_one_still_in_the_zone_is_refused(session, client, warehouse, operator, gateway_headers):
    sealed = {**container_body(), "seal_no": "SEAL0001", "bags": [{"bag_no": "MB-0001", "waybills": []}]}
    sealed["bags"][0]["waybills"] = waybills_of(session, released_list(session, warehouse))
    client.post(LOAD, json=sealed, headers=operator)

    unknown = client.post(DEPARTURES, json=departure(bill_no="784-00000011"), headers=gateway_headers)
    in_zone = client.post(DEPARTURES, json=departure(), headers=gateway_headers)

    assert unknown.status_code == 404
    assert (in_zone.status_code, in_zone.json["code"]) == (409, "invalid_transition")


def test_only_the_customs_gateway_sends_departures(client, officer, auth_headers):
    assert client.post(DEPARTURES, json=departure(), headers=auth_headers(officer)).status_code == 403


@pytest.mark.parametrize(
    ("change", "field"),
    [({"leave_time": "yesterday"}, "leave_time"), ({"traf_mode": "Z"}, "traf_mode"), ({"bill_no": None}, "bill_no")],
)
def test_a_malformed_departure_is_refused_naming_the_field(client, gateway_headers, change, field):
    response = client.post(DEPARTURES, json=departure(**change), headers=gateway_headers)

    assert response.status_code == 422
    assert field in response.json["errors"]["json"]


def test_a_departure_document_with_a_dtd_is_refused(client, gateway_headers):
    document = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>'

    response = client.post(DEPARTURES, data=document, content_type="application/xml", headers=gateway_headers)

    assert (response.status_code, response.json["code"]) == (400, "xml_forbidden")
