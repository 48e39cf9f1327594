"""Real headless Chromium signs a unit user in through the form, and out again.

The real server on loopback, the real cookies (HttpOnly: the page's script cannot
read them) and the form's hidden CSRF token, as a unit's staff would use them.
"""

from __future__ import annotations

import io

from test_api_support import build_city, settings_for
from test_dashboard_browser import _shoot, browser  # noqa: F401  (the fixture)

from monitor.api import serve_in_background
from monitor.cli import main

PASSWORD = "石泉教育 password"


def test_a_unit_user_signs_in_sees_its_unit_only_and_signs_out(browser, tmp_path, monkeypatch):  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    city = build_city(tmp_path)
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    args = ["users", "add", "edu", "--role", "unit", "--unit", "石泉县教育局", "--password-stdin"]
    assert main([*args, "--db", str(city.db)]) == 0
    with serve_in_background(settings_for(), str(city.db), "127.0.0.1", 0) as server:
        browser.get(server.url + "/problems")
        WebDriverWait(browser, 15).until(lambda b: b.current_url.endswith("/login"))
        assert browser.find_element(By.NAME, "csrf_token").get_attribute("value")
        browser.find_element(By.NAME, "username").send_keys("edu")
        browser.find_element(By.NAME, "password").send_keys(PASSWORD)
        browser.find_element(By.CSS_SELECTOR, "form.filters button").click()
        WebDriverWait(browser, 15).until(lambda b: b.current_url == server.url + "/")
        body = browser.find_element(By.TAG_NAME, "body").text
        assert "退出登录" in body and "edu" in body
        assert browser.execute_script("return document.cookie") in ("", None)  # HttpOnly
        browser.get(server.url + "/problems")
        body = browser.find_element(By.TAG_NAME, "body").text
        assert "石泉教育" in body and "安康公积金" not in body and "石泉统计" not in body
        browser.get(server.url + f"/accounts/{city.ids['安康公积金']}")
        assert "页面不存在" in browser.find_element(By.TAG_NAME, "body").text
        browser.set_window_size(360, 740)
        browser.get(server.url + "/")
        spill = browser.execute_script(
            "const h = document.querySelector('header.bar'); return [h.scrollWidth, h.clientWidth]"
        )
        assert spill[0] <= spill[1], f"the header spills at 360 px: {spill}"
        _shoot(browser, tmp_path, "signed-in-phone", phone=(360, 740))
        browser.find_element(By.CSS_SELECTOR, "form.signout button").click()
        WebDriverWait(browser, 15).until(lambda b: b.current_url.endswith("/login"))
        browser.get(server.url + "/problems")
        WebDriverWait(browser, 15).until(lambda b: b.current_url.endswith("/login"))
