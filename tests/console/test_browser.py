"""The console as people at desks use it: Chromium, driven by Selenium, against the demo served by gunicorn."""

from __future__ import annotations

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from tests.console.helpers import click_through, console_errors, sign_in


def test_the_demo_admin_signs_in_and_sees_their_pages_under_the_policy(console_server, browser):
    sign_in(browser, console_server, "admin")

    assert browser.current_url == f"{console_server.base}/console/"
    assert "admin" in browser.find_element(By.CSS_SELECTOR, "[data-testid=signed-in-as]").text
    menu = [link.get_attribute("href") for link in browser.find_elements(By.CSS_SELECTOR, ".menu a")]
    assert f"{console_server.base}/console/admin/users" in menu
    # The stylesheet applied (the bar is dark): the policy let it in; nothing was refused on the way.
    bar = browser.find_element(By.CSS_SELECTOR, "header.bar").value_of_css_property("background-color")
    assert bar == "rgba(18, 38, 63, 1)"
    assert console_errors(browser) == []


def test_the_language_switch_turns_the_console_chinese(console_server, browser):
    sign_in(browser, console_server, "officer")

    click_through(browser, By.CSS_SELECTOR, "button[name=lang][value=zh]")

    assert browser.find_element(By.ID, "sign-out").text == "退出登录"
    assert browser.current_url == f"{console_server.base}/console/"


def test_an_officer_is_refused_the_admins_pages(console_server, browser):
    sign_in(browser, console_server, "officer")

    browser.get(f"{console_server.base}/console/admin/users")

    assert browser.find_element(By.CSS_SELECTOR, "[data-status]").get_attribute("data-status") == "403"


def test_an_admin_creates_a_user_disables_them_and_finds_it_in_the_audit_trail(console_server, browser):
    sign_in(browser, console_server, "admin")
    click_through(browser, By.LINK_TEXT, "Users")
    click_through(browser, By.ID, "new-user")
    browser.find_element(By.ID, "username").send_keys("gate-sun")
    browser.find_element(By.ID, "display_name").send_keys("孙卡口")
    Select(browser.find_element(By.ID, "role")).select_by_value("gate_operator")
    click_through(browser, By.ID, "create-user")

    password = browser.find_element(By.ID, "one-time-password").text
    assert len(password) >= 10
    click_through(browser, By.ID, "to-user")
    click_through(browser, By.ID, "disable")

    assert "Disabled" in browser.find_element(By.ID, "user-state").text
    click_through(browser, By.ID, "user-audit")
    actions = [row.get_attribute("data-action") for row in browser.find_elements(By.CSS_SELECTOR, "#audit tbody tr")]
    assert actions[:2] == ["admin.user_updated", "admin.user_created"]
    assert '"to": false' in browser.find_element(By.CSS_SELECTOR, "#audit tbody tr code.details").text
    click_through(browser, By.ID, "verify-chain")
    assert (
        browser.find_element(By.ID, "chain-check")
        .find_element(By.CSS_SELECTOR, "[data-verdict]")
        .get_attribute("data-verdict")
        == "intact"
    )
    assert console_errors(browser) == []


def test_a_new_user_must_choose_a_password_at_first_sign_in(console_server, browser):
    sign_in(browser, console_server, "admin")
    browser.get(f"{console_server.base}/console/admin/users/new")
    browser.find_element(By.ID, "username").send_keys("officer-wu")
    browser.find_element(By.ID, "display_name").send_keys("吴关员")
    Select(browser.find_element(By.ID, "role")).select_by_value("customs_officer")
    click_through(browser, By.ID, "create-user")
    password = browser.find_element(By.ID, "one-time-password").text
    click_through(browser, By.ID, "sign-out")

    sign_in(browser, console_server, "officer-wu", password)
    assert browser.current_url == f"{console_server.base}/console/password"
    browser.find_element(By.ID, "current_password").send_keys(password)
    browser.find_element(By.ID, "new_password").send_keys("Wu-own-password-2026")
    click_through(browser, By.ID, "change-password")

    assert browser.current_url == f"{console_server.base}/console/"
    assert "officer-wu" in browser.find_element(By.CSS_SELECTOR, "[data-testid=signed-in-as]").text
