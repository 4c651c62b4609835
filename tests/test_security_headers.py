"""Security headers on the API and the HTML pages, added by the one after-request step (app/infra/observe.py)."""

import base64
import hashlib
import re

from tests.factories import PASSWORD, make_user


def inline_hashes(html: str, tag: str) -> set[str]:
    blocks = re.findall(rf"<{tag}>(.*?)</{tag}>", html, re.DOTALL)
    return {"'sha256-" + base64.b64encode(hashlib.sha256(b.encode()).digest()).decode() + "'" for b in blocks}


def directives(response) -> dict[str, list[str]]:
    policy = response.headers["Content-Security-Policy"]
    return {name: values for name, *values in (part.split() for part in policy.split(";"))}


def assert_framing_and_sniffing_refused(response):
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert directives(response)["frame-ancestors"] == ["'none'"]


def test_api_answers_and_problems_allow_nothing_to_run_or_frame_them(client):
    for response in (client.get("/api/v1/openapi.json"), client.get("/api/v1/no-such-thing")):
        assert_framing_and_sniffing_refused(response)
        assert directives(response)["default-src"] == ["'none'"]


def test_the_docs_page_allows_its_own_assets_and_its_inline_script_by_hash(client):
    page = client.get("/api/v1/docs")
    policy = directives(page)

    assert_framing_and_sniffing_refused(page)
    assert set(policy["script-src"]) == {"'self'"} | inline_hashes(page.get_data(as_text=True), "script")
    assert len(policy["script-src"]) == 2
    assert "'unsafe-inline'" not in page.headers["Content-Security-Policy"]


def test_login_and_refresh_answers_are_never_stored(client, session):
    user = make_user(session)
    login = client.post("/api/v1/auth/login", json={"username": user.username, "password": PASSWORD})
    refresh = client.post("/api/v1/auth/refresh", json={"refresh_token": login.json["refresh_token"]})

    for response in (login, refresh):
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["Pragma"] == "no-cache"
