"""What browser tests do over and over: sign in through the form, follow a link or a button to the next page, read
what the browser complained about."""

from __future__ import annotations

from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.live import DEMO_PASSWORD, LiveServer


def sign_in(browser, server: LiveServer, username: str, password: str = DEMO_PASSWORD) -> None:
    """Sign in through the console's form as a person would, and wait for the page it leads to."""
    browser.get(f"{server.base}/console/login")
    browser.find_element(By.ID, "username").send_keys(username)
    browser.find_element(By.ID, "password").send_keys(password)
    click_through(browser, By.ID, "sign-in")


def click_through(browser, by: str, value: str) -> None:
    """Click what leads to another page and wait until that page has loaded in place of this one (a click returns
    at once). This page is marked first; the next one carries no mark. Mid-navigation the driver may fail to read
    the document at all: that is waiting too."""
    browser.execute_script("document.documentElement.dataset.left = 'yes'")
    browser.find_element(by, value).click()
    WebDriverWait(browser, 15, ignored_exceptions=(WebDriverException,)).until(
        lambda driver: driver.execute_script(
            "return document.readyState === 'complete' && document.documentElement.dataset.left === undefined"
        )
    )


def console_errors(browser) -> list[str]:
    """What the browser's console logged as severe: a refused script or style under the CSP shows up here."""
    return [entry["message"] for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
