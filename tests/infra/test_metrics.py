"""GET /metrics: who may scrape it, and what operators find there."""

from __future__ import annotations

import dataclasses
import time
import uuid
from datetime import timedelta

import pytest
from sqlalchemy.exc import OperationalError

from app.devices.models import PushProvider
from app.notices.dispatcher import Dispatcher
from app.push.base import InvalidToken, Sent
from app.trace.lookup import CloneRules
from app.trace.scans import ScanRecorder
from app.users.models import Role
from tests.factories import make_declaration, make_device, make_user
from tests.infra.scrape import TOKEN, families, value
from tests.notices.test_outbox import ScriptedProvider, notify

NAMED_FAMILIES = (
    "smartpark_http_request_duration_seconds",
    "smartpark_outbox_pending",
    "smartpark_outbox_oldest_pending_age_seconds",
    "smartpark_pushes",
    "smartpark_notice_streams_open",
    "smartpark_trace_scan_queue_length",
    "smartpark_trace_scans_dropped",
    "smartpark_customs_receipts",
    "smartpark_db_pool_checked_out",
    "smartpark_db_pool_size",
)


@pytest.fixture
def metrics_on(app, monkeypatch):
    settings = dataclasses.replace(app.extensions["settings"], metrics_token=TOKEN)
    monkeypatch.setitem(app.extensions, "settings", settings)


def scrape(client):
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/plain"
    return families(response.get_data(as_text=True))


def test_metrics_are_not_served_until_a_token_is_configured(client):
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})

    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"


@pytest.mark.usefixtures("metrics_on")
@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token-of-some-length", f"Basic {TOKEN}", TOKEN])
def test_metrics_refuse_a_scrape_without_the_token(client, authorization):
    headers = {"Authorization": authorization} if authorization else {}

    response = client.get("/metrics", headers=headers)

    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert response.json["code"] == "unauthorized"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "smartpark_" not in response.get_data(as_text=True)


@pytest.mark.usefixtures("metrics_on")
def test_request_latency_is_counted_by_route_template_and_status(client, session, declarant, auth_headers):
    headers = auth_headers(declarant)
    mine = make_declaration(session, declarant=declarant)
    route = "/api/v1/declarations/<int:declaration_id>"
    before = scrape(client)

    client.get(f"/api/v1/declarations/{mine.id}", headers=headers)
    for missing in (mine.id + 1000, mine.id + 2000):
        client.get(f"/api/v1/declarations/{missing}", headers=headers)

    after = scrape(client)
    count = "smartpark_http_request_duration_seconds_count"
    assert (
        value(after, count, method="GET", route=route, status="200")
        - value(before, count, method="GET", route=route, status="200")
        == 1
    )
    assert (
        value(after, count, method="GET", route=route, status="404")
        - value(before, count, method="GET", route=route, status="404")
        == 2
    )
    latency = after["smartpark_http_request_duration_seconds"]
    # The template, never the path: ids and serials must not each make a series.
    routes = {sample.labels["route"] for sample in latency.samples}
    assert not {f"/api/v1/declarations/{n}" for n in (mine.id, mine.id + 1000, mine.id + 2000)} & routes
    assert value(after, "smartpark_http_request_duration_seconds_sum", route=route, status="200") > 0


@pytest.mark.usefixtures("metrics_on")
def test_unrouted_paths_and_odd_methods_share_one_series(client):
    before = scrape(client)

    for path in ("/no/such/thing/1", "/no/such/thing/2", "/wp-admin/setup.php"):
        client.get(path)
    client.open("/no/such/thing/3", method="FROBNICATE")

    after = scrape(client)
    count = "smartpark_http_request_duration_seconds_count"
    grown = value(after, count, route="unmatched", method="GET", status="404") - value(
        before, count, route="unmatched", method="GET", status="404"
    )
    assert grown == 3
    assert value(after, count, route="unmatched", method="other") >= 1
    routes = {sample.labels["route"] for sample in after["smartpark_http_request_duration_seconds"].samples}
    assert not any("no/such" in route or "wp-admin" in route for route in routes)


@pytest.mark.usefixtures("metrics_on")
def test_every_named_metric_family_is_exposed(client):
    found = scrape(client)

    assert set(NAMED_FAMILIES) <= set(found)
    assert value(found, "smartpark_db_pool_size") > 0


@pytest.mark.usefixtures("metrics_on")
def test_outbox_depth_and_age_are_read_at_scrape_time(client, session, declarant):
    make_device(session, user=declarant)
    make_device(session, user=declarant)
    before = value(scrape(client), "smartpark_outbox_pending")

    notify(session, declarant)

    found = scrape(client)
    assert value(found, "smartpark_outbox_pending") == before + 2
    assert value(found, "smartpark_outbox_oldest_pending_age_seconds") >= 0


@pytest.mark.usefixtures("metrics_on")
def test_pushes_are_counted_by_provider_and_outcome(app, client, session, declarant):
    make_device(session, user=declarant, token="a" * 64)
    make_device(session, user=declarant, token="b" * 64)
    notify(session, declarant)
    provider = ScriptedProvider(Sent(provider_message_id="1"), InvalidToken("gone"))
    dispatcher = Dispatcher(
        app.extensions["sessionmaker"], adapters={PushProvider.APNS: provider}, sms=None, concurrency=1
    )
    before = scrape(client)

    dispatcher.turn()

    after = scrape(client)
    for outcome in ("sent", "invalid_token"):
        grown = value(after, "smartpark_pushes_total", provider="apns", outcome=outcome) - value(
            before, "smartpark_pushes_total", provider="apns", outcome=outcome
        )
        assert grown == 1, outcome


@pytest.mark.usefixtures("metrics_on")
def test_customs_receipts_are_counted_by_outcome(client, session, declarant, auth_headers):
    gateway = auth_headers(make_user(session, role=Role.CUSTOMS_GATEWAY))
    declaration = make_declaration(session, declarant=declarant)
    receipt = {"guid": declaration.guid, "status_code": 120, "return_time": "20261111093000123"}
    unknown = {"guid": str(uuid.uuid4()).upper(), "status_code": 120, "return_time": "20261111093000123"}
    before = scrape(client)

    client.post("/api/v1/customs/receipts", json={"receipts": [receipt, unknown]}, headers=gateway)
    client.post("/api/v1/customs/receipts", json={"receipts": [receipt]}, headers=gateway)

    after = scrape(client)
    for outcome in ("applied", "duplicate", "unknown_declaration"):
        grown = value(after, "smartpark_customs_receipts_total", outcome=outcome) - value(
            before, "smartpark_customs_receipts_total", outcome=outcome
        )
        assert grown == 1, outcome


@pytest.mark.usefixtures("metrics_on")
def test_open_notice_streams_are_counted_while_open(app, client, declarant):
    hub = app.extensions["notice_hub"]
    before = value(scrape(client), "smartpark_notice_streams_open")

    with hub.subscribe(declarant.id, uuid.uuid4()), hub.subscribe(declarant.id, uuid.uuid4()):
        during = value(scrape(client), "smartpark_notice_streams_open")

    assert during == before + 2
    assert value(scrape(client), "smartpark_notice_streams_open") == before


class RefusingSessions:
    """A session factory whose database is gone."""

    def __call__(self):
        raise OperationalError("INSERT", {}, ConnectionRefusedError("database is gone"))


@pytest.mark.usefixtures("metrics_on")
def test_scan_writer_queue_and_drops_are_counted(app, client, monkeypatch):
    rules = CloneRules(lookups=50, networks=5, regions=3, window=timedelta(hours=24))
    # The writer lingers 2 s before it writes, so the scans are still queued at the first scrape.
    recorder = ScanRecorder(RefusingSessions(), rules=rules, linger=2.0)
    monkeypatch.setitem(app.extensions, "trace_scan_recorder", recorder)
    length = "smartpark_trace_scan_queue_length"
    dropped = "smartpark_trace_scans_dropped_total"
    before = scrape(client)

    for _ in range(3):
        recorder.record({"serial": "X"})
    queued = scrape(client)
    deadline = time.monotonic() + 30
    # The drop counter is the process's: a writer of another test's app may add to it meanwhile, so wait for this
    # writer's queue to empty as well.
    while time.monotonic() < deadline:
        after = scrape(client)
        if value(after, length) == 0 and value(after, dropped) - value(before, dropped) >= 3:
            break
        time.sleep(0.1)

    # At most one is in the writer's hands while it lingers; the others wait in the queue.
    assert value(queued, length) >= 2
    assert value(after, length) == 0
    assert value(after, dropped) - value(before, dropped) >= 3
