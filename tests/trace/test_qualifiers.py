"""Every key qualifier of a GTIN accepted and answered at the nearest level the park knows; data attributes in the
query checked; no label that names what its code was not issued with says genuine (issue 20, items 1 and 2)."""

import pytest

from tests.trace.helpers import GTIN, issue, make_setup, release, set_status

JSON = {"Accept": "application/json"}


@pytest.fixture
def code(client, session, auth_headers):
    """An affixed code of lot L7 on a released declaration."""
    setup = make_setup(session)
    headers = auth_headers(setup.operator)
    issued = issue(client, headers, setup.declaration.id, 1, lot="L7").json["codes"][0]
    set_status(client, headers, "affixed", serials=[issued["serial"]])
    release(client, auth_headers(setup.officer), setup.declaration.id)
    return {**issued, "setup": setup}


@pytest.mark.parametrize(
    "qualifiers",
    ["/22/2A", "/10/KL8G", "/22/2A/10/KL8G", "/235/TPX123"],
)
def test_every_key_qualifier_without_a_serial_is_answered_at_the_product(client, code, qualifiers):
    response = client.get(f"/01/{GTIN}{qualifiers}", headers=JSON)

    assert response.status_code == 200
    assert response.json["gtin"] == GTIN


def test_a_lot_level_linkset_walks_up_to_the_product(client, code):
    response = client.get(f"/01/{GTIN}/10/KL8G?linkType=linkset")

    assert response.status_code == 200
    assert [entry["anchor"].rsplit("/01/", 1)[1] for entry in response.json["linkset"]] == [GTIN]


def test_a_consumer_product_variant_on_a_serialised_label_is_not_genuine(client, code):
    response = client.get(f"/01/{GTIN}/22/2A/10/L7/21/{code['serial']}", headers=JSON)

    assert response.status_code == 200
    assert response.json["verdict"] == "cpv_mismatch"


def test_a_variant_label_raises_a_clone_alarm(client, code, auth_headers):
    client.get(f"/01/{GTIN}/22/2A/10/L7/21/{code['serial']}", headers=JSON)

    officer = auth_headers(code["setup"].officer)
    [warning] = client.get("/api/v1/risk/warnings?source=trace", headers=officer).json["items"]
    assert warning["details"]["rules"] == ["wrong_cpv"]
    assert warning["severity"] == "high"


def test_no_linkset_vouches_for_a_variant_the_code_was_not_issued_with(client, code):
    response = client.get(f"/01/{GTIN}/22/2A/10/L7/21/{code['serial']}?linkType=linkset")

    assert response.status_code == 404


@pytest.mark.parametrize("qualifiers", ["/10/L7/22/2A", "/21/{serial}/22/2A", "/235/X/21/{serial}"])
def test_qualifiers_out_of_gs1_order_are_400(client, code, qualifiers):
    response = client.get(f"/01/{GTIN}" + qualifiers.format(serial=code["serial"]), headers=JSON)

    assert response.status_code == 400
    assert response.json["code"] == "bad_digital_link"


def test_a_valid_expiry_attribute_is_accepted(client, code):
    response = client.get(f"/01/{GTIN}/10/L7/21/{code['serial']}?17=281231", headers=JSON)

    assert response.json["verdict"] == "genuine"


@pytest.mark.parametrize(
    "query",
    [
        "17=281331",  # month 13
        "17=280230",  # 30 February
        "17=2812",  # too short
        "15=ABCDEF",  # best before must be digits
        "12345=1",  # no such AI
        "00=123456789012345675",  # an identifier, not a data attribute
        "21=OTHER",  # a serial belongs in the path
    ],
)
def test_an_invalid_data_attribute_is_a_400_problem(client, code, query):
    response = client.get(f"/01/{GTIN}/10/L7/21/{code['serial']}?{query}", headers=JSON)

    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    assert response.json["code"] == "bad_digital_link"


def test_a_lot_attribute_is_checked_like_the_path_lot(client, code):
    right = client.get(f"/01/{GTIN}/21/{code['serial']}?10=L7", headers=JSON)
    wrong = client.get(f"/01/{GTIN}/21/{code['serial']}?10=B99", headers=JSON)

    assert (right.json["verdict"], wrong.json["verdict"]) == ("genuine", "lot_mismatch")


def test_two_different_lots_in_one_uri_are_a_400(client, code):
    response = client.get(f"/01/{GTIN}/10/L7/21/{code['serial']}?10=B99", headers=JSON)

    assert response.status_code == 400


def test_data_attributes_are_passed_on_when_redirecting(client, code):
    response = client.get(f"/01/{GTIN}/10/L7/21/{code['serial']}?17=281231&linkType=gs1:traceability")

    assert response.status_code == 307
    assert response.headers["Location"].endswith("?lot=L7&17=281231&linkType=gs1:traceability")


def test_the_public_api_checks_the_lot_a_redirect_carries(client, code):
    wrong = client.get(f"/api/v1/trace/codes/{code['serial']}?lot=B99")
    variant = client.get(f"/api/v1/trace/codes/{code['serial']}?lot=L7&cpv=2A")

    assert (wrong.json["verdict"], variant.json["verdict"]) == ("lot_mismatch", "cpv_mismatch")
