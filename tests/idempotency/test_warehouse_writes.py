"""A warehouse handheld's writes, each sent twice with one Idempotency-Key: done once, answered the same twice."""

import io
import json

from app.goods.models import Product
from app.stock.models import StockMovement
from app.trace.models import CapturedEvent, TraceCode, TraceCodeBatch, TraceCodeStatus
from tests.idempotency.helpers import count, twice
from tests.trace.helpers import GTIN, REFERENCE, issue, make_setup

SCAN_INS = "/api/v1/stock/scan-ins"


def scan_in_body(quantity):
    return {"seal_no": "SEAL-0001", "seal_intact": True, "items": [{"gtin": GTIN, "quantity": quantity}]}


def stock_level(client, headers):
    return client.get(f"/api/v1/stock?gtin={GTIN}", headers=headers).json["items"][0]["quantity"]


def test_a_scan_in_sent_twice_is_counted_once(client, session, auth_headers):
    setup = make_setup(session)
    headers = auth_headers(setup.operator)
    assert client.post(SCAN_INS, json=scan_in_body("50"), headers=headers).status_code == 201

    first = twice(client, "POST", SCAN_INS, headers=headers, json=scan_in_body("5"))

    assert first.status_code == 201
    assert stock_level(client, headers) == "55.0000"
    assert count(session, StockMovement) == 2


def test_trace_codes_issued_twice_make_one_batch(client, session, auth_headers):
    setup = make_setup(session)
    body = {"declaration_id": setup.declaration.id, "gnum": 1, "quantity": 3}

    first = twice(client, "POST", "/api/v1/trace-codes", headers=auth_headers(setup.operator), json=body)

    assert first.status_code == 201
    assert len(first.json["codes"]) == 3
    assert count(session, TraceCodeBatch) == 1
    assert count(session, TraceCode) == 3


def test_trace_codes_issued_as_csv_twice_make_one_batch_and_replay_the_file(client, session, auth_headers):
    setup = make_setup(session)
    body = {"declaration_id": setup.declaration.id, "gnum": 1, "quantity": 3}
    headers = {**auth_headers(setup.operator), "Accept": "text/csv"}

    first = twice(client, "POST", "/api/v1/trace-codes", headers=headers, json=body)

    assert first.status_code == 201
    assert first.mimetype == "text/csv"
    assert first.headers["Content-Disposition"].startswith('attachment; filename="trace-codes-')
    assert len(first.get_data(as_text=True).splitlines()) == 1 + 3
    assert count(session, TraceCodeBatch) == 1


def test_the_same_key_asking_json_then_csv_is_another_request(client, session, auth_headers):
    setup = make_setup(session)
    body = {"declaration_id": setup.declaration.id, "gnum": 1, "quantity": 3}
    headers = {**auth_headers(setup.operator), "Idempotency-Key": "issue-1"}

    client.post("/api/v1/trace-codes", json=body, headers=headers)
    as_csv = client.post("/api/v1/trace-codes?format=csv", json=body, headers=headers)

    assert as_csv.status_code == 422
    assert as_csv.json["code"] == "idempotency_key_reused"
    assert count(session, TraceCodeBatch) == 1


def test_a_status_change_sent_twice_is_applied_once(client, session, auth_headers):
    setup = make_setup(session)
    headers = auth_headers(setup.operator)
    serials = [code["serial"] for code in issue(client, headers, setup.declaration.id, 2).json["codes"]]

    first = twice(
        client, "POST", "/api/v1/trace-codes/status", headers=headers, json={"status": "affixed", "serials": serials}
    )

    assert first.json == {"status": "affixed", "changed": 2}
    assert count(session, TraceCode, TraceCode.status == TraceCodeStatus.AFFIXED) == 2


def test_a_product_registered_twice_is_one_product(client, session, auth_headers):
    operator = make_setup(session).operator
    body = {"gtin": "09506000134352", "name_zh": "软糖", "brand": "Swisse", "origin_country": "AU", "unit": "122"}
    body["hs_code"] = "2106909090"

    first = twice(client, "POST", "/api/v1/products", headers=auth_headers(operator), json=body)

    assert first.status_code == 201
    assert count(session, Product, Product.gtin == "09506000134352") == 1


def test_a_product_correction_sent_twice_answers_the_same(client, session, auth_headers):
    setup = make_setup(session)

    first = twice(
        client,
        "PATCH",
        f"/api/v1/products/{setup.product.id}",
        headers=auth_headers(setup.operator),
        json={"brand": "Aptamil"},
    )

    assert first.json["brand"] == "Aptamil"


def test_a_product_import_sent_twice_is_imported_once(client, session, auth_headers):
    operator = make_setup(session).operator
    text = (
        "gtin,name_zh,name_en,brand,specification,origin_country,hs_code,unit\n"
        "09506000134352,软糖,Gummies,Swisse,,AU,2106909090,122\n"
    ).encode()

    first = twice(
        client,
        "POST",
        "/api/v1/products/import",
        headers=auth_headers(operator),
        data=lambda: {"file": (io.BytesIO(text), "goods.csv")},
        content_type="multipart/form-data",
    )

    # Done again, the import would report the row unchanged instead of created.
    assert first.json["created"] == 1
    assert count(session, Product, Product.gtin == "09506000134352") == 1


def test_an_epcis_capture_sent_twice_answers_captured_both_times(client, session, auth_headers):
    setup = make_setup(session)
    document = (REFERENCE / "epcis-examples" / "Example_9.6.1-ObjectEventWithDigitalLink.jsonld").read_text()

    first = twice(
        client,
        "POST",
        "/api/v1/epcis/capture",
        headers={**auth_headers(setup.officer), "Content-Type": "application/ld+json"},
        data=document,
    )

    # Done again, the capture would answer 200 "nothing new".
    assert first.status_code == 201
    assert first.json["captured"] == len(json.loads(document)["epcisBody"]["eventList"])
    assert count(session, CapturedEvent) == first.json["captured"]
