"""Two cameras (or a retrying device) reading the same truck at once, each request on its own connection."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from app.auth import service as auth
from app.bonded_lists.models import BondedList, DeductionMark, EntryStatus, InvtStatus
from app.gates.models import BindType, GatePassage
from app.users.models import Role
from tests.factories import make_bonded_list, make_gate, make_gate_pass, make_user
from tests.gates.helpers import ARRIVALS

CONTENDERS = 8


def _token(app, session, user):
    settings = app.extensions["settings"]
    return auth.open_session(
        session, user, client_addr="127.0.0.1", user_agent="pytest", settings=settings
    ).access_token


@pytest.mark.postgres_only
def test_simultaneous_arrivals_on_one_pass_make_one_passage(racing_app):
    with racing_app.extensions["sessionmaker"]() as session, session.begin():
        gate = make_gate(session)
        gate_pass = make_gate_pass(session)
        headers = {
            "Authorization": f"Bearer {_token(racing_app, session, make_user(session, role=Role.GATE_OPERATOR))}"
        }
        body = {"gate_id": gate.id, "direction": "out", "plate": gate_pass.plate}
    start_together = threading.Barrier(CONTENDERS)

    def arrive(_):
        client = racing_app.test_client()
        start_together.wait()
        response = client.post(ARRIVALS, json=body, headers=headers)
        return response.status_code, response.json["id"]

    with ThreadPoolExecutor(max_workers=CONTENDERS) as pool:
        results = list(pool.map(arrive, range(CONTENDERS)))

    assert sorted(status for status, _ in results) == [200] * (CONTENDERS - 1) + [201]
    assert len({passage_id for _, passage_id in results}) == 1
    with racing_app.extensions["sessionmaker"]() as session:
        assert session.scalar(select(func.count()).select_from(GatePassage)) == 1


@pytest.mark.postgres_only
def test_the_last_two_vehicles_on_a_list_passing_at_once_deduct_it(racing_app):
    with racing_app.extensions["sessionmaker"]() as session, session.begin():
        gate = make_gate(session)
        declarant = make_user(session, role=Role.DECLARANT)
        bonded_list = make_bonded_list(
            session, declarant=declarant, invt_stucd=InvtStatus.APPROVED, entry_stucd=EntryStatus.RELEASED
        )
        passes = [
            make_gate_pass(
                session, declarant=declarant, bonded_lists=[bonded_list], bind_type=BindType.ONE_LIST_MANY_VEHICLES
            )
            for _ in range(2)
        ]
        headers = {
            "Authorization": f"Bearer {_token(racing_app, session, make_user(session, role=Role.GATE_OPERATOR))}"
        }
        list_id = bonded_list.id
    client = racing_app.test_client()
    passage_ids = [
        client.post(ARRIVALS, json={"gate_id": gate.id, "direction": "out", "plate": p.plate}, headers=headers).json[
            "id"
        ]
        for p in passes
    ]
    start_together = threading.Barrier(len(passage_ids))

    def weigh(passage_id):
        start_together.wait()
        response = racing_app.test_client().post(
            f"/api/v1/gate/passages/{passage_id}/weight", json={"weighbridge_kg": "10000"}, headers=headers
        )
        return response.json["status"]

    with ThreadPoolExecutor(max_workers=len(passage_ids)) as pool:
        statuses = list(pool.map(weigh, passage_ids))

    assert statuses == ["auto_cleared", "auto_cleared"]
    with racing_app.extensions["sessionmaker"]() as session:
        assert session.get(BondedList, list_id).deduction_mark is DeductionMark.DEDUCTED
