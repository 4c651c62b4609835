"""Officers and gate operators at work in the console: Chromium, driven by Selenium, against the demo under gunicorn."""

from __future__ import annotations

import uuid

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.console.helpers import console_errors, sign_in
from tests.live import call


def signed_in(browser, server, username):
    """Sign in through the form and wait for the page after it (a page opened sooner would find no cookie)."""
    sign_in(browser, server, username)
    WebDriverWait(browser, 10).until(
        expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "[data-testid=signed-in-as]"))
    )


def api_token(server, username):
    status, body = server.login(username)
    assert status == 200, body
    return body["access_token"]


def test_an_officer_takes_and_resolves_a_warning(console_server, browser):
    camera = api_token(console_server, "camera")
    reported = {
        "camera_id": f"CAM-{uuid.uuid4().hex[:6]}",
        "occurred_at": "2026-11-20T09:30:00+08:00",
        "event_type": "loitering",
    }
    status, warning = call(f"{console_server.base}/api/v1/risk/video-events", body=reported, token=camera)
    assert status == 201, warning
    signed_in(browser, console_server, "officer")

    browser.get(f"{console_server.base}/console/officer/warnings?source=video")
    row = f"tr[data-warning='{warning['id']}']"
    browser.find_element(By.CSS_SELECTOR, f"{row} button.take").click()
    WebDriverWait(browser, 10).until(
        expected_conditions.text_to_be_present_in_element((By.CSS_SELECTOR, ".flash"), "is yours")
    )
    browser.find_element(By.CSS_SELECTOR, f"{row} details summary").click()
    Select(browser.find_element(By.CSS_SELECTOR, f"{row} form.resolve select")).select_by_value("false_alarm")
    browser.find_element(By.CSS_SELECTOR, f"{row} form.resolve textarea").send_keys("A delivery driver on a break")
    browser.find_element(By.CSS_SELECTOR, f"{row} form.resolve button").click()
    WebDriverWait(browser, 10).until(
        expected_conditions.text_to_be_present_in_element((By.CSS_SELECTOR, ".flash"), "resolved")
    )

    assert f"Warning {warning['id']} is resolved." in browser.find_element(By.CSS_SELECTOR, ".flash").text
    officer = api_token(console_server, "officer")
    _, after = call(f"{console_server.base}/api/v1/risk/warnings/{warning['id']}", token=officer)
    assert (after["status"], after["resolution_notes"]) == ("resolved", "A delivery driver on a break")
    assert console_errors(browser) == []


def test_the_gate_screen_shows_a_new_arrival_without_a_reload(console_server, browser):
    gate = api_token(console_server, "gate")
    _, gates = call(f"{console_server.base}/api/v1/gates", token=gate)
    gate_id = gates["items"][0]["id"]
    signed_in(browser, console_server, "gate")
    browser.get(f"{console_server.base}/console/gate?gate_id={gate_id}")
    # A mark on the page itself: a reload would wipe it.
    browser.execute_script("document.body.dataset.unreloaded = 'yes'")

    plate = f"渝B{uuid.uuid4().int % 100000:05d}"
    body = {"gate_id": gate_id, "direction": "in", "plate": plate}
    status, arrived = call(f"{console_server.base}/api/v1/gate/arrivals", body=body, token=gate)
    assert status == 201, arrived

    row = WebDriverWait(browser, 15).until(
        expected_conditions.presence_of_element_located((By.CSS_SELECTOR, f"tr[data-passage='{arrived['id']}']"))
    )
    assert plate in row.text
    assert "a gate pass" in row.text
    assert browser.execute_script("return document.body.dataset.unreloaded") == "yes"
    assert console_errors(browser) == []


def test_a_gate_operator_turns_back_a_referred_vehicle_from_the_screen(console_server, browser):
    gate = api_token(console_server, "gate")
    _, gates = call(f"{console_server.base}/api/v1/gates", token=gate)
    gate_id = gates["items"][0]["id"]
    plate = f"渝C{uuid.uuid4().int % 100000:05d}"
    _, arrived = call(
        f"{console_server.base}/api/v1/gate/arrivals",
        body={"gate_id": gate_id, "direction": "in", "plate": plate},
        token=gate,
    )
    status, weighed = call(
        f"{console_server.base}/api/v1/gate/passages/{arrived['id']}/weight",
        body={"weighbridge_kg": "9000"},
        token=gate,
    )
    assert (status, weighed["status"]) == (200, "referred"), weighed
    signed_in(browser, console_server, "gate")
    browser.get(f"{console_server.base}/console/gate?gate_id={gate_id}")

    row = f"tr[data-passage='{arrived['id']}']"
    Select(browser.find_element(By.CSS_SELECTOR, f"{row} select[name=reason_code]")).select_by_value("no_valid_pass")
    browser.find_element(By.CSS_SELECTOR, f"{row} button[value=turn_back]").click()
    WebDriverWait(browser, 10).until(
        expected_conditions.text_to_be_present_in_element((By.CSS_SELECTOR, ".flash"), "Decision recorded")
    )

    assert f"passage {arrived['id']}" in browser.find_element(By.CSS_SELECTOR, ".flash").text
    assert browser.find_elements(By.CSS_SELECTOR, row) == []
    _, after = call(f"{console_server.base}/api/v1/gate/passages/{arrived['id']}", token=gate)
    assert (after["status"], after["decision_reason"]) == ("turned_back", "no_valid_pass")
