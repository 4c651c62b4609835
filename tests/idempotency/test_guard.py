"""How the Idempotency-Key guard keeps its promise: every signed-in write honours it, the work and the stored
answer commit together, and a twin sent while the first is in flight is refused."""

import threading

import pytest

from app.auth import service as auth
from app.idempotency import service as idempotency
from app.stock import service as stock
from tests.idempotency.test_warehouse_writes import SCAN_INS, scan_in_body, stock_level
from tests.trace.helpers import make_setup

WRITES = ("post", "put", "patch", "delete")
# Left out on purpose, each with its reason beside the route.
WITHOUT_KEY = {
    ("/api/v1/auth/login", "post"),  # no user yet; token answers must never be stored
    ("/api/v1/auth/refresh", "post"),
    ("/api/v1/auth/logout", "post"),  # a retry finds its sign-in ended
    ("/api/v1/auth/password-reset", "post"),  # no user yet; a repeat texts a new code or is refused alike
    ("/api/v1/auth/password-reset/confirm", "post"),  # the body holds a password
    ("/api/v1/me/password", "post"),  # the body holds passwords
    ("/api/v1/admin/users", "post"),  # the body holds the first password
    ("/api/v1/admin/users/{user_id}/password-reset", "post"),  # the answer holds a temporary password
    ("/api/v1/admin/users/{user_id}/api-keys", "post"),  # the answer holds the key
    ("/api/v1/notices/stream-ticket", "post"),  # a single-use credential
    ("/api/v1/trace/verify", "post"),  # public, anonymous
    ("/trace-reports", "post"),  # public, anonymous: made exactly once by the page's token (app/trace/reports.py)
}


def test_every_signed_in_write_documents_the_header(client):
    spec = client.get("/api/v1/openapi.json").json

    honoured, missing = set(), set()
    for path, item in spec["paths"].items():
        for method in WRITES:
            if method in item:
                names = {parameter.get("name") for parameter in item[method].get("parameters", [])}
                (honoured if "Idempotency-Key" in names else missing).add((path, method))

    assert missing == WITHOUT_KEY
    assert ("/api/v1/stock/scan-ins", "post") in honoured


def test_the_work_is_undone_when_its_answer_cannot_be_stored(client, session, auth_headers, monkeypatch):
    setup = make_setup(session)
    headers = {**auth_headers(setup.operator), "Idempotency-Key": "crash-1"}
    client.post(SCAN_INS, json=scan_in_body("50"), headers=auth_headers(setup.operator))

    def crash(*args, **kwargs):
        raise RuntimeError("the worker died before the answer was stored")

    with monkeypatch.context() as patch:
        patch.setattr(idempotency, "remember_answer", crash)
        with pytest.raises(RuntimeError):
            client.post(SCAN_INS, json=scan_in_body("5"), headers=headers)
    assert stock_level(client, auth_headers(setup.operator)) == "50.0000"

    retried = client.post(SCAN_INS, json=scan_in_body("5"), headers=headers)
    replayed = client.post(SCAN_INS, json=scan_in_body("5"), headers=headers)

    assert (retried.status_code, replayed.status_code) == (201, 201)
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert stock_level(client, auth_headers(setup.operator)) == "55.0000"


@pytest.mark.postgres_only
def test_a_twin_sent_while_the_first_is_in_flight_is_refused_then_replayed(racing_app, monkeypatch):
    settings = racing_app.extensions["settings"]
    with racing_app.extensions["sessionmaker"]() as session, session.begin():
        operator = make_setup(session).operator
        token = auth.open_session(
            session, operator, client_addr="127.0.0.1", user_agent="pytest", settings=settings
        ).access_token
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "in-flight-1"}
    entered, go = threading.Event(), threading.Event()
    scan_in = stock.scan_in

    def slow_scan_in(*args, **kwargs):
        entered.set()
        assert go.wait(timeout=30)
        return scan_in(*args, **kwargs)

    monkeypatch.setattr(stock, "scan_in", slow_scan_in)
    answers = {}

    def first_request():
        answers["first"] = racing_app.test_client().post(SCAN_INS, json=scan_in_body("5"), headers=headers)

    first = threading.Thread(target=first_request)
    first.start()
    try:
        assert entered.wait(timeout=30)
        twin = racing_app.test_client().post(SCAN_INS, json=scan_in_body("5"), headers=headers)
    finally:
        go.set()
        first.join(timeout=30)
    monkeypatch.setattr(stock, "scan_in", scan_in)
    retry = racing_app.test_client().post(SCAN_INS, json=scan_in_body("5"), headers=headers)

    assert twin.status_code == 409
    assert twin.json["code"] == "idempotency_key_in_flight"
    assert answers["first"].status_code == 201
    assert (retry.status_code, retry.headers["Idempotent-Replayed"]) == (201, "true")
    assert retry.get_data() == answers["first"].get_data()
    assert stock_level(racing_app.test_client(), {"Authorization": headers["Authorization"]}) == "5.0000"
