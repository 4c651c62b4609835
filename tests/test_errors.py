"""Every failure leaves as RFC 9457 problem details with our stable `code`."""

import logging

import pytest

from app.auth import user_routes as users_routes
from app.users.models import Role
from tests.factories import make_enterprise, make_user

PROBLEM_FIELDS = {"type", "title", "status", "detail", "instance", "code"}
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def assert_problem(response, status, code):
    """The shape every non-2xx answer shares; returns the body for further checks."""
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    body = response.json
    assert body.keys() >= PROBLEM_FIELDS
    assert body["status"] == status
    assert body["code"] == code
    assert body["instance"] == response.request.path
    assert body["title"]
    assert body["detail"]
    return body


@pytest.fixture
def admin_headers(session, auth_headers):
    return auth_headers(make_user(session, role=Role.ADMIN))


def test_an_unknown_api_route_is_a_404_problem(client):
    body = assert_problem(client.get("/api/v1/no-such-thing"), 404, "not_found")

    # Plain HTTP errors carry no problem type of their own (RFC 9457, section 4.2.1).
    assert body["type"] == "about:blank"
    assert body["title"] == "Not Found"


def test_an_unknown_route_outside_the_api_is_a_404_problem_too(client):
    assert_problem(client.get("/no-such-page"), 404, "not_found")


def test_a_wrong_method_is_a_405_problem_naming_the_allowed_ones(client):
    response = client.delete("/api/v1/admin/enterprises")

    assert_problem(response, 405, "method_not_allowed")
    allowed = {method.strip() for method in response.headers["Allow"].split(",")}
    assert {"GET", "POST"} <= allowed
    assert "DELETE" not in allowed


def test_malformed_json_is_a_400_problem(client):
    response = client.post("/api/v1/auth/login", data='{"username": "a", ', content_type="application/json")

    body = assert_problem(response, 400, "malformed_request")
    assert list(body["errors"]) == ["json"]
    assert body["type"].endswith("/malformed_request")


def test_wrong_types_are_a_422_problem_with_per_field_errors(client):
    response = client.post("/api/v1/auth/login", json={"username": 42, "password": ["hunter2"]})

    body = assert_problem(response, 422, "validation_failed")
    assert set(body["errors"]["json"]) == {"username", "password"}
    assert all(isinstance(messages, list) and messages for messages in body["errors"]["json"].values())


@pytest.mark.parametrize(
    ("data", "content_type"),
    [("username=a&password=b", "application/x-www-form-urlencoded"), ('{"username": "a"}', None)],
)
def test_a_body_that_is_not_declared_json_is_a_415_problem(client, data, content_type):
    response = client.post("/api/v1/auth/login", data=data, content_type=content_type)

    body = assert_problem(response, 415, "unsupported_media_type")
    assert body["errors"] == {"json": ["Send the body as application/json."]}


def test_a_json_array_instead_of_an_object_is_a_422_problem(client):
    response = client.post("/api/v1/auth/login", json=[{"username": "a", "password": "b"}])

    body = assert_problem(response, 422, "validation_failed")
    assert "json" in body["errors"]


def test_a_bad_query_parameter_is_a_422_problem_under_query(client, admin_headers):
    response = client.get("/api/v1/admin/enterprises", query_string={"limit": "lots"}, headers=admin_headers)

    body = assert_problem(response, 422, "validation_failed")
    assert list(body["errors"]) == ["query"]


def test_an_oversized_body_is_a_413_problem(client, settings):
    padding = "x" * settings.max_content_length
    response = client.post("/api/v1/auth/login", json={"username": "someone", "password": padding})

    assert_problem(response, 413, "payload_too_large")


def test_a_missing_token_is_a_401_problem(client):
    response = client.get("/api/v1/admin/enterprises")

    body = assert_problem(response, 401, "authentication_required")
    assert body["type"].startswith("https://")
    assert body["type"].endswith("/authentication_required")


def test_a_forbidden_role_is_a_403_problem(client, session, auth_headers):
    declarant = make_user(session, role=Role.DECLARANT)

    assert_problem(client.get("/api/v1/admin/users", headers=auth_headers(declarant)), 403, "forbidden")


def test_a_missing_record_is_a_404_problem_with_a_problem_type(client, session, admin_headers):
    gone = make_enterprise(session)
    gone_id = gone.id
    session.delete(gone)
    session.flush()

    body = assert_problem(client.get(f"/api/v1/admin/enterprises/{gone_id}", headers=admin_headers), 404, "not_found")
    assert body["type"].endswith("/not_found")


def test_a_broken_rule_is_a_409_problem_with_field_errors(client, session, admin_headers):
    existing = make_enterprise(session)
    payload = {
        "name": "Copycat Trading",
        "uscc": existing.uscc,
        "customs_reg_code": "61ABCDEF01",
        "kinds": ["ebc"],
    }

    response = client.post("/api/v1/admin/enterprises", json=payload, headers=admin_headers)

    body = assert_problem(response, 409, "enterprise_code_taken")
    assert list(body["errors"]["json"]) == ["uscc"]


@pytest.fixture
def crashing_list_users(app, monkeypatch):
    """Make GET /admin/users blow up as a bug would, with the server's error handling on."""

    def crash(*args, **kwargs):
        raise RuntimeError("secret internals: password=hunter2 at /srv/park/app/users/service.py")

    monkeypatch.setattr(users_routes.service, "list_users", crash)
    # The test app propagates exceptions to pytest; production turns them into a 500.
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)


@pytest.mark.usefixtures("crashing_list_users")
def test_an_unexpected_exception_is_a_generic_500_problem(client, admin_headers):
    response = client.get("/api/v1/admin/users", headers=admin_headers)

    body = assert_problem(response, 500, "internal_error")
    text = response.get_data(as_text=True)
    assert "secret internals" not in text
    assert "hunter2" not in text
    assert "Traceback" not in text
    assert "RuntimeError" not in text
    assert "errors" not in body


@pytest.mark.usefixtures("crashing_list_users")
def test_an_unexpected_exception_is_logged_with_its_traceback(client, admin_headers, caplog):
    with caplog.at_level(logging.ERROR):
        client.get("/api/v1/admin/users", headers=admin_headers)

    crashes = [record for record in caplog.records if record.exc_info]
    assert crashes
    assert "secret internals" in str(crashes[0].exc_info[1])


@pytest.fixture
def openapi(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.json


def test_openapi_lists_the_stable_problem_codes(openapi):
    codes = openapi["x-problem-codes"]

    assert {
        "invalid_credentials",
        "refresh_token_reused",
        "last_admin",
        "enterprise_code_taken",
        "validation_failed",
        "malformed_request",
        "not_found",
        "internal_error",
        "payload_too_large",
        "service_unavailable",
    } <= codes.keys()
    assert all(isinstance(title, str) and title for title in codes.values())


def test_openapi_documents_every_error_response_as_problem_json(openapi):
    shared = openapi["components"]["responses"]
    documented = []
    for path, operations in openapi["paths"].items():
        for method, operation in operations.items():
            if method not in HTTP_METHODS:
                continue  # path-level "parameters" and the like
            for status, response in operation.get("responses", {}).items():
                if status != "default" and int(status) < 400:
                    continue
                if "$ref" in response:
                    response = shared[response["$ref"].rsplit("/", 1)[-1]]
                documented.append((f"{method.upper()} {path} {status}", set(response.get("content", {}))))

    assert documented
    # The public resolver's pages (outside /api/v1) tell a phone's browser in HTML, and everyone else in a problem.
    allowed = {"application/problem+json"}
    wrong = [
        name
        for name, media_types in documented
        if media_types != allowed and (name.split()[1].startswith("/api/") or media_types != allowed | {"text/html"})
    ]
    assert wrong == []


def test_openapi_describes_the_problem_schema(openapi):
    problem = openapi["components"]["schemas"]["Problem"]

    assert {"type", "title", "status", "detail", "code"} <= set(problem["required"])
    assert {"instance", "errors"} <= problem["properties"].keys()
