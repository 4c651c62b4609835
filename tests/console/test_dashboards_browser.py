"""Every dashboard draws its charts from the demo's figures in Chromium, under the console's policy."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.console.conftest import ARTIFACTS
from tests.console.helpers import click_through, console_errors, sign_in

DASHBOARDS = {
    "clearance": ["release-times", "inspection-rate"],
    "gates": ["lane-vehicles", "lane-type-vehicles", "auto-cleared", "referral-reasons"],
    "notices": ["notice-delivery"],
    "trace": ["trace-lookups"],
}
# Pixels of a chart's canvas that are not transparent: axes, bars, lines, labels (an empty canvas has none).
INKED_PIXELS = """
const canvas = arguments[0];
const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
let inked = 0;
for (let alpha = 3; alpha < pixels.length; alpha += 4) { if (pixels[alpha] > 0) { inked += 1; } }
return inked;
"""


def _signed_in(browser, server, username: str) -> None:
    """Sign in and wait for the home page, so the next page is opened with the cookie."""
    sign_in(browser, server, username)
    browser.find_element(By.CSS_SELECTOR, "[data-testid=signed-in-as]")


def _drawn_charts(browser) -> dict[str, int]:
    """Wait for the page's figures, then each chart frame's id and the inked pixels of its canvas."""
    board = browser.find_element(By.ID, "dashboard")
    WebDriverWait(browser, 15).until(lambda _driver: board.get_attribute("data-ready"))
    assert board.get_attribute("data-ready") == "true"
    drawn = {}
    for frame in browser.find_elements(By.CSS_SELECTOR, "[data-chart]"):
        assert frame.get_attribute("data-drawn") == "true", frame.get_attribute("data-chart")
        canvas = frame.find_element(By.TAG_NAME, "canvas")
        drawn[frame.get_attribute("data-chart")] = browser.execute_script(INKED_PIXELS, canvas)
    return drawn


@pytest.mark.parametrize("name", DASHBOARDS)
def test_each_dashboard_draws_every_chart_from_the_demo(console_server, browser, name):
    _signed_in(browser, console_server, "admin")

    browser.get(f"{console_server.base}/console/dashboards/{name}")
    drawn = _drawn_charts(browser)

    assert list(drawn) == DASHBOARDS[name]
    assert all(inked > 2000 for inked in drawn.values()), drawn
    assert console_errors(browser) == []
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / f"dashboard-{name}.png"))


def test_gate_staff_see_the_lanes_dashboard_drawn_and_no_other(console_server, browser):
    _signed_in(browser, console_server, "gate")

    browser.find_element(By.LINK_TEXT, "Dashboards").click()
    drawn = _drawn_charts(browser)

    assert browser.current_url == f"{console_server.base}/console/dashboards/gates"
    assert list(drawn) == DASHBOARDS["gates"]
    assert [tab.text for tab in browser.find_elements(By.CSS_SELECTOR, ".tabs a")] == ["Gates and lanes"]
    assert console_errors(browser) == []


def test_an_officer_reads_the_clearance_dashboard_in_chinese(console_server, browser):
    _signed_in(browser, console_server, "officer")
    # The language is set when its page has come back: opening the dashboard before then raced the post.
    click_through(browser, By.CSS_SELECTOR, "button[name=lang][value=zh]")

    browser.get(f"{console_server.base}/console/dashboards/clearance")
    drawn = _drawn_charts(browser)

    assert browser.find_element(By.CSS_SELECTOR, ".tabs a[aria-current=page]").text == "通关时效"
    assert list(drawn) == DASHBOARDS["clearance"]
    assert console_errors(browser) == []
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "dashboard-clearance-zh.png"))
