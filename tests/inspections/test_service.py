"""issue_task: the entry point the customs-receipt code and other domains call."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.common import clock
from app.declarations.models import DeclarationEvent, DeclarationStatus
from app.declarations.status import InvalidTransition
from app.inspections import service
from app.inspections.models import InspectionMethod, InspectionTask, TaskSource, TaskStatus
from app.notices.models import Notice, NoticeKind
from app.users.models import Role
from tests.factories import make_declaration, make_user


def notices_of(session, user):
    return list(session.scalars(select(Notice).where(Notice.recipient_id == user.id)))


def issue(session, declaration, **overrides):
    overrides.setdefault("source", TaskSource.RECEIPT_500)
    overrides.setdefault("occurred_at", clock.utcnow())
    return service.issue_task(session, declaration, **overrides)


def test_issuing_notifies_the_declarants_and_the_warehouse_operators(session, declaration, declarant, operator):
    colleague = make_user(session, role=Role.DECLARANT, enterprise=declarant.enterprise)

    task = issue(session, declaration)

    for user in (declarant, colleague, operator):
        [notice] = notices_of(session, user)
        assert notice.kind is NoticeKind.INSPECTION_ISSUED
        assert notice.declaration_id == declaration.id
        assert task.task_no in notice.body


def test_an_issued_task_is_notified_at_once_and_keeps_both_times(session, declaration, operator):
    issued_at = clock.utcnow() - timedelta(minutes=3)

    task = issue(session, declaration, occurred_at=issued_at, method=InspectionMethod.SEAL_CHECK)

    assert task.status is TaskStatus.NOTIFIED
    assert task.issued_at == issued_at
    assert task.notified_at >= issued_at
    assert task.method is InspectionMethod.SEAL_CHECK
    assert task.task_no.startswith(f"CY{declaration.customs_code}")


def test_issuing_records_inspection_issued_at_the_issue_time(session, declaration):
    issued_at = clock.utcnow() - timedelta(minutes=3)

    task = issue(session, declaration, occurred_at=issued_at)

    session.flush()
    [event] = session.scalars(
        select(DeclarationEvent).where(
            DeclarationEvent.declaration_id == declaration.id, DeclarationEvent.step == "inspection_issued"
        )
    )
    assert event.occurred_at == issued_at
    assert event.status_changed is False
    assert event.biz_step.value == "inspecting"
    assert event.details["task_no"] == task.task_no


def test_issuing_again_returns_the_open_task_and_creates_nothing(session, declaration, declarant):
    first = issue(session, declaration)

    again = issue(session, declaration, source=TaskSource.MANUAL)

    assert again.id == first.id
    assert (
        len(list(session.scalars(select(InspectionTask).where(InspectionTask.declaration_id == declaration.id)))) == 1
    )
    assert len(notices_of(session, declarant)) == 1


def test_a_released_declaration_gets_no_task(session, declarant):
    released = make_declaration(session, declarant=declarant, status=DeclarationStatus.RELEASED)

    with pytest.raises(InvalidTransition):
        issue(session, released)


def test_closing_the_open_task_gives_back_its_place_and_ends_it(session, task, slot, declarant, declaration):
    service.book(session, task.id, slot_id=slot.id, booker=declarant)

    closed = service.close_open_task(session, declaration, occurred_at=clock.utcnow(), title="扣留，查验任务结束")

    assert closed.id == task.id and closed.status is TaskStatus.CLOSED
    session.refresh(slot)
    assert slot.booked == 0
    assert service.find_open_task(session, declaration.id) is None
    assert service.close_open_task(session, declaration, occurred_at=clock.utcnow(), title="again") is None
