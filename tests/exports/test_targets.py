import pytest
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.users.models import Role
from tests.factories import make_declaration, make_export_list, make_user

TARGETS = "/api/v1/export-targets"


@pytest.fixture
def as_officer(officer, auth_headers):
    return auth_headers(officer)


def test_an_officer_targets_a_list_and_a_waybill_and_sees_them_listed(session, client, as_officer):
    export = make_export_list(session)

    on_list = client.post(TARGETS, json={"declaration_id": export.id, "reason": "低报价格"}, headers=as_officer)
    on_waybill = client.post(TARGETS, json={"waybill_no": "CQX9000000001", "reason": "情报"}, headers=as_officer)

    assert on_list.status_code == 201, on_list.json
    assert on_list.json["active"] is True and on_list.json["declaration_id"] == export.id
    assert on_waybill.status_code == 201, on_waybill.json
    page = client.get(TARGETS, headers=as_officer)
    assert [item["id"] for item in page.json["items"]] == [on_waybill.json["id"], on_list.json["id"]]
    only_list = client.get(TARGETS, query_string={"declaration_id": export.id}, headers=as_officer)
    assert [item["id"] for item in only_list.json["items"]] == [on_list.json["id"]]


def test_targets_are_paginated(session, client, as_officer):
    for index in range(3):
        client.post(TARGETS, json={"waybill_no": f"CQX90000000{index:02d}", "reason": "抽查"}, headers=as_officer)

    first = client.get(TARGETS, query_string={"limit": 2}, headers=as_officer)
    second = client.get(TARGETS, query_string={"limit": 2, "cursor": first.json["next_cursor"]}, headers=as_officer)

    assert len(first.json["items"]) == 2 and len(second.json["items"]) == 1
    assert second.json["next_cursor"] is None


def test_lifting_a_target_takes_it_off_the_active_list_and_is_audited(session, client, as_officer):
    made = client.post(TARGETS, json={"waybill_no": "CQX9000000001", "reason": "情报"}, headers=as_officer).json

    lifted = client.post(f"{TARGETS}/{made['id']}/lift", headers=as_officer)
    again = client.post(f"{TARGETS}/{made['id']}/lift", headers=as_officer)

    assert lifted.status_code == 200 and lifted.json["active"] is False and lifted.json["lifted_at"]
    assert again.status_code == 409 and again.json["code"] == "target_lifted"
    assert client.get(TARGETS, headers=as_officer).json["items"] == []
    assert [
        item["id"] for item in client.get(TARGETS, query_string={"active": "false"}, headers=as_officer).json["items"]
    ] == [made["id"]]
    actions = session.scalars(
        select(AuditEvent.action).where(
            AuditEvent.target_type == "export_targets", AuditEvent.target_id == str(made["id"])
        )
    ).all()
    assert sorted(actions) == ["export.target_lifted", "export.targeted"]


def test_a_subject_with_a_live_target_cannot_be_targeted_twice(session, client, as_officer):
    body = {"waybill_no": "CQX9000000001", "reason": "情报"}
    assert client.post(TARGETS, json=body, headers=as_officer).status_code == 201

    again = client.post(TARGETS, json=body, headers=as_officer)

    assert again.status_code == 409 and again.json["code"] == "already_targeted"


@pytest.mark.parametrize(
    "body",
    [
        {"reason": "neither"},
        {"declaration_id": 1, "waybill_no": "CQX9000000001", "reason": "both"},
        {"waybill_no": "CQX9000000001"},
        {"waybill_no": "x", "reason": "too short"},
    ],
)
def test_a_target_names_exactly_one_subject_and_a_reason(client, as_officer, body):
    response = client.post(TARGETS, json=body, headers=as_officer)

    assert response.status_code == 422, response.json


def test_only_an_export_list_can_be_targeted(session, client, as_officer):
    imported = make_declaration(session)

    response = client.post(TARGETS, json={"declaration_id": imported.id, "reason": "x"}, headers=as_officer)

    assert response.status_code == 404


@pytest.mark.parametrize("role", [Role.DECLARANT, Role.WAREHOUSE_OPERATOR, Role.XRAY_LINE])
def test_only_officers_target(session, client, auth_headers, role):
    headers = auth_headers(make_user(session, role=role))

    assert client.get(TARGETS, headers=headers).status_code == 403
    assert client.post(TARGETS, json={"waybill_no": "CQX9000000001", "reason": "x"}, headers=headers).status_code == 403
