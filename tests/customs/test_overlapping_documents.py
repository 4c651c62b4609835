"""Customs' documents overlap in a burst: the same popular products released by several documents at once, some
receipts sent twice. Every document is answered 200, every receipt applies once, nothing deadlocks."""

import random
import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.auth import service as auth
from app.customs.models import Receipt
from app.declarations.models import Declaration, DeclarationLine, DeclarationStatus
from app.enterprises.models import EnterpriseKind
from app.stock.models import StockLevel, StockMovement
from app.users.models import Role
from tests.factories import make_declaration, make_enterprise, make_user

DOCUMENTS = 6
DECLARATIONS = 72
PER_DOCUMENT = DECLARATIONS // DOCUMENTS
# Five popular products (valid GTIN-13s as GTIN-14), each in many declarations.
PRODUCTS = ["04006381333931", "09506000134352", "04012345000016", "06901234567892", "09780201379624"]
STOCK = Decimal(10_000)


def _headers(app, session, user):
    settings = app.extensions["settings"]
    pair = auth.open_session(session, user, client_addr="127.0.0.1", user_agent="pytest", settings=settings)
    return {"Authorization": f"Bearer {pair.access_token}"}


def _declarations(session, warehouse, randomly):
    declarant = make_user(session, role=Role.DECLARANT)
    made = []
    for _ in range(DECLARATIONS):
        declaration = make_declaration(session, declarant=declarant, warehouse=warehouse)
        first, *others = randomly.sample(PRODUCTS, k=3)
        declaration.lines[0].gtin = first
        declaration.lines.extend(
            DeclarationLine(
                gnum=gnum,
                item_no=f"SKU-{gnum}",
                item_name="进口商品",
                hs_code="1901101000",
                gtin=gtin,
                country="304",
                qty=Decimal(gnum),
                unit="122",
                price=Decimal("10"),
                total_price=Decimal(10 * gnum),
            )
            for gnum, gtin in enumerate(others, start=2)
        )
        made.append(declaration)
    session.flush()
    return [(declaration.guid, {line.gtin: line.qty for line in declaration.lines}) for declaration in made]


def _documents(guids, randomly):
    """Documents for different lists releasing the same products, each in its own order at its own customs times,
    and a few receipts re-sent in another document."""
    randomly.shuffle(guids)
    documents = []
    for number in range(DOCUMENTS):
        chosen = guids[number * PER_DOCUMENT : (number + 1) * PER_DOCUMENT]
        receipts = []
        for second, guid in enumerate(chosen):
            receipts.append({"guid": guid, "status_code": 120, "return_time": f"2026111109{second:02d}00000"})
            receipts.append(
                {"guid": guid, "status_code": 800, "return_time": f"20261111{10 + number:02d}{second:02d}00000"}
            )
        documents.append(receipts)
    for number, receipts in enumerate(documents):
        receipts.extend(randomly.sample(documents[(number + 1) % DOCUMENTS], k=2))
        randomly.shuffle(receipts)
    return [{"receipts": receipts} for receipts in documents]


@pytest.mark.postgres_only
def test_overlapping_documents_releasing_the_same_products_never_deadlock_and_apply_once(racing_app):
    randomly = random.Random(23)
    with racing_app.extensions["sessionmaker"]() as session, session.begin():
        warehouse = make_enterprise(session, kinds=[EnterpriseKind.ZONE])
        for gtin in PRODUCTS:
            session.add(StockLevel(warehouse_enterprise_id=warehouse.id, gtin=gtin, quantity=STOCK))
        declared = _declarations(session, warehouse, randomly)
        gateway = _headers(racing_app, session, make_user(session, role=Role.CUSTOMS_GATEWAY))
    documents = _documents([guid for guid, _ in declared], randomly)
    start_together = threading.Barrier(DOCUMENTS)

    def deliver(document):
        client = racing_app.test_client()
        start_together.wait()
        response = client.post("/api/v1/customs/receipts", json=document, headers=gateway)
        return response.status_code, response.get_json()

    with ThreadPoolExecutor(max_workers=DOCUMENTS) as pool:
        answers = list(pool.map(deliver, documents))

    assert [status for status, _ in answers] == [200] * DOCUMENTS, [body for status, body in answers if status != 200]
    released = {r["guid"] for document in documents for r in document["receipts"] if r["status_code"] == 800}
    with racing_app.extensions["sessionmaker"]() as session:
        statuses = dict(session.execute(select(Declaration.guid, Declaration.status)).all())
        assert {guid for guid in released if statuses[guid] is DeclarationStatus.RELEASED} == released
        # Each release deducted its lines once, however many documents carried it.
        wanted = {gtin: STOCK for gtin in PRODUCTS}
        for guid, lines in declared:
            if guid in released:
                for gtin, qty in lines.items():
                    wanted[gtin] -= qty
        assert dict(session.execute(select(StockLevel.gtin, StockLevel.quantity)).all()) == wanted
        movements = session.scalar(select(func.count()).select_from(StockMovement))
        assert movements == 3 * len(released)
        # Every distinct receipt stored once.
        distinct = {(r["guid"], r["status_code"], r["return_time"]) for d in documents for r in d["receipts"]}
        assert session.scalar(select(func.count()).select_from(Receipt)) == len(distinct)
