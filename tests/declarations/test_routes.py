from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.common import clock
from app.declarations.models import Declaration, DeclarationStatus
from app.enterprises.models import EnterpriseKind
from app.notices.models import Notice
from app.users.models import Role
from tests.factories import make_declaration, make_enterprise, make_user

DECLARATIONS = "/api/v1/declarations"


@pytest.fixture
def warehouse(session):
    return make_enterprise(session, kinds=[EnterpriseKind.ZONE], name="西永综保仓储")


def declaration_body(warehouse, **overrides):
    body = {
        "cop_no": "YG20261111-0001",
        "order_no": "ORDER-20261111-0001",
        "logistics_no": "YT9876543210",
        "ebp_code": "500224A005",
        "ebp_name": "渝购全球",
        "ebc_code": "500224A004",
        "ebc_name": "海外优选跨境电商有限公司",
        "area_code": warehouse.customs_reg_code,
        "customs_code": "8012",
        "port_code": "8012",
        "buyer_id_number": "11010119900307451X",
        "buyer_name": "王小明",
        "buyer_telephone": "13800138000",
        "consignee_address": "重庆市渝北区金开大道1号",
        "freight": "12.00",
        "gross_weight": "2.5",
        "net_weight": "2.1",
        "lines": [
            {
                "gnum": 1,
                "item_no": "SKU-MILK-800",
                "item_name": "婴儿配方奶粉 800g",
                "hs_code": "1901101000",
                "gtin": "4006381333931",
                "country": "304",
                "qty": "2",
                "unit": "122",
                "price": "198.50",
                "total_price": "397.00",
            }
        ],
    }
    body.update(overrides)
    return body


def test_a_declarant_submits_a_declaration(client, session, declarant, warehouse, auth_headers):
    response = client.post(DECLARATIONS, json=declaration_body(warehouse), headers=auth_headers(declarant))

    assert response.status_code == 201
    body = response.json
    assert body["status"] == "submitted"
    assert len(body["guid"]) == 36 and body["guid"] == body["guid"].upper()
    assert body["agent_code"] == declarant.enterprise.customs_reg_code
    assert body["area_name"] == "西永综保仓储"
    assert body["goods_value"] == "397.00"
    assert body["total_value"] == "409.00"
    assert body["lines"][0]["gtin"] == "04006381333931"


def test_buyer_data_is_masked_everywhere(client, session, declarant, warehouse, auth_headers):
    headers = auth_headers(declarant)
    created = client.post(DECLARATIONS, json=declaration_body(warehouse), headers=headers).json

    detail = client.get(f"{DECLARATIONS}/{created['id']}", headers=headers).get_data(as_text=True)
    listing = client.get(DECLARATIONS, headers=headers).get_data(as_text=True)

    for text in (detail, listing):
        assert "11010119900307451X" not in text
        assert "13800138000" not in text
        assert "金开大道1号" not in text
        assert "王小明" not in text
    buyer = client.get(f"{DECLARATIONS}/{created['id']}", headers=headers).json["buyer"]
    assert buyer["id_number"] == "110***********451X"
    assert buyer["telephone"] == "138****8000"
    assert buyer["name"] == "王**"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"area_code": "bad"}, "area_code"),
        ({"customs_code": "80"}, "customs_code"),
        ({"buyer_id_number": "1234"}, "buyer_id_number"),
        ({"ebc_code": "500224a00"}, "ebc_code"),
        ({"trade_mode": "9610"}, "trade_mode"),
        ({"lines": []}, "lines"),
        ({"net_weight": "3.0"}, "net_weight"),
    ],
)
def test_bad_head_fields_are_field_errors(client, declarant, warehouse, auth_headers, change, field):
    response = client.post(DECLARATIONS, json=declaration_body(warehouse, **change), headers=auth_headers(declarant))

    assert response.status_code == 422
    assert field in response.json["errors"]["json"]


@pytest.mark.parametrize(
    ("line_change", "field"),
    [
        ({"hs_code": "19011010"}, "hs_code"),
        ({"gtin": "4006381333932"}, "gtin"),
        ({"gtin": "40063813"}, "gtin"),
        ({"qty": "0"}, "qty"),
        ({"total_price": "400.00"}, "total_price"),
        ({"country": "USA"}, "country"),
    ],
)
def test_bad_goods_lines_are_field_errors(client, declarant, warehouse, auth_headers, line_change, field):
    body = declaration_body(warehouse)
    body["lines"][0].update(line_change)

    response = client.post(DECLARATIONS, json=body, headers=auth_headers(declarant))

    assert response.status_code == 422
    assert field in response.json["errors"]["json"]["lines"]["0"]


def test_line_numbers_must_run_from_one(client, declarant, warehouse, auth_headers):
    body = declaration_body(warehouse)
    body["lines"][0]["gnum"] = 2

    response = client.post(DECLARATIONS, json=body, headers=auth_headers(declarant))

    assert response.status_code == 422


def test_an_unknown_bonded_warehouse_is_refused(client, session, declarant, auth_headers):
    broker = make_enterprise(session, kinds=[EnterpriseKind.AGENT])

    response = client.post(DECLARATIONS, json=declaration_body(broker), headers=auth_headers(declarant))

    assert response.status_code == 422
    assert response.json["errors"]["json"]["area_code"] == ["Not a registered bonded-warehouse enterprise."]


def test_an_order_over_5000_yuan_is_refused(client, declarant, warehouse, auth_headers):
    body = declaration_body(warehouse, freight="0.00")
    body["lines"][0].update(qty="2", price="2500.50", total_price="5001.00")

    response = client.post(DECLARATIONS, json=body, headers=auth_headers(declarant))

    assert response.status_code == 422
    assert response.json["code"] == "retail_limit_exceeded"


def test_a_buyer_cannot_pass_26000_yuan_a_year(client, session, declarant, warehouse, auth_headers):
    for _ in range(6):
        make_declaration(session, buyer_id_number="11010119900307451X", goods_value=Decimal("4300.00"))
    make_declaration(
        session,
        buyer_id_number="11010119900307451X",
        goods_value=Decimal("4000.00"),
        status=DeclarationStatus.REJECTED,
    )

    response = client.post(DECLARATIONS, json=declaration_body(warehouse), headers=auth_headers(declarant))

    assert response.status_code == 422
    assert response.json["errors"]["json"]["buyer_id_number"] == ["Annual cross-border retail limit reached."]


def test_the_same_reference_cannot_be_declared_twice(client, declarant, warehouse, auth_headers):
    headers = auth_headers(declarant)
    client.post(DECLARATIONS, json=declaration_body(warehouse), headers=headers)

    again = client.post(DECLARATIONS, json=declaration_body(warehouse), headers=headers)

    assert again.status_code == 409
    assert again.json["code"] == "cop_no_taken"


def test_only_declarants_submit(client, session, warehouse, auth_headers):
    operator = make_user(session, role=Role.WAREHOUSE_OPERATOR)

    response = client.post(DECLARATIONS, json=declaration_body(warehouse), headers=auth_headers(operator))

    assert response.status_code == 403


def test_who_sees_a_declaration(client, session, auth_headers):
    declarant = make_user(session, role=Role.DECLARANT)
    colleague = make_user(session, role=Role.DECLARANT, enterprise=declarant.enterprise)
    warehouse = make_enterprise(session, kinds=[EnterpriseKind.ZONE])
    declaration = make_declaration(session, declarant=declarant, warehouse=warehouse)
    url = f"{DECLARATIONS}/{declaration.id}"
    may_see = [
        colleague,
        make_user(session, role=Role.WAREHOUSE_OPERATOR, enterprise=warehouse),
        make_user(session, role=Role.CUSTOMS_OFFICER),
        make_user(session, role=Role.ADMIN),
    ]
    may_not = [
        make_user(session, role=Role.DECLARANT),
        make_user(session, role=Role.WAREHOUSE_OPERATOR),
        make_user(session, role=Role.GATE_OPERATOR),
        make_user(session, role=Role.CUSTOMS_GATEWAY),
    ]

    for user in may_see:
        assert client.get(url, headers=auth_headers(user)).status_code == 200, user.role
        assert client.get(f"{url}/timeline", headers=auth_headers(user)).status_code == 200
    for user in may_not:
        response = client.get(url, headers=auth_headers(user))
        assert response.status_code == 404, user.role
        assert response.json["code"] == "not_found"
        assert client.get(f"{url}/timeline", headers=auth_headers(user)).status_code == 404
        assert client.get(DECLARATIONS, headers=auth_headers(user)).json["items"] == []


def test_list_filters_and_pages(client, session, declarant, auth_headers):
    made = [make_declaration(session, declarant=declarant) for _ in range(5)]
    make_declaration(session, declarant=declarant, status=DeclarationStatus.RELEASED)
    headers = auth_headers(declarant)

    first = client.get(DECLARATIONS, query_string={"status": "submitted", "limit": 3}, headers=headers).json
    second = client.get(
        DECLARATIONS, query_string={"status": "submitted", "limit": 3, "cursor": first["next_cursor"]}, headers=headers
    ).json

    ids = [item["id"] for item in first["items"] + second["items"]]
    assert ids == sorted((d.id for d in made), reverse=True)
    assert second["next_cursor"] is None


def test_list_searches_numbers_by_prefix(client, session, declarant, auth_headers):
    wanted = make_declaration(session, declarant=declarant, logistics_no="SF1234567890")
    make_declaration(session, declarant=declarant, logistics_no="YT1234567890")

    found = client.get(DECLARATIONS, query_string={"q": "SF123"}, headers=auth_headers(declarant)).json["items"]

    assert [item["id"] for item in found] == [wanted.id]


def test_list_filters_by_date_range(client, session, declarant, auth_headers):
    now = clock.utcnow()
    old = make_declaration(session, declarant=declarant, submitted_at=now - timedelta(days=10))
    make_declaration(session, declarant=declarant, submitted_at=now)

    found = client.get(
        DECLARATIONS,
        query_string={"since": (now - timedelta(days=11)).isoformat(), "until": (now - timedelta(days=9)).isoformat()},
        headers=auth_headers(declarant),
    ).json["items"]

    assert [item["id"] for item in found] == [old.id]


def test_a_rejected_declaration_is_resubmitted_as_a_linked_copy(client, session, declarant, warehouse, auth_headers):
    headers = auth_headers(declarant)
    rejected = make_declaration(
        session, declarant=declarant, warehouse=warehouse, cop_no="YG20261111-0001", status=DeclarationStatus.REJECTED
    )

    response = client.post(
        f"{DECLARATIONS}/{rejected.id}/corrections", json=declaration_body(warehouse), headers=headers
    )
    again = client.post(f"{DECLARATIONS}/{rejected.id}/corrections", json=declaration_body(warehouse), headers=headers)

    assert response.status_code == 201
    assert response.json["corrects_id"] == rejected.id
    assert response.json["cop_no"] == rejected.cop_no
    assert again.status_code == 409
    steps = [
        e["step"] for e in client.get(f"{DECLARATIONS}/{response.json['id']}/timeline", headers=headers).json["events"]
    ]
    assert steps == ["corrected_copy_submitted"]


def test_only_a_rejected_declaration_can_be_corrected(client, session, declarant, warehouse, auth_headers):
    accepted = make_declaration(session, declarant=declarant, status=DeclarationStatus.ACCEPTED)

    response = client.post(
        f"{DECLARATIONS}/{accepted.id}/corrections", json=declaration_body(warehouse), headers=auth_headers(declarant)
    )

    assert response.status_code == 409
    assert response.json["code"] == "invalid_transition"


def test_an_officer_releases_and_the_declarants_are_told(client, session, declarant, auth_headers):
    declaration = make_declaration(session, declarant=declarant, status=DeclarationStatus.AUDITED)
    officer = make_user(session, role=Role.CUSTOMS_OFFICER)

    response = client.post(f"{DECLARATIONS}/{declaration.id}/release", json={}, headers=auth_headers(officer))

    assert response.status_code == 200
    assert response.json["status"] == "released"
    assert response.json["release_source"] == "officer"
    notices = session.scalars(select(Notice).where(Notice.declaration_id == declaration.id)).all()
    assert [(n.recipient_id, n.kind.value) for n in notices] == [(declarant.id, "declaration.released")]


def test_an_officer_cannot_release_a_rejected_declaration(client, session, auth_headers):
    declaration = make_declaration(session, status=DeclarationStatus.REJECTED)

    response = client.post(
        f"{DECLARATIONS}/{declaration.id}/release",
        json={},
        headers=auth_headers(make_user(session, role=Role.CUSTOMS_OFFICER)),
    )

    assert response.status_code == 409
    session.refresh(declaration)
    assert declaration.status is DeclarationStatus.REJECTED


def test_declarants_cannot_release(client, session, declarant, auth_headers):
    declaration = make_declaration(session, declarant=declarant, status=DeclarationStatus.AUDITED)

    response = client.post(f"{DECLARATIONS}/{declaration.id}/release", json={}, headers=auth_headers(declarant))

    assert response.status_code == 403
    assert (
        session.scalar(select(Declaration.status).where(Declaration.id == declaration.id)) is DeclarationStatus.AUDITED
    )
