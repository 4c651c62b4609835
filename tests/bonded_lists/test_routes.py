import re

import pytest

from app.bonded_lists.models import InvtStatus
from app.users.models import Role
from tests.factories import make_bonded_list, make_user

LISTS = "/api/v1/bonded-lists"
AUDIT = "/api/v1/admin/audit-events"


def payload(**overrides):
    body = {
        "putrec_no": "T3111W000076",
        "customs_code": "3111",
        "impexp_markcd": "E",
        "supv_mode": "5034",
        "dclcus_flag": True,
        "entry_no": "311120241000097136",
        "lines": [
            {
                "gnum": 1,
                "gds_mtno": "MT-NB-14",
                "hs_code": "8471300000",
                "name": "笔记本电脑",
                "qty": "200",
                "unit": "001",
                "gross_wt": "620",
                "net_wt": "560",
            }
        ],
    }
    body.update(overrides)
    return body


def with_line(**changes):
    return {"lines": [{**payload()["lines"][0], **changes}]}


def audit_actions(client, headers, bonded_list_id):
    events = client.get(
        AUDIT, query_string={"target_type": "bonded_lists", "target_id": str(bonded_list_id)}, headers=headers
    ).json["items"]
    return [event["action"] for event in reversed(events)]


# Declaring


def test_a_declarant_declares_a_bonded_list_and_the_service_numbers_it(client, auth_headers, declarant, admin):
    response = client.post(LISTS, json=payload(), headers=auth_headers(declarant))

    assert response.status_code == 201
    body = response.json
    assert re.fullmatch(r"QD3111\d{2}E\d{9}", body["bond_invt_no"])
    assert body["bond_invt_no"].endswith(f"{body['id']:09d}")
    assert (body["invt_stucd"], body["entry_stucd"], body["deduction_mark"]) == (
        "declared",
        "not_released",
        "not_deducted",
    )
    assert body["declaring_enterprise_id"] == declarant.enterprise_id
    assert [(line["gds_mtno"], line["hs_code"], line["gross_wt"]) for line in body["lines"]] == [
        ("MT-NB-14", "8471300000", "620.0000")
    ]
    assert audit_actions(client, auth_headers(admin), body["id"]) == ["bonded_list.declared"]


def test_a_list_declared_through_the_single_window_keeps_its_number_once(client, auth_headers, declarant):
    headers = auth_headers(declarant)

    first = client.post(LISTS, json=payload(bond_invt_no="QD311124E000097136"), headers=headers)
    again = client.post(LISTS, json=payload(bond_invt_no="QD311124E000097136"), headers=headers)

    assert first.json["bond_invt_no"] == "QD311124E000097136"
    assert again.status_code == 409
    assert again.json["code"] == "bond_invt_no_taken"
    assert "bond_invt_no" in again.json["errors"]["json"]


def test_a_list_that_needs_no_customs_declaration_has_no_entry_status(client, auth_headers, declarant):
    response = client.post(LISTS, json=payload(dclcus_flag=False, entry_no=None), headers=auth_headers(declarant))

    assert response.status_code == 201
    assert response.json["entry_stucd"] is None


@pytest.mark.parametrize(
    ("field", "overrides"),
    [
        ("bond_invt_no", {"bond_invt_no": "QD3111E24000097136"}),
        ("bond_invt_no", {"bond_invt_no": "QD311124I000097136"}),  # an import number on an export list
        ("putrec_no", {"putrec_no": "T3111000076"}),
        ("customs_code", {"customs_code": "311"}),
        ("impexp_markcd", {"impexp_markcd": "X"}),
        ("supv_mode", {"supv_mode": "50A4"}),
        ("dclcus_flag", {"dclcus_flag": "maybe"}),
        ("entry_no", {"entry_no": "3111202400000971"}),
        ("entry_no", {"entry_no": "311120242000097136"}),  # the 9th digit is 1 (import) or 0 (export)
        ("entry_no", {"dclcus_flag": False}),  # a declaration on a list that needs none
        ("lines", {"lines": []}),
    ],
)
def test_head_fields_in_the_wrong_format_are_refused(client, auth_headers, declarant, field, overrides):
    response = client.post(LISTS, json=payload(**overrides), headers=auth_headers(declarant))

    assert response.status_code == 422
    assert field in response.json["errors"]["json"]


@pytest.mark.parametrize(
    ("field", "changes"),
    [
        ("gds_mtno", {"gds_mtno": "  "}),
        ("hs_code", {"hs_code": "84713000"}),
        ("name", {"name": ""}),
        ("qty", {"qty": "0"}),
        ("unit", {"unit": "KG"}),
        ("gross_wt", {"gross_wt": "-1"}),
        ("net_wt", {"net_wt": "700"}),  # more than the gross weight
    ],
)
def test_goods_lines_in_the_wrong_format_are_refused(client, auth_headers, declarant, field, changes):
    response = client.post(LISTS, json=payload(**with_line(**changes)), headers=auth_headers(declarant))

    assert response.status_code == 422
    assert field in response.json["errors"]["json"]["lines"]["0"]


def test_only_declarants_declare_bonded_lists(client, auth_headers, officer):
    response = client.post(LISTS, json=payload(), headers=auth_headers(officer))

    assert response.status_code == 403


# Who sees what


def test_declarants_see_only_their_enterprises_lists(client, auth_headers, session, declarant):
    own = make_bonded_list(session, declarant=declarant)
    theirs = make_bonded_list(session)
    headers = auth_headers(declarant)

    listed = client.get(LISTS, headers=headers).json["items"]

    assert [item["id"] for item in listed] == [own.id]
    assert client.get(f"{LISTS}/{own.id}", headers=headers).status_code == 200
    assert client.get(f"{LISTS}/{theirs.id}", headers=headers).status_code == 404


@pytest.mark.parametrize("role", [Role.CUSTOMS_OFFICER, Role.CUSTOMS_GATEWAY, Role.ADMIN])
def test_customs_and_admins_see_every_list(client, auth_headers, session, role):
    bonded_list = make_bonded_list(session)

    response = client.get(f"{LISTS}/{bonded_list.id}", headers=auth_headers(make_user(session, role=role)))

    assert response.status_code == 200
    assert response.json["lines"][0]["name"] == "笔记本电脑"


@pytest.mark.parametrize("role", [Role.WAREHOUSE_OPERATOR, Role.GATE_OPERATOR])
def test_other_roles_find_no_lists(client, auth_headers, session, role):
    bonded_list = make_bonded_list(session)
    headers = auth_headers(make_user(session, role=role))

    assert client.get(f"{LISTS}/{bonded_list.id}", headers=headers).status_code == 404
    assert client.get(LISTS, headers=headers).json["items"] == []


def test_the_list_pages_by_cursor_and_filters_by_status(client, auth_headers, session, declarant):
    lists = [make_bonded_list(session, declarant=declarant) for _ in range(3)]
    approved = make_bonded_list(session, declarant=declarant, invt_stucd=InvtStatus.APPROVED)
    headers = auth_headers(declarant)

    first = client.get(LISTS, query_string={"limit": 2, "invt_stucd": "declared"}, headers=headers).json
    second = client.get(
        LISTS, query_string={"limit": 2, "invt_stucd": "declared", "cursor": first["next_cursor"]}, headers=headers
    ).json
    by_number = client.get(LISTS, query_string={"bond_invt_no": approved.bond_invt_no}, headers=headers).json

    assert [item["id"] for item in first["items"] + second["items"]] == [lists[2].id, lists[1].id, lists[0].id]
    assert second["next_cursor"] is None
    assert [item["id"] for item in by_number["items"]] == [approved.id]


def test_a_list_filter_with_a_malformed_number_is_refused(client, auth_headers, declarant):
    response = client.get(LISTS, query_string={"bond_invt_no": "QD12"}, headers=auth_headers(declarant))

    assert response.status_code == 422
    assert "bond_invt_no" in response.json["errors"]["query"]


# Deleting


def test_the_declarant_deletes_a_declared_list_but_not_an_approved_one(client, auth_headers, session, declarant, admin):
    declared = make_bonded_list(session, declarant=declarant)
    approved = make_bonded_list(session, declarant=declarant, invt_stucd=InvtStatus.APPROVED)
    headers = auth_headers(declarant)

    deleted = client.delete(f"{LISTS}/{declared.id}", headers=headers)
    again = client.delete(f"{LISTS}/{declared.id}", headers=headers)
    refused = client.delete(f"{LISTS}/{approved.id}", headers=headers)

    assert deleted.status_code == 200
    assert deleted.json["invt_stucd"] == "deleted"
    assert deleted.json["deleted_at"] is not None
    assert again.json == deleted.json
    assert refused.status_code == 409
    assert refused.json["code"] == "invalid_transition"
    assert audit_actions(client, auth_headers(admin), declared.id) == ["bonded_list.deleted"]


def test_another_enterprises_list_cannot_be_deleted(client, auth_headers, session, declarant):
    theirs = make_bonded_list(session)

    response = client.delete(f"{LISTS}/{theirs.id}", headers=auth_headers(declarant))

    assert response.status_code == 404


# Customs: INV201 and the entry's release


def test_the_gateway_records_customs_approval_once(client, auth_headers, session, gateway, admin):
    bonded_list = make_bonded_list(session)
    headers = auth_headers(gateway)

    approved = client.post(f"{LISTS}/{bonded_list.id}/approval", json={"result": "approved"}, headers=headers)
    repeated = client.post(f"{LISTS}/{bonded_list.id}/approval", json={"result": "approved"}, headers=headers)

    assert approved.status_code == 200
    assert approved.json["invt_stucd"] == "approved"
    assert approved.json["decided_at"] is not None
    assert repeated.json == approved.json
    assert audit_actions(client, auth_headers(admin), bonded_list.id) == ["bonded_list.approved"]


def test_a_rejection_needs_and_keeps_the_reason(client, auth_headers, session, officer, admin):
    bonded_list = make_bonded_list(session)
    headers = auth_headers(officer)
    url = f"{LISTS}/{bonded_list.id}/approval"

    unexplained = client.post(url, json={"result": "rejected"}, headers=headers)
    rejected = client.post(url, json={"result": "rejected", "return_info": "料号与账册不符"}, headers=headers)
    approved_after = client.post(url, json={"result": "approved"}, headers=headers)

    assert unexplained.status_code == 422
    assert "return_info" in unexplained.json["errors"]["json"]
    assert (rejected.json["invt_stucd"], rejected.json["return_info"]) == ("rejected", "料号与账册不符")
    assert approved_after.status_code == 409
    [event] = client.get(
        AUDIT,
        query_string={"action": "bonded_list.rejected", "target_id": str(bonded_list.id)},
        headers=auth_headers(admin),
    ).json["items"]
    assert event["details"] == {"return_info": "料号与账册不符"}


def test_declarants_do_not_record_customs_decisions(client, auth_headers, session, declarant):
    bonded_list = make_bonded_list(session, declarant=declarant)
    headers = auth_headers(declarant)

    approval = client.post(f"{LISTS}/{bonded_list.id}/approval", json={"result": "approved"}, headers=headers)
    release = client.post(f"{LISTS}/{bonded_list.id}/entry-release", json={}, headers=headers)

    assert (approval.status_code, release.status_code) == (403, 403)


def test_the_entry_release_is_recorded_once_and_audited(client, auth_headers, session, gateway, admin):
    bonded_list = make_bonded_list(session, invt_stucd=InvtStatus.APPROVED)
    headers = auth_headers(gateway)
    url = f"{LISTS}/{bonded_list.id}/entry-release"

    released = client.post(url, json={}, headers=headers)
    repeated = client.post(url, json={"entry_no": bonded_list.entry_no}, headers=headers)

    assert released.status_code == 200
    assert (released.json["entry_stucd"], released.json["entry_no"]) == ("released", bonded_list.entry_no)
    assert released.json["entry_released_at"] is not None
    assert repeated.json == released.json
    assert audit_actions(client, auth_headers(admin), bonded_list.id) == ["bonded_list.entry_released"]


def test_the_release_names_the_declaration_when_the_list_did_not(client, auth_headers, session, officer):
    bonded_list = make_bonded_list(session, entry_no=None)
    headers = auth_headers(officer)
    url = f"{LISTS}/{bonded_list.id}/entry-release"

    unnamed = client.post(url, json={}, headers=headers)
    named = client.post(url, json={"entry_no": "801220261000000001"}, headers=headers)

    assert unnamed.status_code == 422
    assert "entry_no" in unnamed.json["errors"]["json"]
    assert (named.json["entry_no"], named.json["entry_stucd"]) == ("801220261000000001", "released")


def test_a_release_naming_another_declaration_is_refused(client, auth_headers, session, officer):
    bonded_list = make_bonded_list(session)

    response = client.post(
        f"{LISTS}/{bonded_list.id}/entry-release",
        json={"entry_no": "801220260999999999"},
        headers=auth_headers(officer),
    )

    assert response.status_code == 422
    assert bonded_list.entry_no in response.json["detail"]


@pytest.mark.parametrize(
    "overrides",
    [
        {"dclcus_flag": False},
        {"invt_stucd": InvtStatus.REJECTED},
        {"invt_stucd": InvtStatus.DELETED},
    ],
)
def test_no_entry_is_released_for_a_list_without_one_or_a_dead_list(client, auth_headers, session, officer, overrides):
    bonded_list = make_bonded_list(session, **overrides)

    response = client.post(f"{LISTS}/{bonded_list.id}/entry-release", json={}, headers=auth_headers(officer))

    assert response.status_code == 409
    assert response.json["code"] == "invalid_transition"
