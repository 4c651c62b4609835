import pytest
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.exports.models import ParcelStage
from app.inspections.models import InspectionTask, TaskStatus
from app.notices.models import Notice, NoticeKind
from app.users.models import Role
from tests.exports.loading_helpers import (
    BAGS,
    EXPORT_LISTS,
    RECHECKS,
    operator_of,
    parcel,
    released_list,
    steps,
    warehouse_enterprise,
    waybills_of,
)
from tests.factories import make_slot, make_user
from tests.inspections.helpers import JPEG, TASKS, act, book, upload

# Bytes of its own: the upload folder outlives each test, and tests/inspections finds its JPEG there by content.
BENCH_PHOTO = JPEG[:-2] + b"recheck-bench" + JPEG[-2:]


@pytest.fixture
def warehouse(session):
    return warehouse_enterprise(session)


@pytest.fixture
def officer_headers(officer, auth_headers):
    return auth_headers(officer)


def diverted_list(session, warehouse, declarant, parcels=1):
    return released_list(session, warehouse, parcels=parcels, stage=ParcelStage.DIVERTED, declarant=declarant)


def recheck(client, headers, waybill, result="normal", **body):
    return client.post(RECHECKS, json={"waybill_no": waybill, "result": result, **body}, headers=headers)


def kinds(session, user):
    return [n.kind for n in session.scalars(select(Notice).where(Notice.recipient_id == user.id).order_by(Notice.id))]


def test_the_officer_opens_the_recheck_at_the_bench_takes_photos_and_releases_the_parcel(
    session, client, warehouse, declarant, officer_headers
):
    export = diverted_list(session, warehouse, declarant)
    [waybill] = waybills_of(session, export)

    opened = client.post(f"{EXPORT_LISTS}/{export.id}/recheck-task", headers=officer_headers)
    photo = upload(client, officer_headers, opened.json["id"], BENCH_PHOTO)
    response = recheck(client, officer_headers, waybill, notes="衣物，与申报相符")

    assert opened.status_code == 200, opened.json
    assert (opened.json["source"], opened.json["method"], opened.json["status"]) == (
        "line_divert",
        "open_box",
        "recheck",
    )
    assert photo.status_code == 201, photo.json
    assert response.status_code == 201, response.json
    assert (response.json["disposal"], response.json["parcel_stage"]) == ("release", "passed")
    assert response.json["task_id"] == opened.json["id"]
    (step,) = steps(session, export, "rechecked")
    assert (step.biz_step.value, step.disposition.value, step.details["photos"]) == ("inspecting", "conformant", 1)
    assert kinds(session, declarant) == [NoticeKind.EXPORT_RECHECKED]
    task = session.get(InspectionTask, opened.json["id"])
    session.refresh(task)
    assert (task.status, task.result.value) == (TaskStatus.CLOSED, "normal")
    assert session.scalar(select(AuditEvent.action).where(AuditEvent.action == "export.parcel_rechecked"))


def test_a_recheck_without_an_open_task_opens_one(session, client, warehouse, declarant, officer_headers):
    export = diverted_list(session, warehouse, declarant, parcels=2)
    first, _ = waybills_of(session, export)

    response = recheck(client, officer_headers, first)

    task = session.get(InspectionTask, response.json["task_id"])
    assert (task.source.value, task.status) == ("line_divert", TaskStatus.RECHECK)
    assert [e.step for e in steps(session, export)][:2] == ["inspection_issued", "inspection_recheck"]


def test_a_released_parcel_may_then_be_bagged(session, client, warehouse, declarant, officer_headers, auth_headers):
    [waybill] = waybills_of(session, diverted_list(session, warehouse, declarant))
    recheck(client, officer_headers, waybill)
    operator = auth_headers(operator_of(session, warehouse))
    bag_id = client.post(BAGS, json={"bag_no": "MB-0001"}, headers=operator).json["id"]

    response = client.post(f"{BAGS}/{bag_id}/parcels", json={"waybills": [waybill]}, headers=operator)

    assert response.json["results"][0]["outcome"] == "bagged"


def test_a_held_parcel_waits_for_a_booked_inspection_then_is_released(
    session, client, warehouse, declarant, officer_headers, auth_headers
):
    export = diverted_list(session, warehouse, declarant, parcels=2)
    held, other = waybills_of(session, export)
    warehouse_user = operator_of(session, warehouse)

    hold = recheck(client, officer_headers, held, "abnormal", disposal="hold", notes="疑似锂电池")
    task_id = hold.json["task_id"]
    assert hold.status_code == 201, hold.json
    assert parcel(session, held).stage is ParcelStage.HELD
    task = session.get(InspectionTask, task_id)
    assert task.status is TaskStatus.NOTIFIED
    assert NoticeKind.INSPECTION_ISSUED in kinds(session, declarant)
    assert NoticeKind.INSPECTION_ISSUED in kinds(session, warehouse_user)

    slot = make_slot(session)
    assert book(client, auth_headers(declarant), task_id, slot.id).status_code == 200
    assert recheck(client, officer_headers, other).status_code == 201  # the bench goes on meanwhile
    assert act(client, auth_headers(warehouse_user), task_id, "goods-ready").status_code == 200
    assert act(client, officer_headers, task_id, "start").status_code == 200
    released = recheck(client, officer_headers, held, notes="复查无违禁品")

    assert released.json["parcel_stage"] == "passed"
    session.refresh(task)
    assert (task.status, task.result.value) == (TaskStatus.CLOSED, "abnormal")
    assert [s.disposition.value for s in steps(session, export, "rechecked")] == [
        "non_conformant",
        "conformant",
        "conformant",
    ]


def test_a_parcel_returned_to_the_shipper_is_out_of_the_park(
    session, client, warehouse, declarant, officer_headers, auth_headers
):
    [waybill] = waybills_of(session, diverted_list(session, warehouse, declarant))

    response = recheck(client, officer_headers, waybill, "abnormal", disposal="return_to_shipper")

    assert response.json["parcel_stage"] == "returned"
    operator = auth_headers(operator_of(session, warehouse))
    bag_id = client.post(BAGS, json={"bag_no": "MB-0001"}, headers=operator).json["id"]
    scanned = client.post(f"{BAGS}/{bag_id}/parcels", json={"waybills": [waybill]}, headers=operator)
    assert scanned.json["results"][0]["outcome"] == "unknown_waybill"


def test_only_a_diverted_or_held_parcel_is_rechecked(session, client, warehouse, declarant, officer_headers):
    [passed] = waybills_of(session, released_list(session, warehouse, parcels=1, declarant=declarant))

    refused = recheck(client, officer_headers, passed)
    unknown = recheck(client, officer_headers, "NOSUCH0001")

    assert (refused.status_code, refused.json["code"]) == (409, "invalid_transition")
    assert unknown.status_code == 422
    assert "waybill_no" in unknown.json["errors"]["json"]


@pytest.mark.parametrize(
    ("result", "disposal"), [("normal", "hold"), ("abnormal", None), ("abnormal", "release"), ("fine", None)]
)
def test_the_disposal_must_fit_the_result(client, officer_headers, result, disposal):
    body = {"disposal": disposal} if disposal else {}

    response = recheck(client, officer_headers, "CQX1000000001", result, **body)

    assert response.status_code == 422
    assert {"disposal", "result"} & set(response.json["errors"]["json"])


def test_declarants_read_their_lists_rechecks_and_only_officers_record_them(
    session, client, warehouse, declarant, officer_headers, auth_headers
):
    export = diverted_list(session, warehouse, declarant)
    [waybill] = waybills_of(session, export)
    assert recheck(client, auth_headers(declarant), waybill).status_code == 403
    recheck(client, officer_headers, waybill)

    mine = client.get(f"{EXPORT_LISTS}/{export.id}/rechecks", headers=auth_headers(declarant))
    stranger = client.get(
        f"{EXPORT_LISTS}/{export.id}/rechecks", headers=auth_headers(make_user(session, role=Role.DECLARANT))
    )

    assert [(r["waybill_no"], r["result"]) for r in mine.json["items"]] == [(waybill, "normal")]
    assert stranger.status_code == 404


def test_photos_need_the_bench_task_before_the_result(session, client, warehouse, declarant, officer_headers):
    export = diverted_list(session, warehouse, declarant)

    opened = client.post(f"{EXPORT_LISTS}/{export.id}/recheck-task", headers=officer_headers)
    again = client.post(f"{EXPORT_LISTS}/{export.id}/recheck-task", headers=officer_headers)

    assert again.json["id"] == opened.json["id"]
    assert client.get(f"{TASKS}/{opened.json['id']}/photos", headers=officer_headers).json == []
