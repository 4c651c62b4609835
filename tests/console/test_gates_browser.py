"""An admin at the gates and lanes pages: Chromium, driven by Selenium, against the demo served by gunicorn."""

from __future__ import annotations

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from app.demo_gates import GATE_CODE
from tests.console.helpers import click_through, console_errors, sign_in


def test_an_admin_closes_a_lane_and_reads_the_switch_in_its_history(console_server, browser):
    sign_in(browser, console_server, "admin")
    click_through(browser, By.LINK_TEXT, "Gates and lanes")
    gate = browser.find_element(By.CSS_SELECTOR, f'[data-gate="{GATE_CODE}"]')
    lane = gate.find_element(By.CSS_SELECTOR, '[data-lane="I02"] a').get_attribute("href")
    browser.get(lane)

    Select(browser.find_element(By.ID, "switch-state")).select_by_value("closed")
    browser.find_element(By.ID, "switch-reason").send_keys("Weighbridge calibration")
    click_through(browser, By.ID, "switch-lane")

    assert "Closed to traffic" in browser.find_element(By.ID, "lane-state").text
    newest = browser.find_element(By.CSS_SELECTOR, "#switches tbody tr")
    assert (
        newest.find_element(By.CSS_SELECTOR, '[data-field="state"]').text
        == "State: Open to traffic → Closed to traffic"
    )
    assert newest.find_element(By.CSS_SELECTOR, "td.reason").text == "Weighbridge calibration"
    assert "admin" in newest.text
    assert console_errors(browser) == []
