"""Two cameras (or a retrying device) reading the same truck at once, each request on its own connection."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from app.auth import service as auth
from app.gates.models import GatePassage
from app.users.models import Role
from tests.factories import make_gate, make_gate_pass, make_user
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
