import pytest
from sqlalchemy import select

from app.declarations.models import DeclarationStatus
from app.enterprises.models import EnterpriseKind
from app.notices.models import Notice
from app.users.models import Role
from tests.exports.helpers import CEB, EXPORT_LISTS, RECEIPTS, export_body, receipt
from tests.factories import make_declaration, make_enterprise, make_export_list, make_user


@pytest.fixture
def warehouse(session):
    return make_enterprise(session, kinds=[EnterpriseKind.ZONE], name="西永综保出口监管仓")


@pytest.fixture
def gateway(session, auth_headers):
    return auth_headers(make_user(session, role=Role.CUSTOMS_GATEWAY))


def test_a_declarant_submits_a_9610_list_of_parcels(client, declarant, warehouse, auth_headers):
    response = client.post(EXPORT_LISTS, json=export_body(warehouse), headers=auth_headers(declarant))

    assert response.status_code == 201, response.json
    body = response.json
    assert body["status"] == "submitted"
    assert body["trade_mode"] == "9610"
    assert body["pack_no"] == 3
    assert body["gross_weight"] == "3.7500"
    assert body["destination_country"] == "344"
    assert [p["waybill_no"] for p in body["parcels"]] == ["CQX1000000000", "CQX1000000001", "CQX1000000002"]
    assert {p["stage"] for p in body["parcels"]} == {"declared"}
    assert body["lines"][0]["gtin"] is None

    timeline = client.get(f"{EXPORT_LISTS}/{body['id']}/timeline", headers=auth_headers(declarant))
    assert [event["step"] for event in timeline.json["events"]] == ["submitted"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"trade_mode": "1210"}, "ems_no"),
        ({"trade_mode": "0110"}, "trade_mode"),
        ({"destination_country": "HK"}, "destination_country"),
        ({"traf_mode": "7"}, "traf_mode"),
        ({"logistics_code": "not-a-code"}, "logistics_code"),
        ({"parcels": []}, "parcels"),
        ({"parcels": [{"waybill_no": "CQX1", "gross_weight": "1"}]}, "parcels"),
        ({"parcels": [{"waybill_no": "CQX100000001", "gross_weight": "1"}] * 2}, "parcels"),
        ({"net_weight": "99"}, "net_weight"),
    ],
)
def test_a_malformed_list_is_refused_naming_the_field(client, declarant, warehouse, auth_headers, change, field):
    response = client.post(EXPORT_LISTS, json=export_body(warehouse, **change), headers=auth_headers(declarant))

    assert response.status_code == 422, response.json
    assert field in response.json["errors"]["json"]


def test_a_waybill_on_a_parcel_still_in_the_park_cannot_be_declared_again(client, declarant, warehouse, auth_headers):
    assert client.post(EXPORT_LISTS, json=export_body(warehouse), headers=auth_headers(declarant)).status_code == 201

    again = client.post(EXPORT_LISTS, json=export_body(warehouse, cop_no="EX-2"), headers=auth_headers(declarant))

    assert again.status_code == 409
    assert again.json["code"] == "waybill_taken"


def test_export_lists_are_seen_by_the_same_enterprises_as_import_lists(session, client, declarant, auth_headers):
    mine = make_export_list(session, declarant=declarant)
    others = make_export_list(session)
    make_declaration(session, declarant=declarant)  # an import list: not on the export side

    page = client.get(EXPORT_LISTS, headers=auth_headers(declarant))
    assert [item["id"] for item in page.json["items"]] == [mine.id]
    assert client.get(f"{EXPORT_LISTS}/{others.id}", headers=auth_headers(declarant)).status_code == 404
    assert client.get(f"{EXPORT_LISTS}/{others.id}/timeline", headers=auth_headers(declarant)).status_code == 404
    # Nor does an export list show on the import side.
    assert client.get(f"/api/v1/declarations/{mine.id}", headers=auth_headers(declarant)).status_code == 404
    warehouse_user = make_user(session, role=Role.WAREHOUSE_OPERATOR, enterprise_id=mine.warehouse_enterprise_id)
    assert client.get(f"{EXPORT_LISTS}/{mine.id}", headers=auth_headers(warehouse_user)).status_code == 200


def test_ceb604_receipts_move_an_export_list_by_rank(session, client, gateway, declarant, auth_headers):
    export = make_export_list(session, declarant=declarant)

    response = client.post(
        RECEIPTS,
        json={
            "receipts": [
                receipt(export.guid, 800, "20261207101000000"),
                receipt(export.guid, 120, "20261207100000000", invt_no="80122026E000000001"),
            ]
        },
        headers=gateway,
    )

    assert [r["outcome"] for r in response.json["results"]] == ["applied", "applied"]
    body = client.get(f"{EXPORT_LISTS}/{export.id}", headers=auth_headers(declarant)).json
    assert body["status"] == "released"
    assert body["invt_no"] == "80122026E000000001"
    kinds = session.scalars(select(Notice.kind).where(Notice.declaration_id == export.id).order_by(Notice.id)).all()
    assert [kind.value for kind in kinds] == ["declaration.accepted", "declaration.released"]

    late = client.post(RECEIPTS, json={"receipts": [receipt(export.guid, 399, "20261207100500000")]}, headers=gateway)
    assert late.json["results"][0]["outcome"] == "stale"


def test_a_ceb604_xml_document_is_taken(session, client, gateway, declarant):
    export = make_export_list(session, declarant=declarant)
    document = f"""<?xml version="1.0" encoding="UTF-8"?>
<ceb:CEB604Message guid="{export.guid}" version="1.0" xmlns:ceb="{CEB}">
  <ceb:InventoryReturn>
    <ceb:guid>{export.guid}</ceb:guid>
    <ceb:customsCode>8012</ceb:customsCode>
    <ceb:ebpCode>500224A005</ceb:ebpCode>
    <ceb:ebcCode>500224A004</ceb:ebcCode>
    <ceb:agentCode>{export.agent_code}</ceb:agentCode>
    <ceb:copNo>{export.cop_no}</ceb:copNo>
    <ceb:preNo>B20261207000000001</ceb:preNo>
    <ceb:invtNo>80122026E000000002</ceb:invtNo>
    <ceb:returnStatus>120</ceb:returnStatus>
    <ceb:returnTime>20261207100000000</ceb:returnTime>
    <ceb:returnInfo>新增申报成功</ceb:returnInfo>
  </ceb:InventoryReturn>
</ceb:CEB604Message>"""

    response = client.post(RECEIPTS, data=document.encode(), content_type="application/xml", headers=gateway)

    assert response.status_code == 200, response.json
    assert response.json["results"][0]["outcome"] == "applied"
    session.refresh(export)
    assert export.status is DeclarationStatus.ACCEPTED
