"""Many bookings racing for one slot's last places, each on its own database connection.

The per-test rollback puts every request on one connection, where nothing can race; this test
uses a scratch database with committed rows and an app of its own instead.
"""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from app.auth import service as auth
from app.declarations.models import DeclarationEvent, DeclarationStatus
from app.enterprises.models import EnterpriseKind
from app.inspections.models import InspectionSlot, InspectionTask
from app.users.models import Role
from tests.factories import make_declaration, make_enterprise, make_slot, make_task, make_user

CAPACITY = 5
CONTENDERS = 24


def token_for(session, user, settings):
    return auth.open_session(
        session, user, client_addr="127.0.0.1", user_agent="pytest", settings=settings
    ).access_token


def book_all_at_once(app, token, bookings):
    """PUT each (task_id, slot_id) booking from its own thread, all released at the same moment."""
    start_together = threading.Barrier(len(bookings))

    def attempt(booking):
        task_id, slot_id = booking
        client = app.test_client()
        start_together.wait()
        response = client.put(
            f"/api/v1/inspection-tasks/{task_id}/appointment",
            json={"slot_id": slot_id},
            headers={"Authorization": f"Bearer {token}"},
        )
        return response.status_code, response.json

    with ThreadPoolExecutor(max_workers=len(bookings)) as pool:
        return list(pool.map(attempt, bookings))


@pytest.mark.postgres_only
def test_parallel_bookings_fill_a_slot_exactly_to_its_capacity(racing_app):
    settings = racing_app.extensions["settings"]
    with racing_app.extensions["sessionmaker"]() as session, session.begin():
        declarant = make_user(session, role=Role.DECLARANT)
        warehouse = make_enterprise(session, kinds=[EnterpriseKind.ZONE])
        slot_id = make_slot(session, capacity=CAPACITY).id
        task_ids = [
            make_task(
                session,
                declaration=make_declaration(
                    session, declarant=declarant, warehouse=warehouse, status=DeclarationStatus.INSPECTION
                ),
            ).id
            for _ in range(CONTENDERS)
        ]
        token = token_for(session, declarant, settings)

    answers = book_all_at_once(racing_app, token, [(task_id, slot_id) for task_id in task_ids])

    statuses = sorted(status for status, _ in answers)
    assert statuses == [200] * CAPACITY + [409] * (CONTENDERS - CAPACITY), answers
    assert {body["code"] for status, body in answers if status == 409} == {"slot_full"}
    with racing_app.extensions["sessionmaker"]() as session:
        assert session.get(InspectionSlot, slot_id).booked == CAPACITY
        assert session.scalar(select(func.count()).where(InspectionTask.slot_id == slot_id)) == CAPACITY


@pytest.mark.postgres_only
def test_parallel_bookings_of_one_task_hold_one_place(racing_app):
    settings = racing_app.extensions["settings"]
    with racing_app.extensions["sessionmaker"]() as session, session.begin():
        declarant = make_user(session, role=Role.DECLARANT)
        declaration = make_declaration(session, declarant=declarant, status=DeclarationStatus.INSPECTION)
        task_id = make_task(session, declaration=declaration).id
        slot_ids = [make_slot(session, capacity=1).id for _ in range(8)]
        token = token_for(session, declarant, settings)

    answers = book_all_at_once(racing_app, token, [(task_id, slot_id) for slot_id in slot_ids])

    assert {status for status, _ in answers} == {200}, answers
    with racing_app.extensions["sessionmaker"]() as session:
        booked = session.scalars(select(InspectionSlot.booked).where(InspectionSlot.id.in_(slot_ids))).all()
        assert sum(booked) == 1
        assert session.get(InspectionSlot, session.get(InspectionTask, task_id).slot_id).booked == 1


@pytest.mark.postgres_only
def test_officers_ordering_one_inspection_at_once_open_one_task(racing_app):
    settings = racing_app.extensions["settings"]
    with racing_app.extensions["sessionmaker"]() as session, session.begin():
        declaration_id = make_declaration(session, status=DeclarationStatus.AUDITED).id
        tokens = [token_for(session, make_user(session, role=Role.CUSTOMS_OFFICER), settings) for _ in range(16)]
    start_together = threading.Barrier(len(tokens))

    def order(token):
        client = racing_app.test_client()
        start_together.wait()
        response = client.post(
            "/api/v1/inspection-tasks",
            json={"declaration_id": declaration_id, "source": "manual", "method": "open_box"},
            headers={"Authorization": f"Bearer {token}"},
        )
        return response.status_code, response.json["id"]

    with ThreadPoolExecutor(max_workers=len(tokens)) as pool:
        answers = list(pool.map(order, tokens))

    assert {status for status, _ in answers} <= {200, 201}
    assert len({task_id for _, task_id in answers}) == 1
    with racing_app.extensions["sessionmaker"]() as session:
        tasks = session.scalar(select(func.count()).where(InspectionTask.declaration_id == declaration_id))
        orders = session.scalar(
            select(func.count()).where(
                DeclarationEvent.declaration_id == declaration_id, DeclarationEvent.step == "officer_inspection_order"
            )
        )
        assert (tasks, orders) == (1, 1)
