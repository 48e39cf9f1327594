"""Real headless Chromium opens /docs and /redoc offline, under their Content-Security-Policy.

The documentation pages load Swagger UI and ReDoc from this server (the
installed package's assets), never from a CDN: they render, nothing the browser
received came from another origin, and the browser reports no policy violation
on them or on the dashboard (but for ReDoc's own logo, which the policy blocks). Skipped, loudly, when Chromium is not installed (see
test_dashboard_browser).
"""

from __future__ import annotations

from test_api_support import build_city, settings_for
from test_dashboard_browser import browser  # noqa: F401 (the fixture)

from monitor.api import serve_in_background


def violations(driver) -> list[str]:
    return [
        entry["message"]
        for entry in driver.get_log("browser")
        if "Content Security Policy" in entry["message"] or "Refused to" in entry["message"]
    ]


def fetched_elsewhere(driver, origin: str) -> list[str]:
    """Resources that came from anywhere but `origin` (a request the policy blocked gets nothing)."""
    script = (
        "return performance.getEntriesByType('resource')"
        ".filter(e => e.responseStatus > 0 || e.transferSize > 0).map(e => e.name)"
    )
    return [name for name in driver.execute_script(script) if not name.startswith(origin + "/")]


def test_the_api_docs_render_from_local_assets_with_no_policy_violation(browser, tmp_path):  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    city = build_city(tmp_path)
    with serve_in_background(settings_for(), str(city.db), "127.0.0.1", 0) as server:
        origin = server.url.rstrip("/")

        browser.get(f"{origin}/docs")
        WebDriverWait(browser, 30).until(
            lambda b: b.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")
        )
        paths = {e.text for e in browser.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")}
        assert "/api/accounts" in {p.replace("\u200b", "") for p in paths}
        assert fetched_elsewhere(browser, origin) == []
        assert violations(browser) == []

        browser.get(f"{origin}/redoc")
        WebDriverWait(browser, 30).until(
            lambda b: "/api/accounts" in b.find_element(By.TAG_NAME, "body").text
        )
        assert fetched_elsewhere(browser, origin) == []
        # ReDoc's bundle shows its maker's logo from their CDN: the policy blocks it (and
        # ReDoc then drops the image). That is the only thing refused.
        for message in violations(browser):
            assert "cdn.redoc.ly" in message and "img-src" in message, message

        for page in ("/", "/problems", f"/accounts/{city.ids['安康公积金']}"):
            browser.get(origin + page)
            assert browser.find_element(By.TAG_NAME, "h1").text
            assert violations(browser) == [], page
