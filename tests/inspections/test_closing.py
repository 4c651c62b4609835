"""close_when_concluded: what customs' conclusion of a declaration does to its open inspection."""

from app.common import clock
from app.declarations.models import DeclarationStatus
from app.inspections import booking, closing, tasks
from app.inspections.models import InspectionTask, TaskStatus


def test_closing_the_open_task_gives_back_its_place_and_ends_it(session, task, slot, declarant, declaration):
    booking.book(session, task.id, slot_id=slot.id, booker=declarant)

    closing.close_when_concluded(session, [(declaration, DeclarationStatus.DETAINED, clock.utcnow())])

    assert session.get(InspectionTask, task.id).status is TaskStatus.CLOSED
    session.refresh(slot)
    assert slot.booked == 0
    assert tasks.find_open_task(session, declaration.id) is None
    # Concluded again (a repeated receipt): nothing is left to close, and the place is not given back twice.
    closing.close_when_concluded(session, [(declaration, DeclarationStatus.RELEASED, clock.utcnow())])
    session.refresh(slot)
    assert slot.booked == 0


def test_a_status_that_concludes_nothing_leaves_the_task_open(session, task, declaration):
    closing.close_when_concluded(session, [(declaration, DeclarationStatus.AUDITED, clock.utcnow())])

    assert tasks.find_open_task(session, declaration.id).id == task.id
