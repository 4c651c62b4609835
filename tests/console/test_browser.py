"""The console as people at desks use it: Chromium, driven by Selenium, against the demo served by gunicorn."""

from __future__ import annotations

from selenium.webdriver.common.by import By

from tests.console.helpers import console_errors, sign_in


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

    browser.find_element(By.CSS_SELECTOR, "button[name=lang][value=zh]").click()

    assert browser.find_element(By.ID, "sign-out").text == "退出登录"
    assert browser.current_url == f"{console_server.base}/console/"


def test_an_officer_is_refused_the_admins_pages(console_server, browser):
    sign_in(browser, console_server, "officer")

    browser.get(f"{console_server.base}/console/admin/users")

    assert browser.find_element(By.CSS_SELECTOR, "[data-status]").get_attribute("data-status") == "403"
