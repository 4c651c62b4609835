from sqlalchemy import select

from app.stock.models import MovementKind, StockMovement
from app.users.models import Role
from tests.factories import make_user
from tests.trace.helpers import GTIN, make_setup, release

SCAN_INS = "/api/v1/stock/scan-ins"


def scan_in(client, headers, quantity="10", *, gtin=GTIN, intact=True):
    return client.post(
        SCAN_INS,
        json={"seal_no": "SEAL-0001", "seal_intact": intact, "items": [{"gtin": gtin, "quantity": quantity}]},
        headers=headers,
    )


def level(client, headers):
    items = client.get(f"/api/v1/stock?gtin={GTIN}", headers=headers).json["items"]
    return items[0]["quantity"] if items else None


def test_scanning_in_adds_to_the_warehouse_stock(client, session, auth_headers):
    setup = make_setup(session)
    headers = auth_headers(setup.operator)

    first = scan_in(client, headers, "10")
    scan_in(client, headers, "5")

    assert first.status_code == 201
    assert first.json[0]["kind"] == "scan_in"
    assert level(client, headers) == "15.0000"


def test_a_broken_seal_stops_the_scan_in(client, session, auth_headers):
    setup = make_setup(session)

    response = scan_in(client, auth_headers(setup.operator), intact=False)

    assert response.status_code == 422
    assert response.json["code"] == "seal_broken"
    assert level(client, auth_headers(setup.operator)) is None


def test_unregistered_products_cannot_be_scanned_in(client, session, auth_headers):
    setup = make_setup(session)

    response = scan_in(client, auth_headers(setup.operator), gtin="09506000134352")

    assert response.status_code == 422
    assert "items" in response.json["errors"]["json"]


def test_release_deducts_the_declared_quantity(client, session, auth_headers):
    setup = make_setup(session, qty=3)
    headers = auth_headers(setup.operator)
    scan_in(client, headers, "10")

    release(client, auth_headers(setup.officer), setup.declaration.id)

    assert level(client, headers) == "7.0000"


def test_an_officer_cannot_release_beyond_the_stock(client, session, auth_headers):
    setup = make_setup(session, qty=3)
    headers = auth_headers(setup.operator)
    scan_in(client, headers, "2")

    response = client.post(
        f"/api/v1/declarations/{setup.declaration.id}/release", json={}, headers=auth_headers(setup.officer)
    )

    assert response.status_code == 409
    assert response.json["code"] == "insufficient_stock"
    assert level(client, headers) == "2.0000"


def test_customs_release_never_takes_stock_below_zero(client, session, auth_headers):
    setup = make_setup(session, qty=3)
    headers = auth_headers(setup.operator)
    scan_in(client, headers, "2")
    gateway = make_user(session, role=Role.CUSTOMS_GATEWAY)

    receipt = {"guid": setup.declaration.guid, "status_code": 800, "return_time": "2026-11-22T10:00:00+08:00"}
    answer = client.post("/api/v1/customs/receipts", json={"receipts": [receipt]}, headers=auth_headers(gateway))

    assert answer.status_code == 200, answer.json
    assert level(client, headers) == "0.0000"
    movement = session.scalar(select(StockMovement).where(StockMovement.kind == MovementKind.RELEASE_OUT))
    assert (movement.quantity, movement.shortfall) == (-2, 1)


def test_products_without_booked_stock_release_as_before(client, session, auth_headers):
    setup = make_setup(session, qty=3)

    release(client, auth_headers(setup.officer), setup.declaration.id)

    assert level(client, auth_headers(setup.operator)) is None


def test_operators_see_only_their_warehouse(client, session, auth_headers):
    setup = make_setup(session)
    scan_in(client, auth_headers(setup.operator), "4")
    stranger = make_user(session, role=Role.WAREHOUSE_OPERATOR)

    assert level(client, auth_headers(stranger)) is None
    assert level(client, auth_headers(setup.officer)) == "4.0000"
