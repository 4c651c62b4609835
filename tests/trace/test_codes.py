import csv
import io
import re
from concurrent.futures import ThreadPoolExecutor

import pytest
import zxingcpp
from PIL import Image
from sqlalchemy import func, select

from app import db
from app.audit.models import AuditEvent
from app.auth import service as auth
from app.declarations.models import DeclarationStatus
from app.trace import issuing
from app.trace.models import TraceCode
from app.users.models import Role
from tests.factories import make_user
from tests.trace.helpers import GTIN, issue, make_setup, release, set_status

SERIAL = re.compile(r"^[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{16}$")


def test_issuing_answers_codes_with_their_digital_link(client, session, auth_headers, settings):
    setup = make_setup(session)

    response = issue(client, auth_headers(setup.operator), setup.declaration.id, 3)

    assert response.status_code == 201
    codes = response.json["codes"]
    assert len({code["serial"] for code in codes}) == 3
    for code in codes:
        assert SERIAL.match(code["serial"])
        assert code["gtin"] == GTIN
        assert code["url"] == f"HTTPS://{settings.trace_host.upper()}/01/{GTIN}/21/{code['serial']}"
    assert response.json["batch"]["quantity"] == 3


def test_a_lot_goes_into_the_link_before_the_serial(client, session, auth_headers):
    setup = make_setup(session)

    code = issue(client, auth_headers(setup.operator), setup.declaration.id, 1, lot="L2026A").json["codes"][0]

    assert f"/01/{GTIN}/10/L2026A/21/{code['serial']}" in code["url"]


def test_codes_stream_as_csv_for_label_printers(client, session, auth_headers):
    setup = make_setup(session)
    headers = {**auth_headers(setup.operator), "Accept": "text/csv"}

    response = issue(client, headers, setup.declaration.id, 4)

    assert response.status_code == 201
    assert response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [row["gtin"] for row in rows] == [GTIN] * 4
    stored = set(session.scalars(select(TraceCode.serial).where(TraceCode.declaration_id == setup.declaration.id)))
    assert {row["serial"] for row in rows} == stored


def test_format_csv_in_the_query_also_streams_csv(client, session, auth_headers):
    setup = make_setup(session)

    response = client.post(
        "/api/v1/trace-codes?format=csv",
        json={"declaration_id": setup.declaration.id, "gnum": 1, "quantity": 2},
        headers=auth_headers(setup.operator),
    )

    assert response.mimetype == "text/csv"
    assert len(response.get_data(as_text=True).strip().splitlines()) == 3


def test_codes_beyond_the_line_quantity_are_refused(client, session, auth_headers):
    setup = make_setup(session, qty=5)
    headers = auth_headers(setup.operator)
    issue(client, headers, setup.declaration.id, 4)

    response = issue(client, headers, setup.declaration.id, 2)

    assert response.status_code == 409
    assert response.json["code"] == "trace_quantity_exceeded"
    assert response.json["errors"] == {"json": {"quantity": ["At most 1."]}}


def test_voided_codes_give_their_place_back(client, session, auth_headers):
    setup = make_setup(session, qty=2)
    headers = auth_headers(setup.operator)
    serials = [code["serial"] for code in issue(client, headers, setup.declaration.id, 2).json["codes"]]

    assert set_status(client, headers, "void", serials=serials[:1]).status_code == 200
    assert issue(client, headers, setup.declaration.id, 1).status_code == 201


def test_another_warehouse_cannot_issue_codes_for_the_declaration(client, session, auth_headers):
    setup = make_setup(session)
    stranger = make_user(session, role=Role.WAREHOUSE_OPERATOR)

    response = issue(client, auth_headers(stranger), setup.declaration.id, 1)

    assert response.status_code == 404


def test_declarants_cannot_issue_codes(client, session, auth_headers):
    setup = make_setup(session)

    response = issue(client, auth_headers(make_user(session, role=Role.DECLARANT)), setup.declaration.id, 1)

    assert response.status_code == 403


def test_a_line_whose_gtin_is_not_registered_gets_no_codes(client, session, auth_headers):
    setup = make_setup(session)
    session.delete(setup.product)
    session.flush()

    response = issue(client, auth_headers(setup.operator), setup.declaration.id, 1)

    assert response.status_code == 422
    assert "gnum" in response.json["errors"]["json"]


def test_a_rejected_declaration_gets_no_codes(client, session, auth_headers):
    setup = make_setup(session, status=DeclarationStatus.REJECTED)

    response = issue(client, auth_headers(setup.operator), setup.declaration.id, 1)

    assert response.status_code == 409


def test_a_serial_collision_is_drawn_again(client, session, auth_headers, monkeypatch):
    setup = make_setup(session)
    headers = auth_headers(setup.operator)
    taken = issue(client, headers, setup.declaration.id, 1).json["codes"][0]["serial"]
    draws = iter([taken, "ABCDEFGHJKMNPQRS"])
    monkeypatch.setattr(issuing, "new_serial", lambda: next(draws))

    response = issue(client, headers, setup.declaration.id, 1)

    assert response.status_code == 201
    assert response.json["codes"][0]["serial"] == "ABCDEFGHJKMNPQRS"


def test_affixed_codes_go_live_when_the_declaration_is_released(client, session, auth_headers):
    setup = make_setup(session)
    headers = auth_headers(setup.operator)
    serials = [code["serial"] for code in issue(client, headers, setup.declaration.id, 3).json["codes"]]
    set_status(client, headers, "affixed", serials=serials[:2])

    release(client, auth_headers(setup.officer), setup.declaration.id)

    statuses = [client.get(f"/api/v1/trace-codes/{serial}", headers=headers).json["status"] for serial in serials]
    assert statuses == ["active", "active", "issued"]
    assert session.scalar(select(func.count()).where(AuditEvent.action == "trace_codes.active")) == 1


def test_a_code_affixed_after_release_is_live_at_once(client, session, auth_headers):
    setup = make_setup(session)
    headers = auth_headers(setup.operator)
    serial = issue(client, headers, setup.declaration.id, 1).json["codes"][0]["serial"]
    release(client, auth_headers(setup.officer), setup.declaration.id)

    set_status(client, headers, "affixed", serials=[serial])

    assert client.get(f"/api/v1/trace-codes/{serial}", headers=headers).json["status"] == "active"


def test_a_whole_batch_is_affixed_in_one_call(client, session, auth_headers):
    setup = make_setup(session)
    headers = auth_headers(setup.operator)
    batch_id = issue(client, headers, setup.declaration.id, 5).json["batch"]["id"]

    response = set_status(client, headers, "affixed", batch_id=batch_id)

    assert response.json == {"status": "affixed", "changed": 5}


def test_transitions_out_of_order_are_refused(client, session, auth_headers):
    setup = make_setup(session)
    headers = auth_headers(setup.operator)
    serial = issue(client, headers, setup.declaration.id, 1).json["codes"][0]["serial"]

    sold = set_status(client, headers, "sold", serials=[serial])
    active = set_status(client, headers, "active", serials=[serial])

    assert sold.status_code == 409
    assert sold.json["code"] == "invalid_code_transition"
    assert active.status_code == 422


def test_only_customs_or_admins_recall(client, session, auth_headers):
    setup = make_setup(session)
    headers = auth_headers(setup.operator)
    serial = issue(client, headers, setup.declaration.id, 1).json["codes"][0]["serial"]
    set_status(client, headers, "affixed", serials=[serial])

    by_warehouse = set_status(client, headers, "recalled", serials=[serial])
    by_officer = set_status(client, auth_headers(setup.officer), "recalled", serials=[serial], reason="batch recall")

    assert by_warehouse.status_code == 403
    assert by_officer.status_code == 200
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "trace_codes.recalled"))
    assert event.details["serials"] == [serial]
    assert event.details["reason"] == "batch recall"


def test_a_listed_serial_of_another_warehouse_is_not_found(client, session, auth_headers):
    setup = make_setup(session)
    serial = issue(client, auth_headers(setup.operator), setup.declaration.id, 1).json["codes"][0]["serial"]
    stranger = make_user(session, role=Role.WAREHOUSE_OPERATOR)

    response = set_status(client, auth_headers(stranger), "void", serials=[serial])

    assert response.status_code == 404


def test_the_png_label_decodes_to_the_code_url(client, session, auth_headers):
    setup = make_setup(session)
    headers = auth_headers(setup.operator)
    code = issue(client, headers, setup.declaration.id, 1).json["codes"][0]

    response = client.get(f"/api/v1/trace-codes/{code['serial']}/qr.png", headers=headers)

    assert response.mimetype == "image/png"
    # verify() checks every chunk's CRC, which a decoder reading the pixels would not notice.
    Image.open(io.BytesIO(response.data)).verify()
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(response.data)))
    assert [(result.format, result.text) for result in found] == [(zxingcpp.BarcodeFormat.QRCode, code["url"])]


@pytest.mark.parametrize("label", ["qr.png", "qr.svg"])
def test_a_label_is_not_found_for_another_warehouse_or_an_unknown_serial(client, session, auth_headers, label):
    setup = make_setup(session)
    serial = issue(client, auth_headers(setup.operator), setup.declaration.id, 1).json["codes"][0]["serial"]
    stranger = auth_headers(make_user(session, role=Role.WAREHOUSE_OPERATOR))
    officer = auth_headers(make_user(session, role=Role.CUSTOMS_OFFICER))

    by_stranger = client.get(f"/api/v1/trace-codes/{serial}/{label}", headers=stranger)
    unknown = client.get(f"/api/v1/trace-codes/ZZZZ2345678ABCD/{label}", headers=auth_headers(setup.operator))
    by_officer = client.get(f"/api/v1/trace-codes/{serial}/{label}", headers=officer)

    assert (by_stranger.status_code, by_stranger.json["code"]) == (404, "not_found")
    assert (unknown.status_code, unknown.json["code"]) == (404, "not_found")
    assert by_officer.status_code == 200


def test_labels_with_the_fixed_mask_decode_for_any_serial(client, session, auth_headers):
    # The mask is fixed for speed; this checks it reads back across a whole batch, not only one lucky serial.
    setup = make_setup(session, qty=40)
    headers = auth_headers(setup.operator)
    codes = issue(client, headers, setup.declaration.id, 40).json["codes"]

    decoded = [
        [
            result.text
            for result in zxingcpp.read_barcodes(
                Image.open(io.BytesIO(client.get(f"/api/v1/trace-codes/{code['serial']}/qr.png", headers=headers).data))
            )
        ]
        for code in codes
    ]

    assert decoded == [[code["url"]] for code in codes]


def test_the_svg_label_carries_the_serial_for_people(client, session, auth_headers):
    setup = make_setup(session)
    headers = auth_headers(setup.operator)
    serial = issue(client, headers, setup.declaration.id, 1).json["codes"][0]["serial"]

    response = client.get(f"/api/v1/trace-codes/{serial}/qr.svg", headers=headers)

    assert response.mimetype == "image/svg+xml"
    assert f">{serial}</text>" in response.get_data(as_text=True)


def test_a_label_sheet_holds_one_page_of_the_batch(client, session, auth_headers):
    setup = make_setup(session)
    headers = auth_headers(setup.operator)
    issued = issue(client, headers, setup.declaration.id, 7).json
    batch_id = issued["batch"]["id"]

    sheet = client.get(f"/api/v1/trace-code-batches/{batch_id}/labels.svg?per_sheet=5&page=2", headers=headers)

    text = sheet.get_data(as_text=True)
    assert text.count("<text") == 2
    assert all(f">{code['serial']}</text>" in text for code in issued["codes"][5:])


def test_a_batch_lists_its_codes_with_their_status(client, session, auth_headers):
    setup = make_setup(session)
    headers = auth_headers(setup.operator)
    issued = issue(client, headers, setup.declaration.id, 3).json
    set_status(client, headers, "void", serials=[issued["codes"][0]["serial"]])

    page = client.get(f"/api/v1/trace-code-batches/{issued['batch']['id']}/codes?limit=2", headers=headers).json
    rest = client.get(
        f"/api/v1/trace-code-batches/{issued['batch']['id']}/codes?cursor={page['next_cursor']}", headers=headers
    ).json

    listed = {code["serial"]: code["status"] for code in page["items"] + rest["items"]}
    assert listed == {code["serial"]: "issued" for code in issued["codes"]} | {issued["codes"][0]["serial"]: "void"}


def test_a_batch_downloads_as_csv(client, session, auth_headers):
    setup = make_setup(session)
    headers = auth_headers(setup.operator)
    issued = issue(client, headers, setup.declaration.id, 3).json

    response = client.get(f"/api/v1/trace-code-batches/{issued['batch']['id']}/codes.csv", headers=headers)

    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [row["serial"] for row in rows] == [code["serial"] for code in issued["codes"]]


@pytest.mark.postgres_only
def test_concurrent_batches_never_pass_the_line_quantity(racing_app):
    with racing_app.app_context(), db.transaction() as session:
        setup = make_setup(session, qty=10)
        pair = auth.open_session(
            session,
            setup.operator,
            client_addr="127.0.0.1",
            user_agent="pytest",
            settings=racing_app.extensions["settings"],
        )
        declaration_id = setup.declaration.id
    headers = {"Authorization": f"Bearer {pair.access_token}"}

    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = list(
            pool.map(lambda _: issue(racing_app.test_client(), headers, declaration_id, 3).status_code, range(6))
        )

    assert sorted(statuses) == [201, 201, 201, 409, 409, 409]
