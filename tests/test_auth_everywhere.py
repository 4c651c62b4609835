"""Every route asks who is calling, except the few that are public by design (OWASP API2 and API5)."""

from __future__ import annotations

import re

import pytest
from werkzeug.routing import Rule

# Public by design: sign-in and the forgotten-password reset, the consumer's trace lookups and the resolver (compressed
# Digital Links and its default links' pages too), health probes, the API's own docs.
PUBLIC = {
    "/.well-known/gs1resolver",
    "/01/<path:rest>",
    "/<string:segment>",
    "/api/v1/auth/login",
    "/api/v1/auth/password-reset",
    "/api/v1/auth/password-reset/confirm",
    "/api/v1/auth/refresh",
    "/api/v1/docs",
    "/api/v1/docs/assets/<path:filename>",
    "/api/v1/openapi.json",
    "/api/v1/trace/codes/<string:serial>",
    "/api/v1/trace/verify",
    "/healthz",
    "/readyz",
    "/static/<path:filename>",
    "/trace-reports",  # a shopper's report of a suspected fake: anonymous, signed by the page's token
    "/trace/items/<string:serial>",
    "/trace/products/<string:gtin>",
}
# Protected by credentials of their own, tested where they are built: Prometheus' bearer token (tests/infra).
OWN_CREDENTIALS = {"/metrics"}
# The console's pages ask for its cookie instead (below): open only its sign-in, sign-out, language and files.
CONSOLE = "/console"
CONSOLE_PUBLIC = {
    "/console/login",
    "/console/logout",
    "/console/language",
    "/console/static/<path:filename>",
    "/console/static/vendor/<name>",  # the chart library's file
}


def _url(rule: Rule) -> str:
    """The rule with a plausible value for each part: ids, a serial, a path."""
    values = {name: "1" if name.endswith("_id") else "ABC234" for name in rule.arguments}
    return rule.build(values, append_unknown=False)[1]


def _protected(app) -> list[tuple[str, str]]:
    return sorted(
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.rule not in PUBLIC | OWN_CREDENTIALS and not rule.rule.startswith(CONSOLE)
        for method in rule.methods - {"HEAD", "OPTIONS"}
    )


def test_the_public_list_names_only_routes_that_exist(app):
    rules = {rule.rule for rule in app.url_map.iter_rules()}
    assert rules >= PUBLIC | OWN_CREDENTIALS


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE"])
def test_every_other_route_answers_401_without_credentials(app, client, method):
    refused = {}
    for rule_method, rule in _protected(app):
        if rule_method != method:
            continue
        url = next(r for r in app.url_map.iter_rules() if r.rule == rule)
        response = client.open(_url(url), method=method, json={} if method != "GET" else None)
        refused[(method, rule)] = (response.status_code, response.headers.get("Content-Type"))
    wrong = {key: value for key, value in refused.items() if value != (401, "application/problem+json")}
    assert refused
    assert not wrong


def test_every_console_page_sends_a_visitor_without_a_sign_in_to_the_sign_in_form(app):
    client = app.test_client()
    token = re.search(rb'name="csrf_token" value="([^"]+)"', client.get("/console/login").data).group(1).decode()
    pages = [
        (method, rule)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith(CONSOLE) and rule.rule not in CONSOLE_PUBLIC
        for method in rule.methods - {"HEAD", "OPTIONS"}
    ]

    form = {"csrf_token": token}
    answers = {(method, rule.rule): client.open(_url(rule), method=method, data=form) for method, rule in pages}

    assert pages
    wrong = {key: answer.status_code for key, answer in answers.items() if answer.status_code != 302}
    assert not wrong
    assert {answer.headers["Location"].split("?")[0] for answer in answers.values()} == {"/console/login"}
