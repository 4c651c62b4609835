"""close_open_task: what customs' conclusion of a declaration does to its open inspection."""

from app.common import clock
from app.inspections import booking, closing, tasks
from app.inspections.models import TaskStatus


def test_closing_the_open_task_gives_back_its_place_and_ends_it(session, task, slot, declarant, declaration):
    booking.book(session, task.id, slot_id=slot.id, booker=declarant)

    closed = closing.close_open_task(session, declaration, occurred_at=clock.utcnow(), title="扣留，查验任务结束")

    assert closed.id == task.id and closed.status is TaskStatus.CLOSED
    session.refresh(slot)
    assert slot.booked == 0
    assert tasks.find_open_task(session, declaration.id) is None
    assert closing.close_open_task(session, declaration, occurred_at=clock.utcnow(), title="again") is None
