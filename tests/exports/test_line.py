from datetime import timedelta

import pytest
from sqlalchemy import select, update

from app.audit.models import AuditEvent
from app.common import clock
from app.declarations.models import DeclarationEvent, DeclarationStatus
from app.enterprises.models import EnterpriseKind
from app.exports.models import ExportParcel, LineScan, ParcelStage
from app.notices.models import Delivery, Notice, NoticeKind
from app.users.models import Role
from tests.exports.helpers import EXPORT_LISTS
from tests.factories import make_device, make_enterprise, make_export_list, make_user

SCANS = "/api/v1/export-line/scans"
BATCHES = "/api/v1/export-line/scan-batches"
TARGETS = "/api/v1/export-targets"
RELEASED, SCANNED_IN = DeclarationStatus.RELEASED, ParcelStage.SCANNED_IN


@pytest.fixture
def warehouse(session):
    return make_enterprise(session, kinds=[EnterpriseKind.ZONE])


@pytest.fixture
def as_line(session, auth_headers, warehouse):
    return auth_headers(make_user(session, role=Role.XRAY_LINE, enterprise=warehouse))


@pytest.fixture
def released(session, warehouse, declarant):
    """A released list of three parcels, scanned in."""
    return make_export_list(session, declarant=declarant, warehouse=warehouse, status=RELEASED, stage=SCANNED_IN)


def waybill(session, declaration, index=0):
    return session.scalars(
        select(ExportParcel.waybill_no).where(ExportParcel.declaration_id == declaration.id).order_by(ExportParcel.id)
    ).all()[index]


def parcel(session, number):
    return session.scalar(
        select(ExportParcel).where(ExportParcel.waybill_no == number).execution_options(populate_existing=True)
    )


def scan(number, verdict="clear", line_id="XR-01"):
    return {"waybill_no": number, "line_id": line_id, "image_ref": f"img/{number}.png", "verdict": verdict}


def diverts_recorded(session, declaration):
    notices = session.scalars(
        select(Notice).where(Notice.declaration_id == declaration.id, Notice.kind == NoticeKind.EXPORT_DIVERTED)
    ).all()
    audits = session.scalars(select(AuditEvent).where(AuditEvent.action == "export.parcel_diverted")).all()
    return notices, audits


def test_a_clear_parcel_of_a_released_list_passes_and_only_the_scan_is_written(
    session, client, as_line, released, declarant, auth_headers
):
    number = waybill(session, released)

    answer = client.post(SCANS, json=scan(number), headers=as_line)

    assert answer.status_code == 200, answer.json
    assert answer.json["decision"] == "pass"
    assert answer.json["reason"] is None
    assert answer.json["message"] == "放行"
    stored = session.get(LineScan, answer.json["scan_id"])
    assert (stored.waybill_no, stored.line_id, stored.image_ref) == (number, "XR-01", f"img/{number}.png")
    assert stored.parcel_id == parcel(session, number).id
    assert parcel(session, number).stage is ParcelStage.PASSED
    assert parcel(session, number).line_scanned_at is not None
    events = client.get(f"{EXPORT_LISTS}/{released.id}/timeline", headers=auth_headers(declarant)).json["events"]
    assert "line_diverted" not in [event["step"] for event in events]
    assert diverts_recorded(session, released) == ([], [])


def test_a_parcel_the_machine_flags_is_diverted_with_a_step_an_audit_entry_and_a_notice(
    session, client, as_line, released, declarant, auth_headers
):
    number = waybill(session, released)

    answer = client.post(SCANS, json=scan(number, "suspect"), headers=as_line)

    assert (answer.json["decision"], answer.json["reason"]) == ("divert", "machine")
    assert parcel(session, number).stage is ParcelStage.DIVERTED
    assert parcel(session, number).divert_reason == "machine"
    events = client.get(f"{EXPORT_LISTS}/{released.id}/timeline", headers=auth_headers(declarant)).json["events"]
    step = events[-1]
    assert (step["step"], step["biz_step"], step["disposition"]) == ("line_diverted", "inspecting", "non_conformant")
    assert step["details"]["waybill_no"] == number and step["details"]["scan_id"] == answer.json["scan_id"]
    notices, audits = diverts_recorded(session, released)
    assert [notice.recipient_id for notice in notices] == [declarant.id]
    assert number in notices[0].title and notices[0].link == f"/api/v1/export-lists/{released.id}"
    assert [audit.target_id for audit in audits] == [str(parcel(session, number).id)]


def test_a_divert_queues_each_recipients_push_for_their_own_notice(
    session, client, as_line, released, declarant, officer
):
    phones = {user.id: make_device(session, user=user) for user in (declarant, officer)}
    number = waybill(session, released)

    answer = client.post(SCANS, json=scan(number, "suspect"), headers=as_line)

    assert answer.json["decision"] == "divert"
    notices = session.scalars(select(Notice).where(Notice.source_key.contains(f"/{parcel(session, number).id}/"))).all()
    assert {notice.recipient_id: notice.kind for notice in notices} == {
        declarant.id: NoticeKind.EXPORT_DIVERTED,
        officer.id: NoticeKind.OFFICER_PARCEL_DIVERTED,
    }
    for notice in notices:
        pushes = session.scalars(select(Delivery).where(Delivery.notice_pk == notice.id)).all()
        assert [push.device_id for push in pushes] == [phones[notice.recipient_id].id]
    steps = session.scalars(select(DeclarationEvent).where(DeclarationEvent.step == "line_diverted")).all()
    assert [(step.declaration_id, step.actor_id, step.status_changed) for step in steps] == [
        (released.id, steps[0].actor_id, False)
    ]
    (entry,) = session.scalars(select(AuditEvent).where(AuditEvent.action == "export.parcel_diverted")).all()
    assert entry.details["scan_id"] == answer.json["scan_id"] and entry.digest == entry.content_digest()


@pytest.mark.parametrize("subject", ["list", "waybill"])
def test_a_parcel_customs_targeted_is_diverted_until_the_target_is_lifted(
    session, client, as_line, released, officer, auth_headers, subject
):
    first, second = waybill(session, released, 0), waybill(session, released, 1)
    body = {"declaration_id": released.id} if subject == "list" else {"waybill_no": first}
    target = client.post(TARGETS, json={**body, "reason": "布控"}, headers=auth_headers(officer)).json

    targeted = client.post(SCANS, json=scan(first), headers=as_line)
    client.post(f"{TARGETS}/{target['id']}/lift", headers=auth_headers(officer))
    after_lift = client.post(SCANS, json=scan(second), headers=as_line)

    assert (targeted.json["decision"], targeted.json["reason"]) == ("divert", "targeted")
    assert after_lift.json["decision"] == "pass"


@pytest.mark.parametrize(
    "status", [DeclarationStatus.AUDITED, DeclarationStatus.INSPECTION, DeclarationStatus.DETAINED]
)
def test_a_parcel_of_a_list_not_released_is_diverted(session, client, as_line, warehouse, status):
    export = make_export_list(session, warehouse=warehouse, status=status, stage=SCANNED_IN)
    number = waybill(session, export)

    answer = client.post(SCANS, json=scan(number), headers=as_line)

    assert (answer.json["decision"], answer.json["reason"]) == ("divert", "list_status")
    assert parcel(session, number).stage is ParcelStage.DIVERTED


def test_an_unknown_waybill_is_diverted_and_its_scan_kept(session, client, as_line):
    answer = client.post(SCANS, json=scan("NO-SUCH-WAYBILL"), headers=as_line)

    assert (answer.json["decision"], answer.json["reason"]) == ("divert", "unknown_waybill")
    assert answer.json["message"] == "运单号无记录，转人工处理"
    stored = session.get(LineScan, answer.json["scan_id"])
    assert stored.parcel_id is None and stored.decision == "divert"


def test_another_warehouses_parcel_is_unknown_to_the_line(session, client, as_line):
    elsewhere = make_export_list(session, status=RELEASED, stage=SCANNED_IN)
    number = waybill(session, elsewhere)

    answer = client.post(SCANS, json=scan(number), headers=as_line)

    assert answer.json["reason"] == "unknown_waybill"
    assert parcel(session, number).stage is ParcelStage.SCANNED_IN


def test_a_parcel_never_scanned_in_is_diverted_and_stays_declared(session, client, as_line, warehouse):
    export = make_export_list(session, warehouse=warehouse, status=RELEASED)
    number = waybill(session, export)

    answer = client.post(SCANS, json=scan(number), headers=as_line)

    assert answer.json["reason"] == "not_scanned_in"
    assert parcel(session, number).stage is ParcelStage.DECLARED


def test_a_passed_or_bagged_parcel_rescanned_passes_again_and_keeps_its_stage(session, client, as_line, released):
    passed, bagged = waybill(session, released, 0), waybill(session, released, 1)
    client.post(SCANS, json=scan(passed), headers=as_line)
    session.execute(update(ExportParcel).where(ExportParcel.waybill_no == bagged).values(stage=ParcelStage.BAGGED))

    again = client.post(SCANS, json=scan(passed), headers=as_line)
    from_bag = client.post(SCANS, json=scan(bagged), headers=as_line)

    assert again.json["decision"] == from_bag.json["decision"] == "pass"
    assert parcel(session, passed).stage is ParcelStage.PASSED
    assert parcel(session, bagged).stage is ParcelStage.BAGGED


def test_a_diverted_parcel_back_on_the_belt_is_diverted_again_without_a_second_notice(
    session, client, as_line, released
):
    number = waybill(session, released)
    client.post(SCANS, json=scan(number, "suspect"), headers=as_line)

    again = client.post(SCANS, json=scan(number, "clear"), headers=as_line)

    assert (again.json["decision"], again.json["reason"]) == ("divert", "machine")
    notices, audits = diverts_recorded(session, released)
    assert len(notices) == 1 and len(audits) == 1


def test_after_a_recheck_released_it_only_a_newer_target_diverts_a_parcel(
    session, client, as_line, released, officer, auth_headers
):
    number = waybill(session, released)
    old = client.post(TARGETS, json={"declaration_id": released.id, "reason": "旧"}, headers=auth_headers(officer))
    session.execute(
        update(ExportParcel)
        .where(ExportParcel.waybill_no == number)
        .values(stage=ParcelStage.PASSED, rechecked_at=clock.utcnow() + timedelta(seconds=1))
    )

    doubted = client.post(SCANS, json=scan(number, "suspect"), headers=as_line)
    client.post(f"{TARGETS}/{old.json['id']}/lift", headers=auth_headers(officer))
    session.execute(
        update(ExportParcel).where(ExportParcel.waybill_no == number).values(rechecked_at=clock.utcnow() - timedelta(1))
    )
    client.post(TARGETS, json={"waybill_no": number, "reason": "新情报"}, headers=auth_headers(officer))
    newer = client.post(SCANS, json=scan(number), headers=as_line)

    assert doubted.json["decision"] == "pass"
    assert (newer.json["decision"], newer.json["reason"]) == ("divert", "targeted")


def test_a_batch_is_answered_in_order_as_single_scans_would_be(session, client, as_line, released):
    first, second, third = (waybill(session, released, index) for index in range(3))
    scans = [scan(first), scan(second, "suspect"), scan("NO-SUCH-WAYBILL"), scan(first, "suspect"), scan(third)]

    response = client.post(BATCHES, json={"scans": scans}, headers=as_line)

    assert response.status_code == 200, response.json
    answers = response.json["answers"]
    assert [(a["waybill_no"], a["decision"], a["reason"]) for a in answers] == [
        (first, "pass", None),
        (second, "divert", "machine"),
        ("NO-SUCH-WAYBILL", "divert", "unknown_waybill"),
        (first, "divert", "machine"),
        (third, "pass", None),
    ]
    assert len({a["scan_id"] for a in answers}) == 5
    assert [parcel(session, number).stage for number in (first, second, third)] == [
        ParcelStage.DIVERTED,
        ParcelStage.DIVERTED,
        ParcelStage.PASSED,
    ]
    notices, audits = diverts_recorded(session, released)
    assert len(notices) == len(audits) == 2


def test_a_batch_holds_at_most_500_scans(client, as_line):
    response = client.post(BATCHES, json={"scans": [scan(f"CQX{index:010d}") for index in range(501)]}, headers=as_line)

    assert response.status_code == 422
    assert "scans" in response.json["errors"]["json"]


@pytest.mark.parametrize(
    ("change", "field"),
    [({"verdict": "maybe"}, "verdict"), ({"line_id": ""}, "line_id"), ({"waybill_no": ""}, "waybill_no")],
)
def test_a_malformed_scan_is_refused_naming_the_field(client, as_line, change, field):
    response = client.post(SCANS, json={**scan("CQX1000000001"), **change}, headers=as_line)

    assert response.status_code == 422
    assert field in response.json["errors"]["json"]


def test_the_line_posts_with_its_api_key(session, client, warehouse, released, admin, auth_headers):
    line = make_user(session, role=Role.XRAY_LINE, enterprise=warehouse)
    issued = client.post(f"/api/v1/admin/users/{line.id}/api-keys", json={"name": "XR-01"}, headers=auth_headers(admin))

    answer = client.post(SCANS, json=scan(waybill(session, released)), headers={"X-API-Key": issued.json["key"]})

    assert answer.status_code == 200, answer.json
    assert answer.json["decision"] == "pass"


@pytest.mark.parametrize("role", [Role.WAREHOUSE_OPERATOR, Role.CUSTOMS_OFFICER, Role.CUSTOMS_GATEWAY])
def test_only_a_line_posts_scans(session, client, auth_headers, role):
    headers = auth_headers(make_user(session, role=role))

    assert client.post(SCANS, json=scan("CQX1000000001"), headers=headers).status_code == 403
    assert client.post(BATCHES, json={"scans": [scan("CQX1000000001")]}, headers=headers).status_code == 403
