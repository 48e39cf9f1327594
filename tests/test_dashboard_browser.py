"""Real headless Chromium clicks through the dashboard at desk width and at phone width.

Needs Debian's `chromium` and `chromium-driver` (and `fonts-wqy-zenhei` so the
screenshots show Chinese). Without them the tests skip, loudly, on a developer's
machine; in CI (`CI` set, as `.ci/run` runs) they fail instead: `.ci/run` installs them.
Screenshots go to the test's tmp dir, and to $SCREENSHOT_DIR when it is set
(`SCREENSHOT_DIR=docs` makes the README's pictures).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from system_tools import missing_tool
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
        missing_tool(
            "Chromium or chromedriver not found "
            f"(chromium={chromium}, chromedriver={driver_path}); "
            "install with: apt-get install -y chromium chromium-driver fonts-wqy-zenhei"
        )
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


def _shoot(driver, tmp_path: Path, name: str, phone: tuple[int, int] | None = None) -> None:
    """A picture of the page: whole at desk width, or the screen a phone shows."""
    if phone is None:
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


PHONE = (390, 844)
# What a phone user taps: every link, button and form field on the page.
TAP_TARGETS = """
return Array.from(document.querySelectorAll('a[href], button, select, input'))
  .filter(e => e.offsetParent !== null)
  .map(e => { const r = e.getBoundingClientRect();
              return [e.tagName + ' ' + (e.textContent || e.name || '').trim().slice(0, 20),
                      Math.round(r.width), Math.round(r.height)]; })
  .filter(([_, w, h]) => w < 40 || h < 40);
"""


def _phone_checks(driver, url: str) -> None:
    """No horizontal scrolling of the page itself, readable type, tap targets of 40 px."""
    driver.get(url)
    overflow = driver.execute_script(
        "return [document.documentElement.scrollWidth, window.innerWidth]"
    )
    assert overflow[0] <= overflow[1], f"{url}: the page scrolls sideways {overflow}"
    size = driver.execute_script("return parseFloat(getComputedStyle(document.body).fontSize)")
    assert size >= 14, f"{url}: body text {size}px"
    small = driver.execute_script(TAP_TARGETS)
    assert not small, f"{url}: tap targets under 40 px: {small[:8]}"


def _issue_a_notice(db: Path) -> int:
    """This month's notice on the city, so the case pages have a case; the first case's id."""
    from monitor.dates import today, utcnow
    from monitor.notices import issue_notice
    from monitor.reports.periods import month_of
    from monitor.store import Store

    settings = settings_for()
    day = today(settings.tz)
    with Store.open(db) as store:
        issued = issue_notice(store, settings, month_of(day), day, now=utcnow())
    assert issued.cases, "the city has problem accounts"
    return issued.cases[0]


@pytest.mark.parametrize("width", [390, 360])
def test_every_page_works_on_a_phone_without_sideways_scrolling(browser, tmp_path, width):
    city = build_city(tmp_path)
    case = _issue_a_notice(city.db)
    # A phone's screen, as Chrome's device emulation gives it (the viewport meta applies).
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": PHONE[1], "deviceScaleFactor": 1, "mobile": True},
    )
    with serve_in_background(settings_for(), str(city.db), "127.0.0.1", 0) as server:
        browser.get(server.url + "/")
        inner = browser.execute_script("return [window.innerWidth, window.innerHeight]")
        assert inner == [width, PHONE[1]], f"the screen is {inner}, not {width}x{PHONE[1]}"
        months = browser.execute_script(
            "return Array.from(document.querySelectorAll('a[href*=\"/api/reports/\"]'))"
            ".map(a => a.getAttribute('href')).filter(h => h.includes('format=html'))"
        )
        assert months, "the overview links this month's report"
        pages = [
            "/",
            "/problems",
            "/problems?state=roster",
            "/units",
            f"/units/{city.units['市住房公积金中心']}",
            f"/accounts/{city.ids['安康公积金']}",
            f"/accounts/{city.ids['汉阴农林科技']}",
            "/cases",
            f"/cases/{case}",  # with the answer form
            "/units/999",  # the error page
            months[0],  # this month's report, served
        ]
        for page in pages:
            _phone_checks(browser, server.url + page)
        if width == PHONE[0]:
            browser.get(server.url + f"/accounts/{city.ids['安康公积金']}")
            # The account page's two panels stack: the evidence sits under the verdict.
            tops = browser.execute_script(
                "return Array.from(document.querySelectorAll('.grid2 > .panel'))"
                ".map(p => p.getBoundingClientRect().top)"
            )
            assert len(tops) == 2 and tops[1] > tops[0]
            header = browser.execute_script(
                "const h = document.querySelector('header.bar'), b = h.querySelector('.brand');"
                "return [b.getBoundingClientRect().height, h.scrollHeight, h.clientHeight]"
            )
            assert header[0] < 60, f"the title wraps: {header}"
            assert header[1] <= header[2], f"the header spills: {header}"
            browser.get(server.url + "/")
            _shoot(browser, tmp_path, "phone", phone=PHONE)
