"""What a person reads comes back in their language: a Chinese client reads Chinese problems (title, detail and each
field's message), an English client English, and each notice reaches its recipient in the language they chose."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.bonded_lists.models import InvtStatus
from app.notices.models import Notice, NoticeKind
from app.users.models import Language, Role
from tests.bonded_lists.test_routes import LISTS, payload
from tests.factories import make_bonded_list, make_gate, make_gate_pass, make_user
from tests.gates.helpers import arrive, weigh
from tests.notices.test_settings import SETTINGS

ZH = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}
EN = {"Accept-Language": "en-US,en;q=0.9"}


def test_a_chinese_client_reads_a_wrong_state_conflict_in_chinese(client, auth_headers, session, declarant):
    approved = make_bonded_list(session, declarant=declarant, invt_stucd=InvtStatus.APPROVED)

    refused = client.delete(f"{LISTS}/{approved.id}", headers=auth_headers(declarant) | ZH)

    assert (refused.status_code, refused.json["code"]) == (409, "invalid_transition")
    assert refused.json["title"] == "当前状态不允许此操作"
    assert refused.json["detail"] == (
        f"核注清单 {approved.bond_invt_no} 状态为 approved，只有已申报的核注清单才能删除。"
    )


def test_an_english_client_reads_the_same_conflict_in_english(client, auth_headers, session, declarant):
    approved = make_bonded_list(session, declarant=declarant, invt_stucd=InvtStatus.APPROVED)

    refused = client.delete(f"{LISTS}/{approved.id}", headers=auth_headers(declarant) | EN)

    assert (refused.status_code, refused.json["code"]) == (409, "invalid_transition")
    assert refused.json["title"] == "Not allowed in this status"
    assert refused.json["detail"] == (
        f"Bonded list {approved.bond_invt_no} is approved; only a declared list can be deleted."
    )


def bad_list() -> dict:
    """A bonded list with a missing field, a field of our own format, a marshmallow range and an unknown field."""
    body = payload(supv_mode="50", surprise="x")
    del body["customs_code"]
    body["lines"][0]["gnum"] = 0
    return body


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (
            ZH,
            {
                "title": "无法处理的内容",
                "detail": "请求未通过校验，详见 errors。",
                "customs_code": ["必填字段缺失。"],
                "supv_mode": ["4 位监管方式代码，如 5034。"],
                "surprise": ["未知字段。"],
                "gnum": ["须大于等于 1。"],
            },
        ),
        (
            EN,
            {
                "title": "Unprocessable Entity",
                "detail": "The request did not pass validation; see errors.",
                "customs_code": ["Missing data for required field."],
                "supv_mode": ["A 4-digit supervision mode code, e.g. 5034."],
                "surprise": ["Unknown field."],
                "gnum": ["Must be greater than or equal to 1."],
            },
        ),
    ],
)
def test_a_validation_error_speaks_the_clients_language_field_by_field(
    client, auth_headers, declarant, headers, expected
):
    refused = client.post(LISTS, json=bad_list(), headers=auth_headers(declarant) | headers)

    assert (refused.status_code, refused.json["code"]) == (422, "validation_failed")
    errors = refused.json["errors"]["json"]
    assert (refused.json["title"], refused.json["detail"]) == (expected["title"], expected["detail"])
    for field in ("customs_code", "supv_mode", "surprise"):
        assert errors[field] == expected[field]
    assert errors["lines"]["0"]["gnum"] == expected["gnum"]


@pytest.mark.parametrize(
    ("headers", "title", "detail"),
    [
        (ZH, "需要登录", "请以“Authorization: Bearer <token>”发送访问令牌。"),
        (EN, "Authentication required", "Send an access token as 'Authorization: Bearer <token>'."),
    ],
)
def test_a_missing_sign_in_is_a_401_in_the_clients_language(client, headers, title, detail):
    refused = client.get("/api/v1/declarations", headers=headers)

    assert (refused.status_code, refused.json["code"]) == (401, "authentication_required")
    assert (refused.json["title"], refused.json["detail"]) == (title, detail)


def test_each_officer_reads_a_held_vehicle_in_their_own_language(session, client, auth_headers):
    chinese = make_user(session, role=Role.CUSTOMS_OFFICER, language=Language.ZH)
    english = make_user(session, role=Role.CUSTOMS_OFFICER, language=Language.EN)
    for officer in (chinese, english):
        assert client.put(SETTINGS, json={"customs_code": "8012"}, headers=auth_headers(officer)).status_code == 200
    gate = make_gate(session, customs_code="8012")
    gate_pass = make_gate_pass(session)
    ops = auth_headers(make_user(session, role=Role.GATE_OPERATOR))
    arrived = arrive(client, ops, gate, gate_pass.plate)

    decided = weigh(client, ops, arrived.json["id"], "10400")

    assert decided.json["status"] == "referred"
    read = {}
    for officer in (chinese, english):
        # The app sends its own language; the notice was written for the recipient whatever the header says.
        feed = client.get("/api/v1/notices", query_string={"after_seq": 0}, headers=auth_headers(officer) | EN)
        [held] = [item for item in feed.json["items"] if item["kind"] == NoticeKind.OFFICER_VEHICLE_HELD.value]
        read[officer.id] = (held["title"], held["body"])
    assert read[chinese.id][0] == f"车辆卡口滞留 {gate_pass.plate}"
    assert read[chinese.id][1].startswith(f"车辆 {gate_pass.plate} 在卡口 {gate.code}/")
    assert read[chinese.id][1].endswith("转人工：地磅重量超出允许误差。")
    assert read[english.id][0] == f"Vehicle held at the gate: {gate_pass.plate}"
    assert read[english.id][1].startswith(f"Vehicle {gate_pass.plate} is held at {gate.code}/")
    assert read[english.id][1].endswith(": weighbridge weight outside tolerance.")


def test_the_stored_notice_keeps_the_recipients_language(session, client, auth_headers):
    chinese = make_user(session, role=Role.CUSTOMS_OFFICER, language=Language.ZH)
    assert client.put(SETTINGS, json={"customs_code": "8012"}, headers=auth_headers(chinese) | EN).status_code == 200
    gate = make_gate(session, customs_code="8012")
    gate_pass = make_gate_pass(session)
    ops = auth_headers(make_user(session, role=Role.GATE_OPERATOR))

    weigh(client, ops | EN, arrive(client, ops | EN, gate, gate_pass.plate).json["id"], "10400")

    titles = session.scalars(select(Notice.title).where(Notice.recipient_id == chinese.id)).all()
    assert titles == [f"车辆卡口滞留 {gate_pass.plate}"]
