"""Writers committing at once each get their place on the chain: no lock across the transaction, no fork, no gap."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.auth import service as auth
from app.users.models import Role
from tests.factories import make_declaration, make_user

CONTENDERS = 8


def _headers(app, session, user):
    settings = app.extensions["settings"]
    pair = auth.open_session(session, user, client_addr="127.0.0.1", user_agent="pytest", settings=settings)
    return {"Authorization": f"Bearer {pair.access_token}"}


@pytest.mark.postgres_only
def test_concurrent_receipts_all_land_on_one_intact_chain(racing_app):
    with racing_app.extensions["sessionmaker"]() as session, session.begin():
        declarant = make_user(session, role=Role.DECLARANT)
        guids = [make_declaration(session, declarant=declarant).guid for _ in range(CONTENDERS)]
        gateway = _headers(racing_app, session, make_user(session, role=Role.CUSTOMS_GATEWAY))
        admin = _headers(racing_app, session, make_user(session, role=Role.ADMIN))
    start_together = threading.Barrier(CONTENDERS)

    def deliver(guid):
        client = racing_app.test_client()
        start_together.wait()
        statuses = []
        for code, time in ((120, "20261111093000000"), (800, "20261111103000000")):
            body = {"receipts": [{"guid": guid, "status_code": code, "return_time": time}]}
            statuses.append(client.post("/api/v1/customs/receipts", json=body, headers=gateway).status_code)
        return statuses

    with ThreadPoolExecutor(max_workers=CONTENDERS) as pool:
        results = list(pool.map(deliver, guids))

    assert results == [[200, 200]] * CONTENDERS
    verified = racing_app.test_client().get("/api/v1/admin/audit/verify", headers=admin)
    assert verified.json["ok"] is True, verified.json
    assert verified.json["checked"] == verified.json["head_seq"]
    with racing_app.extensions["sessionmaker"]() as session:
        applied = select(func.count()).where(AuditEvent.action == "receipt.applied")
        assert session.scalar(applied) == 2 * CONTENDERS
        assert session.scalar(select(func.count()).where(AuditEvent.seq.is_(None))) == 0
