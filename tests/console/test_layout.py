"""The console's pages: a strict Content-Security-Policy, its own static files, Chinese or English by choice."""

from __future__ import annotations

from app.users.models import Role
from tests.console.conftest import csrf_of
from tests.factories import make_user


def test_pages_forbid_inline_code_and_load_scripts_and_styles_from_the_consoles_static_folder_only(client):
    policy = client.get("/console/login").headers["Content-Security-Policy"]

    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["script-src"] == "http://localhost/console/static/"
    assert directives["style-src"] == "http://localhost/console/static/"
    assert directives["default-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in policy and "sha256-" not in policy


def test_pages_carry_no_inline_script_or_style(console_client, session):
    client = console_client(make_user(session, role=Role.ADMIN))

    for path in ("/console/login", "/console/", "/console/admin/users", "/console/admin/audit"):
        page = client.get(path).data
        assert b"<script>" not in page and b"<style" not in page and b" style=" not in page, path


def test_the_stylesheet_is_served_from_the_console(client):
    answer = client.get("/console/static/console.css")

    assert answer.status_code == 200
    assert answer.mimetype == "text/css"


def test_a_page_is_never_stored_by_a_cache(client):
    assert client.get("/console/login").headers["Cache-Control"] == "no-store"


def test_the_language_switch_turns_the_console_chinese_and_back(client):
    page = client.get("/console/login", headers={"Accept-Language": "en"})
    assert b"Sign in" in page.data

    client.post("/console/language", data={"lang": "zh", "next": "/console/login", "csrf_token": csrf_of(page.data)})
    chinese = client.get("/console/login", headers={"Accept-Language": "en"})
    assert "登录".encode() in chinese.data
    assert b'lang="zh-CN"' in chinese.data

    client.post("/console/language", data={"lang": "en", "csrf_token": csrf_of(chinese.data)})
    assert b"Sign in" in client.get("/console/login").data


def test_without_a_choice_the_browsers_language_is_used(client):
    assert "登录".encode() in client.get("/console/login", headers={"Accept-Language": "zh-CN,zh"}).data


def test_the_api_never_sets_the_consoles_cookie(client):
    answer = client.get("/healthz")

    assert "Set-Cookie" not in answer.headers
