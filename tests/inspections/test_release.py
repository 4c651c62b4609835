"""A release closes the open task; an officer's in-app release waits for the inspection's result."""

import pytest
from sqlalchemy import select

from app.clearance import flows
from app.common import clock
from app.declarations.models import DeclarationStatus
from app.inspections.models import InspectionTask, TaskStatus
from app.notices.models import Notice
from tests.inspections.helpers import TASKS, act, book, timeline


def release_by_receipt(session, declaration):
    flows.apply_status(
        session, declaration, DeclarationStatus.RELEASED, step="receipt_800", title="放行", occurred_at=clock.utcnow()
    )
    session.flush()


def release_in_app(client, headers, declaration_id):
    return client.post(f"/api/v1/declarations/{declaration_id}/release", json={}, headers=headers)


def test_a_release_receipt_closes_the_open_task_and_frees_its_place(
    client, session, auth_headers, task, slot, declaration, declarant
):
    book(client, auth_headers(declarant), task.id, slot.id)

    release_by_receipt(session, declaration)

    body = client.get(f"{TASKS}/{task.id}", headers=auth_headers(declarant)).json
    assert body["status"] == "closed" and body["closed_at"]
    session.refresh(slot)
    assert slot.booked == 0
    closing = timeline(client, auth_headers(declarant), declaration.id)[-1]
    assert (closing["step"], closing["biz_step"]) == ("inspection_closed", "inspecting")


def test_after_a_release_the_declaration_has_no_open_task(session, task, declaration):
    release_by_receipt(session, declaration)

    open_tasks = session.scalars(
        select(InspectionTask).where(
            InspectionTask.declaration_id == declaration.id, InspectionTask.status != TaskStatus.CLOSED
        )
    )
    assert list(open_tasks) == []


def test_an_officer_cannot_release_while_the_inspection_has_no_result(client, auth_headers, task, officer):
    response = release_in_app(client, auth_headers(officer), task.declaration_id)

    assert response.status_code == 409
    assert response.json["code"] == "invalid_transition"
    assert task.task_no in response.json["detail"]


def test_an_officer_releases_after_a_normal_result_and_the_task_closes(
    client, auth_headers, in_progress, officer, declarant
):
    act(client, auth_headers(officer), in_progress.id, "result", {"result": "normal"})

    response = release_in_app(client, auth_headers(officer), in_progress.declaration_id)

    assert response.status_code == 200
    assert response.json["status"] == "released"
    assert client.get(f"{TASKS}/{in_progress.id}", headers=auth_headers(declarant)).json["status"] == "closed"


def test_abnormal_goods_are_released_in_app_only_when_disposed_of_as_release(
    client, session, auth_headers, in_progress, officer
):
    act(client, auth_headers(officer), in_progress.id, "result", {"result": "abnormal", "disposal": "ship_back"})

    response = release_in_app(client, auth_headers(officer), in_progress.declaration_id)

    assert response.status_code == 409
    assert response.json["code"] == "invalid_transition"


def test_abnormal_goods_disposed_of_as_release_can_be_released(client, auth_headers, in_progress, officer):
    act(client, auth_headers(officer), in_progress.id, "result", {"result": "abnormal", "disposal": "release"})

    response = release_in_app(client, auth_headers(officer), in_progress.declaration_id)

    assert response.status_code == 200


@pytest.mark.parametrize(
    "status", [DeclarationStatus.DETAINED, DeclarationStatus.SHIPPED_BACK, DeclarationStatus.REJECTED]
)
def test_customs_concluding_otherwise_also_closes_the_task(
    client, session, auth_headers, task, slot, declaration, declarant, status
):
    book(client, auth_headers(declarant), task.id, slot.id)

    flows.apply_status(session, declaration, status, step="receipt", title="海关结论", occurred_at=clock.utcnow())
    session.flush()

    session.refresh(task)
    session.refresh(slot)
    assert task.status is TaskStatus.CLOSED
    assert slot.booked == 0


def test_inspection_notices_link_to_the_task(session, task, declarant):
    links = session.scalars(select(Notice.link).where(Notice.recipient_id == declarant.id)).all()

    assert f"/api/v1/inspection-tasks/{task.id}" in links
