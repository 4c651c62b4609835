"""On PostgreSQL a committing transaction's audit entries are chained, and its notices numbered, in one pass.

Migration 0017: the first row's deferred trigger does the whole transaction's rows under the shared lock; the other
rows' triggers find theirs done. Whatever the number of rows, statements or concurrent committers, every entry must
end up on one intact chain and every notice with its own number.
"""

import itertools
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from app.audit import service as audit
from app.audit.models import AuditEvent
from app.auth import service as auth
from app.notices.models import Notice
from app.users.models import Role
from tests.factories import make_declaration, make_user

DOCUMENTS = 6
PER_DOCUMENT = 20


def _headers(app, session, user):
    settings = app.extensions["settings"]
    pair = auth.open_session(session, user, client_addr="127.0.0.1", user_agent="pytest", settings=settings)
    return {"Authorization": f"Bearer {pair.access_token}"}


@pytest.mark.postgres_only
def test_documents_committing_at_once_leave_one_intact_chain_and_numbered_notices(racing_app):
    with racing_app.extensions["sessionmaker"]() as session, session.begin():
        declarant = make_user(session, role=Role.DECLARANT)
        make_user(session, role=Role.DECLARANT, enterprise=declarant.enterprise)
        documents = [
            [make_declaration(session, declarant=declarant).guid for _ in range(PER_DOCUMENT)] for _ in range(DOCUMENTS)
        ]
        gateway = _headers(racing_app, session, make_user(session, role=Role.CUSTOMS_GATEWAY))
        admin = _headers(racing_app, session, make_user(session, role=Role.ADMIN))
    start_together = threading.Barrier(DOCUMENTS)

    def deliver(guids):
        client = racing_app.test_client()
        start_together.wait()
        statuses = []
        for code, time in ((120, "20261111093000000"), (800, "20261111103000000")):
            body = {"receipts": [{"guid": guid, "status_code": code, "return_time": time} for guid in guids]}
            statuses.append(client.post("/api/v1/customs/receipts", json=body, headers=gateway).status_code)
        return statuses

    with ThreadPoolExecutor(max_workers=DOCUMENTS) as pool:
        assert list(pool.map(deliver, documents)) == [[200, 200]] * DOCUMENTS

    verified = racing_app.test_client().get("/api/v1/admin/audit/verify", headers=admin)
    assert verified.json["ok"] is True, verified.json
    assert verified.json["checked"] == verified.json["head_seq"]
    with racing_app.extensions["sessionmaker"]() as session:
        assert session.scalar(select(func.count()).where(AuditEvent.seq.is_(None))) == 0
        # Two declarants, each told of every acceptance and release, each notice with a number of its own.
        assert session.scalar(select(func.count(Notice.seq.distinct()))) == 2 * 2 * DOCUMENTS * PER_DOCUMENT
        assert session.scalar(select(func.count()).where(Notice.seq.is_(None))) == 0


@pytest.mark.postgres_only
def test_entries_written_by_several_statements_of_one_transaction_are_all_chained(session):
    # The test database checks constraints at once (tests/conftest.py): the trigger runs after each statement,
    # so a later statement's entries must not be taken for ones chained already.
    first = audit.record(session, action="test.first", actor=audit.SYSTEM)
    second = audit.record(session, action="test.second", actor=audit.SYSTEM)
    audit.record_all(session, [audit.prepare(action=f"test.more{n}", actor=audit.SYSTEM) for n in range(3)])

    chained = session.execute(
        select(AuditEvent.seq, AuditEvent.prev_hash, AuditEvent.hash)
        .where(AuditEvent.id >= first.id)
        .order_by(AuditEvent.id)
        .execution_options(populate_existing=True)
    ).all()
    assert len(chained) == 5 and second.id > first.id
    assert all(seq is not None for seq, _, _ in chained)
    assert [seq for seq, _, _ in chained] == list(range(chained[0].seq, chained[0].seq + 5))
    for (_, _, previous_hash), (_, prev_hash, _) in itertools.pairwise(chained):
        assert prev_hash == previous_hash
