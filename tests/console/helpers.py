"""What browser tests do over and over: sign in through the form, read what the browser complained about."""

from __future__ import annotations

from tests.live import DEMO_PASSWORD, LiveServer


def sign_in(browser, server: LiveServer, username: str, password: str = DEMO_PASSWORD) -> None:
    """Sign in through the console's form as a person would."""
    from selenium.webdriver.common.by import By

    browser.get(f"{server.base}/console/login")
    browser.find_element(By.ID, "username").send_keys(username)
    browser.find_element(By.ID, "password").send_keys(password)
    browser.find_element(By.ID, "sign-in").click()


def console_errors(browser) -> list[str]:
    """What the browser's console logged as severe: a refused script or style under the CSP shows up here."""
    return [entry["message"] for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
