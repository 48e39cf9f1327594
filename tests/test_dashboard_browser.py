"""Real headless Chromium clicks through the dashboard: overview -> unit -> account.

Needs Debian's `chromium` and `chromium-driver` (and `fonts-wqy-zenhei` so the
screenshots show Chinese). Skipped, loudly, only when Chromium cannot be found.
Screenshots go to the test's tmp dir, and to $SCREENSHOT_DIR when it is set.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from pathlib import Path

import pytest
from test_api_support import build_city, settings_for

from monitor.api import serve_in_background

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1366,1000",
    "--lang=zh-CN",
]


def _find(*names: str) -> str | None:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture
def browser(tmp_path):
    chromium = _find("chromium", "chromium-browser", "google-chrome")
    driver_path = _find("chromedriver", "chromium-driver")
    if chromium is None or driver_path is None:
        reason = (
            "BROWSER TEST SKIPPED: Chromium or chromedriver not found "
            f"(chromium={chromium}, chromedriver={driver_path}); "
            "install with: apt-get install -y chromium chromium-driver fonts-wqy-zenhei"
        )
        warnings.warn(reason, stacklevel=1)
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="chromium-profile-", dir=tmp_path)
    options.add_argument(f"--user-data-dir={profile}")
    # Console messages (e.g. Content-Security-Policy violations) for driver.get_log("browser").
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def _shoot(driver, tmp_path: Path, name: str) -> None:
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1366, max(800, min(int(height) + 120, 4000)))
    targets = [tmp_path / f"{name}.png"]
    if os.environ.get("SCREENSHOT_DIR"):
        folder = Path(os.environ["SCREENSHOT_DIR"])
        folder.mkdir(parents=True, exist_ok=True)
        targets.append(folder / f"{name}.png")
    for target in targets:
        assert driver.save_screenshot(str(target)), target
        assert target.stat().st_size > 10_000


def test_an_inspector_clicks_from_the_overview_to_a_unit_to_an_account(browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def arrived(test) -> bool:
        """Wait for a click's navigation to land (a form submit is not awaited by click())."""
        return bool(WebDriverWait(browser, 15).until(lambda b: test(b.current_url)))

    city = build_city(tmp_path)
    with serve_in_background(settings_for(), str(city.db), "127.0.0.1", 0) as server:
        browser.get(server.url + "/")
        assert browser.title == "总览 · 政务新媒体监测"
        body = browser.find_element(By.TAG_NAME, "body").text
        assert "政务新媒体监测" in body and "合格率" in body and "57.1%" in body
        assert "各地区情况" in body and "石泉县" in body
        _shoot(browser, tmp_path, "overview")

        browser.find_element(By.LINK_TEXT, "市住房公积金中心").click()
        assert arrived(lambda url: url.endswith(f"/units/{city.units['市住房公积金中心']}"))
        heading = browser.find_element(By.TAG_NAME, "h1").text
        assert heading.startswith("市住房公积金中心")
        body = browser.find_element(By.TAG_NAME, "body").text
        assert "僵尸微博" in body and "安康住房公积金" in body and "未关闭的告警" in body
        _shoot(browser, tmp_path, "unit")

        browser.find_element(By.LINK_TEXT, "安康公积金").click()
        assert arrived(lambda url: url.endswith(f"/accounts/{city.ids['安康公积金']}"))
        body = browser.find_element(By.TAG_NAME, "body").text
        for text in ("判定结论", "僵尸微博", "判定证据", "检测记录", "微博接口"):
            assert text in body
        _shoot(browser, tmp_path, "account")

        browser.find_element(By.LINK_TEXT, "问题清单").click()
        browser.find_element(By.NAME, "region").send_keys("石泉县")
        browser.find_element(By.CSS_SELECTOR, "form.filters button").click()
        assert arrived(lambda url: "region=" in url)
        rows = browser.find_elements(By.CSS_SELECTOR, "main table tbody tr")
        assert {r.find_elements(By.TAG_NAME, "td")[0].text for r in rows} == {"石泉县"}
        _shoot(browser, tmp_path, "problems")
