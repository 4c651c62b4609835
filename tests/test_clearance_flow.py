"""The issue's acceptance scenario: submit from the API, receipts 120 → 500 → booking → result → 800
arriving in any order and duplicated, ending released with a complete timeline and one notice per step."""

from collections import Counter

import pytest
from sqlalchemy import select

from app.enterprises.models import EnterpriseKind
from app.notices.models import Notice
from app.users.models import Role
from tests.factories import make_enterprise, make_slot, make_user
from tests.live import declaration_body

CEB = "http://www.chinaport.gov.cn/ceb"
TIMES = {120: "20261111090000000", 500: "20261111091500000", 800: "20261111103000000"}


@pytest.fixture
def park(session, auth_headers):
    warehouse = make_enterprise(session, kinds=[EnterpriseKind.ZONE])
    people = {
        "declarant": make_user(session, role=Role.DECLARANT),
        "operator": make_user(session, role=Role.WAREHOUSE_OPERATOR, enterprise=warehouse),
        "officer": make_user(session, role=Role.CUSTOMS_OFFICER),
        "gateway": make_user(session, role=Role.CUSTOMS_GATEWAY),
    }
    headers = {name: auth_headers(user) for name, user in people.items()}
    return warehouse, people, headers


def submit(client, headers, warehouse):
    body = declaration_body("FLOW-0001", area_code=warehouse.customs_reg_code, quantity=3)
    response = client.post("/api/v1/declarations", json=body, headers=headers)
    assert response.status_code == 201, response.json
    return response.json


def send_json(client, headers, declaration, code):
    response = client.post(
        "/api/v1/customs/receipts",
        json={"receipts": [{"guid": declaration["guid"], "status_code": code, "return_time": TIMES[code]}]},
        headers=headers,
    )
    assert response.status_code == 200, response.json
    return response.json["results"][0]["outcome"]


def send_xml(client, headers, declaration, code):
    document = (
        f'<ceb:CEB622Message xmlns:ceb="{CEB}" guid="0B1C2D3E-4F50-6172-8394-A5B6C7D8E9F0" version="1.0">'
        f"<ceb:InventoryReturn><ceb:guid>{declaration['guid']}</ceb:guid><ceb:copNo>{declaration['cop_no']}</ceb:copNo>"
        f"<ceb:invtNo>{'80122026I000000777' if code == 120 else ''}</ceb:invtNo>"
        f"<ceb:returnStatus>{code}</ceb:returnStatus><ceb:returnTime>{TIMES[code]}</ceb:returnTime>"
        f"<ceb:returnInfo></ceb:returnInfo></ceb:InventoryReturn></ceb:CEB622Message>"
    )
    response = client.post(
        "/api/v1/customs/receipts", data=document.encode(), content_type="application/xml", headers=headers
    )
    assert response.status_code == 200, response.json
    return response.json["results"][0]["outcome"]


def inspect(client, session, headers, declaration_id):
    """Booking → goods ready → start → normal result, by the people who do each in the app."""
    tasks = client.get("/api/v1/inspection-tasks", headers=headers["declarant"]).json["items"]
    [task] = [t for t in tasks if t["declaration"]["id"] == declaration_id]
    slot = make_slot(session, capacity=3)
    url = f"/api/v1/inspection-tasks/{task['id']}"
    assert client.put(f"{url}/appointment", json={"slot_id": slot.id}, headers=headers["declarant"]).status_code == 200
    assert client.post(f"{url}/goods-ready", headers=headers["operator"]).status_code == 200
    assert client.post(f"{url}/start", headers=headers["officer"]).status_code == 200
    result = client.post(f"{url}/result", json={"result": "normal", "notes": "货证相符"}, headers=headers["officer"])
    assert result.status_code == 200, result.json


# Each ordering is how the gateway happens to deliver the three receipts; every receipt also
# arrives a second time, once as JSON and once as CEB622 XML.
ORDERINGS = [(120, 500, 800), (500, 120, 800), (120, 800, 500), (500, 800, 120)]


@pytest.mark.parametrize("ordering", ORDERINGS, ids=lambda o: "-".join(map(str, o)))
def test_a_declaration_clears_whatever_order_receipts_arrive_in(client, session, park, ordering):
    warehouse, people, headers = park
    declaration = submit(client, headers["declarant"], warehouse)
    outcomes = {}

    for code in ordering:
        outcomes[code] = send_json(client, headers["gateway"], declaration, code)
        assert send_xml(client, headers["gateway"], declaration, code) == "duplicate"
        if code == 500 and outcomes[500] == "applied":
            inspect(client, session, headers, declaration["id"])

    final = client.get(f"/api/v1/declarations/{declaration['id']}", headers=headers["declarant"]).json
    assert final["status"] == "released"
    assert final["invt_no"] is None or final["invt_no"].startswith("80122026I")

    events = client.get(f"/api/v1/declarations/{declaration['id']}/timeline", headers=headers["declarant"]).json[
        "events"
    ]
    steps = Counter(event["step"] for event in events)
    assert steps["submitted"] == 1
    assert steps["receipt_120"] == steps["receipt_500"] == steps["receipt_800"] == 1
    times = [event["occurred_at"] for event in events]
    assert times == sorted(times)

    kinds = Counter(
        notice.kind.value
        for notice in session.scalars(select(Notice).where(Notice.recipient_id == people["declarant"].id))
    )
    assert all(count == 1 for count in kinds.values()), kinds
    assert kinds["declaration.released"] == 1
    if outcomes[500] == "applied":
        for step in ("inspection_issued", "inspection_booked", "inspection_goods_ready", "inspection_started"):
            assert steps[step] == 1, step
        assert {"inspection.issued", "inspection.scheduled", "inspection.result"} <= kinds.keys()
    else:
        # Customs released before its inspection order arrived: nothing left to inspect.
        assert outcomes[500] == "stale"
        assert "inspection.issued" not in kinds
    if outcomes[120] == "applied":
        assert kinds["declaration.accepted"] == 1


def test_the_warehouse_is_told_of_the_inspection_too(client, session, park):
    warehouse, people, headers = park
    declaration = submit(client, headers["declarant"], warehouse)

    send_json(client, headers["gateway"], declaration, 500)

    kinds = session.scalars(select(Notice.kind).where(Notice.recipient_id == people["operator"].id)).all()
    assert [kind.value for kind in kinds] == ["inspection.issued"]


def test_another_enterprises_declarant_sees_nothing_of_it(client, session, park, auth_headers):
    warehouse, _, headers = park
    declaration = submit(client, headers["declarant"], warehouse)
    send_json(client, headers["gateway"], declaration, 500)
    stranger = auth_headers(make_user(session, role=Role.DECLARANT))

    assert client.get(f"/api/v1/declarations/{declaration['id']}", headers=stranger).status_code == 404
    assert client.get(f"/api/v1/declarations/{declaration['id']}/timeline", headers=stranger).status_code == 404
    assert client.get("/api/v1/declarations", headers=stranger).json["items"] == []
    assert client.get("/api/v1/inspection-tasks", headers=stranger).json["items"] == []
    assert client.get("/api/v1/notices", headers=stranger).json["items"] == []
