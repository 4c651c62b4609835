"""gunicorn's access line, built from fewer atoms (gunicorn.conf.py's JsonAwareLogger), reads as gunicorn's own."""

from __future__ import annotations

import datetime
import runpy
from pathlib import Path
from types import SimpleNamespace

import pytest
from gunicorn.config import Config
from gunicorn.glogging import Logger

CONF = Path(__file__).resolve().parents[2] / "gunicorn.conf.py"


@pytest.fixture
def conf(monkeypatch, tmp_path):
    # Set beforehand, so reading the file neither makes a metrics directory nor leaves LOG_FORMAT behind.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    monkeypatch.setenv("LOG_FORMAT", "text")
    return runpy.run_path(str(CONF))


def config(conf: dict) -> Config:
    cfg = Config()
    cfg.set("accesslog", "-")
    cfg.set("access_log_format", conf["access_log_format"])
    return cfg


def exchange():
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": "/api/v1/trace/codes/BENCH2345678ABCD?x=1",
        "PATH_INFO": "/api/v1/trace/codes/BENCH2345678ABCD",
        "QUERY_STRING": "x=1",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "203.0.113.7",
        "HTTP_REFERER": "https://example.com/",
        "HTTP_USER_AGENT": 'Mozilla/5.0 "quoted"',
        "HTTP_AUTHORIZATION": "Basic dXNlcjpwYXNz",
        "HTTP_ACCEPT": "application/json",
        "wsgi.url_scheme": "http",
    }
    request = SimpleNamespace(headers=[("ACCEPT", "application/json"), ("USER-AGENT", 'Mozilla/5.0 "quoted"')])
    response = SimpleNamespace(
        status="200 OK", sent=123, headers=[("Content-Type", "application/json"), ("X-Request-Id", "req-7f3a")]
    )
    return response, request, environ, datetime.timedelta(seconds=0, microseconds=1234)


def test_the_access_line_is_gunicorns_own(conf, monkeypatch):
    ours, theirs = conf["JsonAwareLogger"](config(conf)), Logger(config(conf))
    monkeypatch.setattr(Logger, "now", lambda self: "[06/Dec/2026:23:00:00 +0000]")
    response, request, environ, took = exchange()

    def line(logger) -> str:
        atoms = logger.atoms_wrapper_class(logger.atoms(response, request, environ, took))
        return logger.cfg.access_log_format % atoms

    assert line(ours) == line(theirs)
    assert "request_id=req-7f3a" in line(ours)
    assert "user" in line(ours)


def test_a_format_that_reads_request_headers_gets_them(conf):
    cfg = config(conf)
    cfg.set("access_log_format", "%(h)s %({accept}i)s %({wsgi.url_scheme}e)s")
    logger = conf["JsonAwareLogger"](cfg)
    response, request, environ, took = exchange()

    atoms = logger.atoms_wrapper_class(logger.atoms(response, request, environ, took))

    assert cfg.access_log_format % atoms == "203.0.113.7 application/json http"
