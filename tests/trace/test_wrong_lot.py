"""A serial copied onto another batch's label: the lot in the URI must be the lot the code was issued with (issue 20,
item 2). Otherwise the lookup is not genuine, says what disagrees, raises a clone alarm, and no linkset vouches for
it."""

import pytest

from tests.trace.helpers import GTIN, issue, make_setup, release, set_status

JSON = {"Accept": "application/json"}


@pytest.fixture
def lot_code(client, session, auth_headers):
    """An affixed code issued for lot L7, on a released declaration."""
    setup = make_setup(session)
    headers = auth_headers(setup.operator)
    code = issue(client, headers, setup.declaration.id, 1, lot="L7").json["codes"][0]
    set_status(client, headers, "affixed", serials=[code["serial"]])
    release(client, auth_headers(setup.officer), setup.declaration.id)
    return {**code, "setup": setup}


def test_the_issued_lot_is_genuine(client, lot_code):
    response = client.get(f"/01/{GTIN}/10/L7/21/{lot_code['serial']}", headers=JSON)

    assert (response.status_code, response.json["verdict"]) == (200, "genuine")


def test_another_lot_is_not_genuine_and_says_why(client, lot_code):
    response = client.get(f"/01/{GTIN}/10/ANYTHING/21/{lot_code['serial']}", headers=JSON)

    assert response.status_code == 200
    assert response.json["verdict"] == "lot_mismatch"
    assert response.json["lot"] == "L7"  # the lot the code was issued with, never the one on the label


def test_the_page_warns_in_both_languages(client, lot_code):
    path = f"/01/{GTIN}/10/B99/21/{lot_code['serial']}"

    chinese = client.get(path, headers={"Accept": "text/html"}).get_data(as_text=True)
    english = client.get(path + "?lang=en", headers={"Accept": "text/html"}).get_data(as_text=True)

    assert 'data-verdict="lot_mismatch"' in chinese and "批号不符" in chinese
    assert "Wrong lot" in english


def test_the_scan_verify_endpoint_checks_the_lot_too(client, lot_code):
    url = f"https://example.test/01/{GTIN}/10/B99/21/{lot_code['serial']}"

    response = client.post("/api/v1/trace/verify", json={"code": url})

    assert response.json["verdict"] == "lot_mismatch"


def test_no_linkset_vouches_for_a_wrong_lot(client, lot_code):
    wrong = client.get(f"/01/{GTIN}/10/B99/21/{lot_code['serial']}", headers={"Accept": "application/linkset+json"})
    right = client.get(f"/01/{GTIN}/10/L7/21/{lot_code['serial']}", headers={"Accept": "application/linkset+json"})

    assert wrong.status_code == 404
    assert right.status_code == 200


def test_a_wrong_lot_raises_a_clone_alarm_for_officers(client, lot_code, auth_headers):
    client.get(f"/01/{GTIN}/10/B99/21/{lot_code['serial']}", headers=JSON)

    warnings = client.get("/api/v1/risk/warnings?source=trace", headers=auth_headers(lot_code["setup"].officer)).json[
        "items"
    ]

    assert len(warnings) == 1
    assert warnings[0]["details"]["rules"] == ["wrong_lot"]
    assert warnings[0]["severity"] == "high"
