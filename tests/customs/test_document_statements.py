"""A customs document costs a fixed number of statements, however many receipts, lists and enterprises it carries.

Each receipt used to cost its own flush (a declaration UPDATE, a timeline INSERT, a notice INSERT) and each release
about ten more statements (lines, stock, movements, codes, audit); recipients were read once per enterprise. With
releases batched (`clearance.flows.Decisions`) the count must not grow with the document.
"""

from decimal import Decimal

import pytest
from sqlalchemy import event, func, select

from app.declarations.models import DeclarationStatus
from app.enterprises.models import EnterpriseKind
from app.notices.models import Notice
from app.stock.models import StockLevel, StockMovement
from app.trace.models import TraceCode, TraceCodeBatch, TraceCodeStatus
from app.users.models import Role
from tests.factories import make_declaration, make_enterprise, make_user

RECEIPTS = "/api/v1/customs/receipts"
ROW_AT_A_TIME_ON_SQLITE = {
    "INSERT INTO notices",
    "INSERT INTO declaration_events",
    "INSERT INTO audit_events",
    "SELECT audit_chain_head.seq, audit_chain_head.hash",
    "UPDATE audit_chain_head SET",
}


@pytest.fixture
def gateway(session, auth_headers):
    return auth_headers(make_user(session, role=Role.CUSTOMS_GATEWAY))


def lists(session, count, warehouse):
    """`count` lists, each of its own enterprise (two declarants each), one affixed code each."""
    made = []
    for n in range(count):
        declarant = make_user(session, role=Role.DECLARANT)
        make_user(session, role=Role.DECLARANT, enterprise=declarant.enterprise)
        declaration = make_declaration(session, declarant=declarant, warehouse=warehouse)
        line = declaration.lines[0]
        batch = TraceCodeBatch(
            declaration_id=declaration.id,
            gnum=line.gnum,
            gtin=line.gtin,
            quantity=1,
            warehouse_enterprise_id=warehouse.id,
            issued_by_id=declarant.id,
        )
        session.add(batch)
        session.flush()
        session.add(
            TraceCode(
                serial=f"STMT{n:04d}{declaration.id:08d}"[:16],
                gtin=line.gtin,
                status=TraceCodeStatus.AFFIXED,
                batch_id=batch.id,
                declaration_id=declaration.id,
                warehouse_enterprise_id=warehouse.id,
            )
        )
        made.append(declaration)
    session.flush()
    return made


def statements_for(client, app, headers, declarations, code, time):
    body = {"receipts": [{"guid": d.guid, "status_code": code, "return_time": time} for d in declarations]}
    counted = []
    engine = app.extensions["engine"]

    def count(_conn, _cursor, statement, *_args):
        counted.append(" ".join(statement.split()[:3]))

    event.listen(engine, "before_cursor_execute", count)
    try:
        response = client.post(RECEIPTS, json=body, headers=headers)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert response.status_code == 200, response.json
    assert {result["outcome"] for result in response.json["results"]} == {"applied"}
    if engine.dialect.name == "sqlite":
        # SQLAlchemy inserts ORM objects one row at a time on SQLite (it cannot match a multi-row INSERT's RETURNING
        # to its objects there), and SQLite links each audit entry recorded on its own as it is added.
        counted = [statement for statement in counted if statement not in ROW_AT_A_TIME_ON_SQLITE]
    return len(counted)


def test_a_document_costs_the_same_statements_for_3_lists_as_for_30(app, client, session, gateway):
    warehouse = make_enterprise(session, kinds=[EnterpriseKind.ZONE])
    small, large = lists(session, 3, warehouse), lists(session, 30, warehouse)
    gtins = {declaration.lines[0].gtin for declaration in [*small, *large]}
    session.add_all(
        StockLevel(warehouse_enterprise_id=warehouse.id, gtin=gtin, quantity=Decimal(1000)) for gtin in gtins
    )
    session.flush()

    counts = {
        code: (
            statements_for(client, app, gateway, small, code, time),
            statements_for(client, app, gateway, large, code, time),
        )
        for code, time in ((120, "20261111093000000"), (800, "20261111103000000"))
    }

    assert counts[120][0] == counts[120][1], counts
    assert counts[800][0] == counts[800][1], counts
    everyone = [*small, *large]
    for declaration in everyone:
        session.refresh(declaration)
    assert {declaration.status for declaration in everyone} == {DeclarationStatus.RELEASED}
    ids = [declaration.id for declaration in everyone]
    assert session.scalar(select(func.count()).where(StockMovement.declaration_id.in_(ids))) == len(everyone)
    active = select(func.count()).where(TraceCode.declaration_id.in_(ids), TraceCode.status == TraceCodeStatus.ACTIVE)
    assert session.scalar(active) == len(everyone)
    # Two declarants per list, told of the acceptance and of the release.
    assert session.scalar(select(func.count()).where(Notice.declaration_id.in_(ids))) == 2 * 2 * len(everyone)
