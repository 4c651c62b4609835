import pytest
from sqlalchemy import func, select

from app.customs.models import Receipt
from app.declarations.models import DeclarationEvent, DeclarationStatus
from app.notices.models import Notice
from app.users.models import Role
from tests.factories import make_declaration, make_user

RECEIPTS = "/api/v1/customs/receipts"
CEB = "http://www.chinaport.gov.cn/ceb"


@pytest.fixture
def gateway(session, auth_headers):
    return auth_headers(make_user(session, role=Role.CUSTOMS_GATEWAY))


@pytest.fixture
def declaration(session, declarant):
    return make_declaration(session, declarant=declarant)


def receipt(declaration, code, time, **extra):
    return {"guid": declaration.guid, "status_code": code, "return_time": time, **extra}


def send(client, headers, *receipts):
    return client.post(RECEIPTS, json={"receipts": list(receipts)}, headers=headers)


def steps(session, declaration):
    return session.scalars(
        select(DeclarationEvent.step)
        .where(DeclarationEvent.declaration_id == declaration.id)
        .order_by(DeclarationEvent.occurred_at, DeclarationEvent.id)
    ).all()


def notices_of(session, declaration):
    return session.scalars(select(Notice.kind).where(Notice.declaration_id == declaration.id).order_by(Notice.id)).all()


def test_receipt_120_accepts_and_assigns_the_list_number(client, session, gateway, declaration):
    response = send(client, gateway, receipt(declaration, 120, "20261111093000123", invt_no="80122026I000000123"))

    assert response.status_code == 200
    assert response.json["results"] == [
        {
            "index": 0,
            "outcome": "applied",
            "receipt_id": response.json["results"][0]["receipt_id"],
            "declaration_id": declaration.id,
            "status": "accepted",
        }
    ]
    session.refresh(declaration)
    assert declaration.status is DeclarationStatus.ACCEPTED
    assert declaration.invt_no == "80122026I000000123"
    assert [kind.value for kind in notices_of(session, declaration)] == ["declaration.accepted"]


def test_a_receipt_can_name_its_declaration_by_cop_no(client, session, gateway, declaration):
    response = send(
        client, gateway, {"cop_no": declaration.cop_no, "status_code": 120, "return_time": "20261111093000000"}
    )

    assert response.json["results"][0]["outcome"] == "applied"


def test_the_same_receipt_twice_is_a_no_op(client, session, gateway, declaration):
    first = send(client, gateway, receipt(declaration, 120, "20261111093000123"))
    twin = receipt(declaration, 120, "20261111093000123")

    again = send(client, gateway, twin, twin)

    assert [r["outcome"] for r in again.json["results"]] == ["duplicate", "duplicate"]
    assert again.json["results"][0]["receipt_id"] == first.json["results"][0]["receipt_id"]
    assert steps(session, declaration) == ["receipt_120"]
    assert len(notices_of(session, declaration)) == 1


def test_twins_in_one_document_are_stored_once(client, session, gateway, declaration):
    twin = receipt(declaration, 300, "20261111093000123")

    response = send(client, gateway, twin, twin)

    assert [r["outcome"] for r in response.json["results"]] == ["applied", "duplicate"]
    assert (
        session.scalar(select(func.count()).select_from(Receipt).where(Receipt.declaration_id == declaration.id)) == 1
    )


def test_a_late_receipt_never_moves_a_declaration_back_but_stays_on_the_timeline(client, session, gateway, declaration):
    send(client, gateway, receipt(declaration, 800, "20261111110000000"))

    late = send(client, gateway, receipt(declaration, 120, "20261111093000000", invt_no="80122026I000000124"))

    assert late.json["results"][0]["outcome"] == "stale"
    session.refresh(declaration)
    assert declaration.status is DeclarationStatus.RELEASED
    # The list number still counts, whenever it arrives.
    assert declaration.invt_no == "80122026I000000124"
    assert steps(session, declaration) == ["receipt_120", "receipt_800"]
    stale_event = session.scalars(
        select(DeclarationEvent).where(
            DeclarationEvent.step == "receipt_120", DeclarationEvent.declaration_id == declaration.id
        )
    ).one()
    assert stale_event.status_changed is False
    assert session.get(Receipt, late.json["results"][0]["receipt_id"]).outcome.value == "stale"


def test_a_document_is_applied_in_customs_time_order(client, session, gateway, declaration):
    response = send(
        client,
        gateway,
        receipt(declaration, 399, "20261111100000000"),
        receipt(declaration, 120, "20261111090000000"),
        receipt(declaration, 300, "20261111093000000"),
    )

    assert [r["outcome"] for r in response.json["results"]] == ["applied", "applied", "applied"]
    assert steps(session, declaration) == ["receipt_120", "receipt_300", "receipt_399"]
    session.refresh(declaration)
    assert declaration.status is DeclarationStatus.AUDITED


def test_a_rejection_tells_the_declarants_why(client, session, gateway, declaration, declarant):
    send(client, gateway, receipt(declaration, 100, "20261111093000000", return_info="订购人身份信息校验失败"))

    session.refresh(declaration)
    assert declaration.status is DeclarationStatus.REJECTED
    assert declaration.return_info == "订购人身份信息校验失败"
    notice = session.scalars(select(Notice).where(Notice.declaration_id == declaration.id)).one()
    assert notice.recipient_id == declarant.id
    assert notice.kind.value == "declaration.rejected"
    assert "订购人身份信息校验失败" in notice.body


def test_detention_codes_detain(client, session, gateway, declaration):
    send(client, gateway, receipt(declaration, 502, "20261111093000000"))

    session.refresh(declaration)
    assert declaration.status is DeclarationStatus.DETAINED
    assert [kind.value for kind in notices_of(session, declaration)] == ["declaration.detained"]


def test_a_negative_code_is_a_processing_error(client, session, gateway, declaration):
    send(client, gateway, receipt(declaration, -301010, "20261111093000000", return_info="报文签名校验失败"))

    session.refresh(declaration)
    assert declaration.status is DeclarationStatus.SEND_FAILED


def test_an_unlisted_code_is_kept_on_the_timeline_without_a_status_change(client, session, gateway, declaration):
    response = send(client, gateway, receipt(declaration, 601, "20261111093000000"))

    assert response.json["results"][0]["outcome"] == "applied"
    assert steps(session, declaration) == ["receipt_601"]
    session.refresh(declaration)
    assert declaration.status is DeclarationStatus.SUBMITTED


def test_release_by_receipt_800_records_the_release(client, session, gateway, declaration):
    send(client, gateway, receipt(declaration, 800, "2026-11-11T10:00:00+08:00"))

    session.refresh(declaration)
    assert declaration.status is DeclarationStatus.RELEASED
    assert declaration.release_source.value == "receipt_800"
    assert declaration.released_at.isoformat() == "2026-11-11T02:00:00+00:00"


def test_unknown_receipts_are_kept_for_review_and_retried(client, session, gateway, auth_headers, declarant):
    admin = auth_headers(make_user(session, role=Role.ADMIN))
    response = send(client, gateway, {"cop_no": "NOT-YET-HERE", "status_code": 120, "return_time": "20261111093000000"})
    assert response.json["results"][0]["outcome"] == "unknown_declaration"
    queue = client.get(RECEIPTS, query_string={"outcome": "unknown_declaration", "unresolved": "true"}, headers=admin)
    assert [r["cop_no"] for r in queue.json["items"]] == ["NOT-YET-HERE"]
    declaration = make_declaration(session, declarant=declarant, cop_no="NOT-YET-HERE")

    retried = client.post(f"{RECEIPTS}/{queue.json['items'][0]['id']}/retry", headers=admin)

    assert retried.status_code == 200
    assert retried.json["outcome"] == "applied"
    assert retried.json["declaration_id"] == declaration.id
    session.refresh(declaration)
    assert declaration.status is DeclarationStatus.ACCEPTED
    remaining = client.get(
        RECEIPTS, query_string={"outcome": "unknown_declaration", "unresolved": "true"}, headers=admin
    )
    assert remaining.json["items"] == []


def test_an_unknown_receipt_can_be_dismissed_once(client, session, gateway, auth_headers):
    admin = auth_headers(make_user(session, role=Role.ADMIN))
    stored_id = send(
        client, gateway, {"cop_no": "NOBODY", "status_code": 120, "return_time": "20261111093000000"}
    ).json["results"][0]["receipt_id"]

    first = client.post(f"{RECEIPTS}/{stored_id}/dismiss", headers=admin)
    second = client.post(f"{RECEIPTS}/{stored_id}/dismiss", headers=admin)

    assert first.status_code == 200 and first.json["resolved_at"]
    assert second.status_code == 409


@pytest.mark.parametrize(
    ("item", "field"),
    [
        ({"status_code": 120, "return_time": "20261111093000000"}, "guid"),
        ({"cop_no": "X", "return_time": "20261111093000000"}, "status_code"),
        ({"cop_no": "X", "status_code": 120, "return_time": "yesterday"}, "return_time"),
        ({"cop_no": "X", "status_code": 120, "return_time": "2026-11-11T09:30:00"}, "return_time"),
        ({"cop_no": "X", "status_code": 120, "return_time": "20261111093000000", "invt_no": "123"}, "invt_no"),
    ],
)
def test_invalid_receipts_refuse_the_document_and_store_nothing(client, session, gateway, item, field):
    response = send(client, gateway, item)

    assert response.status_code == 422
    assert field in response.json["errors"]["json"]["receipts"]["0"]
    assert session.scalar(select(func.count()).select_from(Receipt)) == 0


def test_only_the_customs_gateway_sends_receipts(client, session, auth_headers, declaration):
    officer = auth_headers(make_user(session, role=Role.CUSTOMS_OFFICER))

    assert send(client, officer, receipt(declaration, 120, "20261111093000000")).status_code == 403


def test_other_media_types_are_refused(client, gateway):
    response = client.post(RECEIPTS, data="status=120", content_type="text/plain", headers=gateway)

    assert response.status_code == 415


def ceb622(*returns, prolog=""):
    body = "".join(
        f"<ceb:InventoryReturn>"
        f"<ceb:guid>{r['guid']}</ceb:guid><ceb:customsCode>8012</ceb:customsCode>"
        f"<ceb:ebpCode>500224A005</ceb:ebpCode><ceb:ebcCode>500224A004</ceb:ebcCode>"
        f"<ceb:agentCode>500224A001</ceb:agentCode><ceb:copNo>{r['cop_no']}</ceb:copNo>"
        f"<ceb:preNo>B20261111000000001</ceb:preNo><ceb:invtNo>{r.get('invt_no', '')}</ceb:invtNo>"
        f"<ceb:returnStatus>{r['code']}</ceb:returnStatus><ceb:returnTime>{r['time']}</ceb:returnTime>"
        f"<ceb:returnInfo>{r.get('info', '')}</ceb:returnInfo>"
        f"</ceb:InventoryReturn>"
        for r in returns
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>{prolog}'
        f'<ceb:CEB622Message xmlns:ceb="{CEB}" guid="7D0E5C2A-1B1A-4F4C-9A55-1A2B3C4D5E6F" version="1.0">'
        f"{body}</ceb:CEB622Message>"
    ).encode()


def send_xml(client, headers, document):
    return client.post(RECEIPTS, data=document, content_type="application/xml", headers=headers)


def test_a_ceb622_xml_document_is_applied(client, session, gateway, declaration):
    document = ceb622(
        {
            "guid": declaration.guid,
            "cop_no": declaration.cop_no,
            "code": 120,
            "time": "20261111093000123",
            "invt_no": "80122026I000000125",
            "info": "新增申报成功",
        },
        {"guid": declaration.guid, "cop_no": declaration.cop_no, "code": 399, "time": "20261111094500000"},
    )

    response = send_xml(client, gateway, document)

    assert response.status_code == 200
    assert [r["outcome"] for r in response.json["results"]] == ["applied", "applied"]
    session.refresh(declaration)
    assert (declaration.status, declaration.invt_no, declaration.pre_no) == (
        DeclarationStatus.AUDITED,
        "80122026I000000125",
        "B20261111000000001",
    )
    raw = session.get(Receipt, response.json["results"][0]["receipt_id"]).raw_body
    assert "InventoryReturn" in raw and "新增申报成功" in raw


def test_xml_and_json_copies_of_one_receipt_are_one_receipt(client, session, gateway, declaration):
    send(client, gateway, {"cop_no": declaration.cop_no, "status_code": 120, "return_time": "20261111093000123"})

    response = send_xml(
        client,
        gateway,
        ceb622({"guid": declaration.guid, "cop_no": declaration.cop_no, "code": 120, "time": "20261111093000123"}),
    )

    assert response.json["results"][0]["outcome"] == "duplicate"


BILLION_LAUGHS = (
    '<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
)
EXTERNAL_ENTITY = '<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'


@pytest.mark.parametrize("prolog", [BILLION_LAUGHS, EXTERNAL_ENTITY, "<!DOCTYPE ceb:CEB622Message>"])
def test_hostile_xml_is_refused_and_nothing_is_stored(client, session, gateway, declaration, prolog):
    document = ceb622(
        {
            "guid": declaration.guid,
            "cop_no": declaration.cop_no,
            "code": 120,
            "time": "20261111093000123",
            "info": "&lol3;" if "lol" in prolog else "",
        },
        prolog=prolog,
    )

    response = send_xml(client, gateway, document)

    assert response.status_code == 400
    assert response.json["code"] == "xml_forbidden"
    assert session.scalar(select(func.count()).select_from(Receipt)) == 0
    session.refresh(declaration)
    assert declaration.status is DeclarationStatus.SUBMITTED


def test_malformed_xml_is_a_400(client, gateway):
    response = send_xml(client, gateway, b"<ceb:CEB622Message xmlns:ceb='x'><unclosed>")

    assert response.status_code == 400
    assert response.json["code"] == "malformed_xml"


def test_xml_of_another_message_type_is_refused(client, gateway):
    response = send_xml(client, gateway, f'<ceb:CEB311Message xmlns:ceb="{CEB}"/>'.encode())

    assert response.status_code == 422


def test_a_declarant_hears_of_a_documents_decisions_in_their_order(client, session, gateway, declaration):
    """Acceptance, inspection and release in one document: the declarants' notices are written as a batch, the
    inspection task's own in between, and the stream order (by id, numbered at commit) is customs' order."""
    send(
        client,
        gateway,
        receipt(declaration, 800, "20261111110000000"),
        receipt(declaration, 120, "20261111090000000"),
        receipt(declaration, 500, "20261111100000000"),
    )

    kinds = session.scalars(
        select(Notice.kind).where(Notice.declaration_id == declaration.id).order_by(Notice.id)
    ).all()
    assert [kind.value for kind in kinds] == ["declaration.accepted", "inspection.issued", "declaration.released"]
