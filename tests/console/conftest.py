"""The console's fixtures: a signed-in test client for plain HTTP tests, and a live demo with a browser.

Plain HTTP (the rolled-back test database):
    console_client(user)  a test client signed in to the console as `user` (through the sign-in form)
    csrf_of(page)         the CSRF token in a page's forms, to post as the browser would

Browser (Selenium driving Debian's chromium through chromedriver; CI fails, never skips, without them):
    console_server        a live gunicorn with the demo seeded, on a scratch database (module scope)
    browser               a headless Chrome session, closed after the test, a screenshot of its last page kept in
                          tests/console/artifacts/<test name>.png (git-ignored; CI keeps it as an artefact)
Helpers for browser tests are in tests/console/helpers.py (sign_in, console_errors).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.users.models import User
from tests.live import LiveServer, live_server

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
PASSWORD = "console-test-Password-1"


def csrf_of(page: bytes | str) -> str:
    text = page.decode() if isinstance(page, bytes) else page
    return CSRF.search(text).group(1)


@pytest.fixture
def console_client(app: Flask, session) -> Callable[[User], FlaskClient]:
    """A test client signed in to the console as the user given (their password set to PASSWORD), reading English."""
    from app.auth import passwords

    def signed_in(user: User) -> FlaskClient:
        user.password_hash = passwords.hash_password(PASSWORD)
        session.flush()
        client = app.test_client()
        client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"  # the user's own language (Chinese) would win otherwise
        form = client.get("/console/login")
        answer = client.post(
            "/console/login",
            data={"username": user.username, "password": PASSWORD, "csrf_token": csrf_of(form.data)},
        )
        assert answer.status_code == 302, answer.data
        return client

    return signed_in


@pytest.fixture(scope="module")
def console_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The demo, served by gunicorn as in production (plain http: the cookie's Secure flag off)."""
    _require_browser()
    with live_server(tmp_path_factory.mktemp("console"), CONSOLE_COOKIE_SECURE="0") as server:
        yield server


@pytest.fixture
def browser(request: pytest.FixtureRequest) -> Iterator[object]:
    """Headless Chromium in English by default; the screenshot of its last page is kept as an artefact."""
    _require_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--lang=en-US"):
        options.add_argument(flag)
    options.add_argument("--window-size=1400,1000")
    options.add_experimental_option("prefs", {"intl.accept_languages": "en-US,en"})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.implicitly_wait(5)
    try:
        yield driver
    finally:
        ARTIFACTS.mkdir(exist_ok=True)
        driver.save_screenshot(str(ARTIFACTS / f"{request.node.name}.png"))
        driver.quit()


def _require_browser() -> None:
    if CHROMIUM is None or CHROMEDRIVER is None:
        if os.environ.get("CI"):
            pytest.fail("chromium or chromedriver is missing; .ci/run installs them")
        pytest.skip("chromium and chromedriver are not installed (apt-get install chromium chromium-driver)")
