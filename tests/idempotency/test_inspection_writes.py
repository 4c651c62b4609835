"""Inspection and risk writes (sites, slots, orders, bookings, each step, photos, warnings), each sent twice with
one Idempotency-Key: done once, answered the same twice."""

import io
from datetime import timedelta

import pytest

from app.common import clock
from app.declarations.models import DeclarationEvent, DeclarationStatus
from app.enterprises.models import EnterpriseKind
from app.inspections.models import InspectionPhoto, InspectionSite, InspectionSlot, InspectionTask
from app.risk import service as risk
from app.risk.models import RiskWarning, Severity, WarningSource
from app.users.models import Role
from tests.factories import make_declaration, make_enterprise, make_inspection_site, make_slot, make_task, make_user
from tests.idempotency.helpers import audited, count, twice
from tests.inspections.helpers import JPEG, SITES, TASKS, act, book

pytestmark = pytest.mark.usefixtures("operator")
# Bytes of its own: tests/inspections finds its photos in the shared upload folder by their content.
PHOTO = JPEG.replace(b"\x00" * 200, b"\x01" * 200)


@pytest.fixture
def warehouse(session):
    return make_enterprise(session, kinds=[EnterpriseKind.ZONE])


@pytest.fixture
def operator(session, warehouse):
    return make_user(session, role=Role.WAREHOUSE_OPERATOR, enterprise=warehouse)


@pytest.fixture
def task(session, declarant, warehouse, operator):
    declaration = make_declaration(
        session, declarant=declarant, warehouse=warehouse, status=DeclarationStatus.INSPECTION
    )
    return make_task(session, declaration=declaration)


@pytest.fixture
def slot(session):
    return make_slot(session, capacity=2)


@pytest.fixture
def staged(client, auth_headers, task, slot, declarant, operator):
    assert book(client, auth_headers(declarant), task.id, slot.id).status_code == 200
    assert act(client, auth_headers(operator), task.id, "goods-ready").status_code == 200
    return task


@pytest.fixture
def in_progress(client, auth_headers, staged, officer):
    assert act(client, auth_headers(officer), staged.id, "start").status_code == 200
    return staged


def test_a_site_and_its_slots_opened_twice_are_opened_once(client, session, auth_headers, admin):
    headers = auth_headers(admin)
    start = (clock.utcnow() + timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)

    site = twice(
        client, "POST", SITES, headers=headers, json={"code": "xy-cy09", "name": "九号场地", "customs_code": "8012"}
    )
    slots = twice(
        client,
        "POST",
        f"{SITES}/{site.json['id']}/slots",
        headers=headers,
        json={
            "start": start.isoformat(),
            "end": (start + timedelta(hours=1)).isoformat(),
            "slot_minutes": 30,
            "capacity": 2,
        },
    )

    assert len(slots.json) == 2
    assert count(session, InspectionSite, InspectionSite.code == "XY-CY09") == 1
    assert count(session, InspectionSlot, InspectionSlot.site_id == site.json["id"]) == 2


def test_a_site_change_sent_twice_answers_the_same(client, session, auth_headers, admin):
    site = make_inspection_site(session)

    first = twice(client, "PATCH", f"{SITES}/{site.id}", headers=auth_headers(admin), json={"active": False})

    assert first.json["active"] is False


def test_an_inspection_ordered_twice_is_one_task(client, session, auth_headers, officer, declarant, warehouse):
    accepted = make_declaration(session, declarant=declarant, warehouse=warehouse, status=DeclarationStatus.ACCEPTED)

    first = twice(
        client, "POST", TASKS, headers=auth_headers(officer), json={"declaration_id": accepted.id, "method": "open_box"}
    )

    assert first.status_code == 201
    assert count(session, InspectionTask, InspectionTask.declaration_id == accepted.id) == 1


def test_a_booking_sent_twice_takes_one_place(client, session, auth_headers, declarant, task, slot):
    first = twice(
        client, "PUT", f"{TASKS}/{task.id}/appointment", headers=auth_headers(declarant), json={"slot_id": slot.id}
    )

    assert first.json["slot"]["id"] == slot.id
    session.refresh(slot)
    assert slot.booked == 1


def test_goods_ready_sent_twice_is_recorded_once(client, session, auth_headers, declarant, operator, task, slot):
    book(client, auth_headers(declarant), task.id, slot.id)

    first = twice(client, "POST", f"{TASKS}/{task.id}/goods-ready", headers=auth_headers(operator))

    assert first.json["status"] == "goods_ready"


def test_a_start_sent_twice_is_recorded_once(client, session, auth_headers, officer, staged):
    first = twice(client, "POST", f"{TASKS}/{staged.id}/start", headers=auth_headers(officer))

    assert first.json["status"] == "in_progress"


def test_a_recheck_sent_twice_is_ordered_once(client, session, auth_headers, officer, in_progress):
    first = twice(
        client,
        "POST",
        f"{TASKS}/{in_progress.id}/recheck",
        headers=auth_headers(officer),
        json={"reason": "图像疑似夹藏"},
    )

    assert first.json["status"] == "recheck"


def test_a_result_sent_twice_is_recorded_once(client, session, auth_headers, officer, in_progress):
    before = count(session, DeclarationEvent, DeclarationEvent.declaration_id == in_progress.declaration_id)

    first = twice(
        client, "POST", f"{TASKS}/{in_progress.id}/result", headers=auth_headers(officer), json={"result": "normal"}
    )

    assert first.json["status"] == "result_normal"
    after = count(session, DeclarationEvent, DeclarationEvent.declaration_id == in_progress.declaration_id)
    assert after == before + 1


def test_a_photo_uploaded_twice_is_stored_once(client, session, auth_headers, officer, in_progress):
    first = twice(
        client,
        "POST",
        f"{TASKS}/{in_progress.id}/photos",
        headers=auth_headers(officer),
        # The test client draws a new multipart boundary each time, as a phone's retry may.
        data=lambda: {"photo": (io.BytesIO(PHOTO), "photo.jpg", "image/jpeg")},
        content_type="multipart/form-data",
    )

    assert first.status_code == 201
    assert count(session, InspectionPhoto, InspectionPhoto.task_id == in_progress.id) == 1


@pytest.fixture
def warning(session):
    declaration = make_declaration(session, status=DeclarationStatus.ACCEPTED)
    return risk.raise_warning(
        session,
        source=WarningSource.TRACE,
        subject_key="trace:ABC123",
        severity=Severity.HIGH,
        title="溯源码疑似被复制",
        declaration_id=declaration.id,
    )


def test_a_warning_taken_and_resolved_twice_is_taken_and_resolved_once(client, session, auth_headers, officer, warning):
    headers = auth_headers(officer)

    twice(client, "POST", f"/api/v1/risk/warnings/{warning.id}/take", headers=headers)
    resolved = twice(
        client,
        "POST",
        f"/api/v1/risk/warnings/{warning.id}/resolve",
        headers=headers,
        json={"resolution": "confirmed", "notes": "已移交缉私"},
    )

    assert resolved.json["status"] == "resolved"
    assert (audited(session, "risk.warning_taken"), audited(session, "risk.warning_resolved")) == (1, 1)


def test_a_warning_turned_into_an_inspection_twice_is_one_task(client, session, auth_headers, officer, warning):
    first = twice(
        client,
        "POST",
        f"/api/v1/risk/warnings/{warning.id}/inspection",
        headers=auth_headers(officer),
        json={"method": "open_box"},
    )

    assert first.status_code == 201
    assert count(session, InspectionTask, InspectionTask.declaration_id == warning.declaration_id) == 1


def test_a_video_event_sent_twice_counts_once(client, session, auth_headers):
    camera = make_user(session, role=Role.VIDEO_ANALYTICS)
    body = {"camera_id": "CAM-01", "occurred_at": "2026-11-20T09:30:00+08:00", "event_type": "tailgating"}

    first = twice(client, "POST", "/api/v1/risk/video-events", headers=auth_headers(camera), json=body)

    # Done again, the event would count a second occurrence on the same warning.
    assert first.json["occurrences"] == 1
    assert count(session, RiskWarning, RiskWarning.source == WarningSource.VIDEO) == 1
    session.expire_all()
    assert session.get(RiskWarning, first.json["id"]).occurrences == 1
