"""Input the database would refuse is refused first: a 4xx problem naming the field, never a 500."""

import json

import pytest

from app.users.models import Role
from tests.factories import make_user
from tests.trace.helpers import GTIN

BEYOND_BIGINT = 2**63
BEYOND_INTEGER = 2**31
# The fuzzer's body was 100,000 deep; the tests' 64 KB body limit takes 30,000, as far past the parser's
# recursion limit (about 1,000) as 100,000 is.
DEEP = 30_000


def assert_field_refused(response, location, field, *, status=422, code="validation_failed"):
    assert response.status_code == status, response.json
    assert response.mimetype == "application/problem+json"
    assert response.json["code"] == code
    assert field in response.json["errors"][location]


@pytest.fixture
def declarant_headers(session, auth_headers):
    return auth_headers(make_user(session, role=Role.DECLARANT))


@pytest.fixture
def admin_headers(session, auth_headers):
    return auth_headers(make_user(session, role=Role.ADMIN))


def test_a_path_id_beyond_bigint_is_an_unknown_id(client, declarant_headers):
    response = client.get(f"/api/v1/declarations/{BEYOND_BIGINT}", headers=declarant_headers)

    assert response.status_code == 404
    assert response.json["code"] == "not_found"


def test_a_path_id_beyond_an_integer_column_is_an_unknown_id(client, admin_headers):
    response = client.get(f"/api/v1/vehicles/{BEYOND_INTEGER}", headers=admin_headers)

    assert response.status_code == 404
    assert response.json["code"] == "not_found"


def test_a_query_id_beyond_bigint_names_the_field(client, declarant_headers):
    response = client.get(f"/api/v1/inspection-tasks?declaration_id={BEYOND_BIGINT}", headers=declarant_headers)

    assert_field_refused(response, "query", "declaration_id")


def test_a_body_sequence_number_beyond_bigint_names_the_field(client, declarant_headers):
    # Sent as the fuzzer sent it; the app's orjson encoder cannot even write an integer this big.
    body = '{"up_to_seq": 2151061220124602400768}'

    response = client.post("/api/v1/notices/ack", data=body, content_type="application/json", headers=declarant_headers)

    assert_field_refused(response, "json", "up_to_seq")


def test_a_body_enterprise_id_beyond_an_integer_column_names_the_field(client, admin_headers):
    vehicle = {"plate": "沪A12345", "vehicle_class": "truck", "tare_kg": "8000.0", "enterprise_id": BEYOND_INTEGER}

    response = client.post("/api/v1/vehicles", json=vehicle, headers=admin_headers)

    assert_field_refused(response, "json", "enterprise_id")


def test_a_body_gate_id_beyond_an_integer_column_names_the_field(client, session, auth_headers):
    headers = auth_headers(make_user(session, role=Role.GATE_OPERATOR))
    arrival = {"gate_id": BEYOND_INTEGER, "direction": "in", "plate": "沪A12345"}

    response = client.post("/api/v1/gate/arrivals", json=arrival, headers=headers)

    assert_field_refused(response, "json", "gate_id")


def test_a_nul_in_the_login_username_names_the_field(client):
    response = client.post("/api/v1/auth/login", json={"username": "admin\x00", "password": "whatever-it-is"})

    assert_field_refused(response, "json", "username")


def test_a_nul_in_a_trace_serial_of_the_resolver_path_names_the_segment(client):
    response = client.get(f"/01/{GTIN}/21/AB%00CD", headers={"Accept": "application/json"})

    assert_field_refused(response, "path", "rest")


def test_a_nul_in_a_trace_serial_of_the_api_path_names_the_segment(client):
    response = client.get("/api/v1/trace/codes/AB%00CD")

    assert_field_refused(response, "path", "serial")


def test_a_nul_in_the_product_search_names_the_field(client, declarant_headers):
    response = client.get("/api/v1/products?q=milk%00", headers=declarant_headers)

    assert_field_refused(response, "query", "q")


def test_other_control_characters_are_refused_but_tabs_and_newlines_kept(client, admin_headers):
    assert_field_refused(client.get("/api/v1/products?q=milk%07", headers=admin_headers), "query", "q")
    assert client.get("/api/v1/products?q=milk%09powder", headers=admin_headers).status_code == 200


def deep_json() -> bytes:
    return b"[" * DEEP + b"]" * DEEP


def test_json_nested_30000_deep_is_a_malformed_login(client):
    response = client.post("/api/v1/auth/login", data=deep_json(), content_type="application/json")

    assert response.status_code == 400
    assert response.json["code"] == "malformed_request"
    assert "json" in response.json["errors"]


def test_json_nested_30000_deep_is_malformed_on_an_authenticated_route(client, declarant_headers):
    response = client.post(
        "/api/v1/notices/ack", data=deep_json(), content_type="application/json", headers=declarant_headers
    )

    assert response.status_code == 400
    assert response.json["code"] == "malformed_request"


def test_json_nested_just_too_deep_for_the_walkers_is_malformed(client, declarant_headers):
    body = json.dumps({"up_to_seq": 1, "extra": json.loads("[" * 500 + "]" * 500)})

    response = client.post("/api/v1/notices/ack", data=body, content_type="application/json", headers=declarant_headers)

    assert response.status_code == 400
    assert response.json["code"] == "malformed_request"
