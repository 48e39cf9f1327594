"""Real headless Chromium signs a unit user in through the form, answers a case, signs out.

The real server on loopback, the real cookies (HttpOnly: the page's script cannot
read them) and the forms' hidden CSRF token, as a unit's staff would use them.
"""

from __future__ import annotations

import io
import json
from zoneinfo import ZoneInfo

from test_api_support import build_city, settings_for
from test_dashboard_browser import _shoot, browser  # noqa: F401  (the fixture)

from monitor.api import serve_in_background
from monitor.cli import main
from monitor.dates import today
from monitor.reports.periods import previous_month

PASSWORD = "石泉教育 password"


def test_a_unit_user_signs_in_sees_its_unit_only_answers_its_case_and_signs_out(
    browser,  # noqa: F811
    tmp_path,
    monkeypatch,
    capsys,
):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    city = build_city(tmp_path)
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    args = ["users", "add", "edu", "--role", "unit", "--unit", "石泉县教育局", "--password-stdin"]
    assert main([*args, "--db", str(city.db)]) == 0
    day = today(ZoneInfo("Asia/Shanghai"))
    notice = ["notice", "issue", "--month", previous_month(day), "--as-of", day.isoformat()]
    assert main([*notice, "--db", str(city.db)]) == 0
    capsys.readouterr()
    assert main(["cases", "--json", "--db", str(city.db)]) == 0
    cases = {c["name"]: c["id"] for c in json.loads(capsys.readouterr().out)}
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
        # The unit's cases: its own only; it answers its case through the page's form.
        browser.get(server.url + "/cases")
        body = browser.find_element(By.TAG_NAME, "body").text
        assert "石泉教育" in body and "安康公积金" not in body
        browser.get(server.url + f"/cases/{cases['安康公积金']}")
        assert "页面不存在" in browser.find_element(By.TAG_NAME, "body").text
        own = cases["石泉教育"]
        browser.get(server.url + f"/cases/{own}")
        form = browser.find_element(By.CSS_SELECTOR, f'form[action="/cases/{own}/response"]')
        assert form.find_element(By.NAME, "csrf_token").get_attribute("value")
        form.find_element(By.CSS_SELECTOR, 'option[value="resumed"]').click()
        form.find_element(By.NAME, "note").send_keys("本周起恢复发布")
        form.find_element(By.CSS_SELECTOR, "button").click()
        WebDriverWait(browser, 15).until(lambda b: "本周起恢复发布" in b.page_source)
        assert browser.current_url == server.url + f"/cases/{own}"
        assert "已答复" in browser.find_element(By.TAG_NAME, "body").text
        assert main(["cases", "--json", "--db", str(city.db)]) == 0
        answered = {c["id"]: c for c in json.loads(capsys.readouterr().out)}[own]
        assert (answered["status"], answered["response"]) == ("responded", "resumed")
        assert answered["response_note"] == "本周起恢复发布"
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
