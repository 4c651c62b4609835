"""X-Request-Id: taken from the client or made, sent back, in problem bodies and in every log line of the request."""

from __future__ import annotations

import json
import logging
import re

import pytest

from app.config import Settings, SettingsError
from app.infra import logs
from tests.test_health import UnreachableDatabase

HEX_ID = re.compile(r"[0-9a-f]{32}")


def test_a_request_without_an_id_gets_a_fresh_one(client):
    first = client.get("/healthz")
    second = client.get("/healthz")

    assert HEX_ID.fullmatch(first.headers["X-Request-Id"])
    assert first.headers["X-Request-Id"] != second.headers["X-Request-Id"]


@pytest.mark.parametrize("given", ["req-7f3a", "Root=1-67891233-abcdef012345678912345678", "a" * 128])
def test_the_clients_request_id_is_sent_back(client, given):
    response = client.get("/healthz", headers={"X-Request-Id": given})

    assert response.headers["X-Request-Id"] == given


@pytest.mark.parametrize("given", ["a" * 129, "id with spaces", "id\u00e9", "<script>", "a;b", "a\tb"])
def test_an_unsafe_request_id_is_replaced(client, given):
    response = client.get("/healthz", headers={"X-Request-Id": given})

    assert HEX_ID.fullmatch(response.headers["X-Request-Id"])


def test_problem_bodies_carry_the_request_id(client):
    response = client.get("/api/v1/declarations/1", headers={"X-Request-Id": "trace-me-42"})

    assert response.status_code == 401
    assert response.json["request_id"] == "trace-me-42"
    assert response.headers["X-Request-Id"] == "trace-me-42"


def test_a_generated_request_id_is_the_one_in_the_problem(client):
    response = client.get("/no/such/thing")

    assert response.status_code == 404
    assert response.json["request_id"] == response.headers["X-Request-Id"]


def test_log_lines_written_during_a_request_carry_its_id_as_json(client, monkeypatch, caplog):
    monkeypatch.setattr("app.health.routes.db.session", UnreachableDatabase)
    caplog.set_level(logging.INFO)

    response = client.get("/readyz", headers={"X-Request-Id": "ready-check-1"})

    assert response.status_code == 503
    assert response.json["request_id"] == "ready-check-1"
    records = [record for record in caplog.records if record.name == "app.health.routes"]
    assert records, "the failed readiness check was not logged"
    assert {record.request_id for record in records} == {"ready-check-1"}
    line = json.loads(logs.json_formatter().format(records[0]))
    assert line["request_id"] == "ready-check-1"
    assert line["message"] == "readiness check failed"
    assert line["level"] == "ERROR"
    assert "OperationalError" in line["exc_info"]


def test_log_lines_outside_a_request_have_no_id(caplog):
    caplog.set_level(logging.INFO)

    logging.getLogger("app.test").info("between requests")

    assert getattr(caplog.records[-1], "request_id", None) is None
    assert json.loads(logs.json_formatter().format(caplog.records[-1]))["request_id"] is None


@pytest.mark.parametrize(("name", "raw"), [("METRICS_TOKEN", "short"), ("LOG_FORMAT", "xml")])
def test_malformed_observability_settings_stop_the_start(name, raw):
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({"JWT_SECRET": "s" * 40, name: raw})


def test_metrics_and_log_format_settings_are_read():
    settings = Settings.from_env({"JWT_SECRET": "s" * 40, "METRICS_TOKEN": "t" * 20, "LOG_FORMAT": "json"})

    assert (settings.metrics_token, settings.log_format) == ("t" * 20, "json")
    assert Settings.from_env({"JWT_SECRET": "s" * 40}).metrics_token is None
