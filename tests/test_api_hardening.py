"""The smaller holes of the web app, each as a family.

- The token login redirects to this site only, whatever the path looks like
  (`//host`, `///host`, `/\\host`, encoded slashes and backslashes, tabs).
- Every HTML answer (dashboard pages, error pages, the login refusal, an HTML
  report, the API docs) carries a Content-Security-Policy; JSON does not need one.
- /docs and /redoc name no outside script, style or font: their assets are
  served from the installed package, under the same auth as every page.
"""

from __future__ import annotations

import asyncio
import re
from urllib.parse import urljoin, urlsplit

import pytest
from fastapi.testclient import TestClient
from test_api_support import build_city, settings_for

from monitor.api import create_app
from monitor.api.auth import COOKIE_NAME, same_site

TOKEN = "hardening-token-77"
SITE = "http://monitor.example.gov.cn"


@pytest.fixture(scope="module", autouse=True)
def _no_monitor_env(no_monitor_env: None) -> None:
    pass


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    return build_city(tmp_path_factory.mktemp("hardening"))


@pytest.fixture(scope="module")
def locked(city):
    return create_app(settings_for(token=TOKEN), city.db, warm=False)


@pytest.fixture(scope="module")
def open_app(city):
    return create_app(settings_for(), city.db, warm=False)


def raw_get(app, raw_path: bytes, query: bytes) -> tuple[int, dict[str, str]]:
    """One GET with this exact request target (no client library tidies the path)."""
    from urllib.parse import unquote_to_bytes

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": unquote_to_bytes(raw_path).decode("utf-8", "replace"),
        "raw_path": raw_path,
        "root_path": "",
        "query_string": query,
        "headers": [(b"host", b"monitor.example.gov.cn")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start = sent[0]
    headers = {k.decode().lower(): v.decode("latin-1") for k, v in start["headers"]}
    return start["status"], headers


EVIL_PATHS = [
    b"//evil.example/x",
    b"///evil.example/x",
    b"////evil.example",
    b"/\\evil.example/x",
    b"/\\\\evil.example",
    b"\\\\evil.example",
    b"/%2F%2Fevil.example/x",
    b"/%2f/evil.example",
    b"/%5C%5Cevil.example",
    b"/%5C/evil.example",
    b"/%09/evil.example",
    b"//evil.example%2F..",
    b"//user@evil.example/",
    b"/./..//evil.example",
]


@pytest.mark.parametrize("raw_path", EVIL_PATHS, ids=[p.decode() for p in EVIL_PATHS])
def test_the_token_login_redirects_to_this_site_only(locked, raw_path):
    status, headers = raw_get(locked, raw_path, f"token={TOKEN}&as_of=2020-03-04".encode())
    assert status == 303
    location = headers["location"]
    assert location.startswith("/") and location[1:2] not in ("/", "\\"), location
    # Wherever a browser resolves it, it stays on the site that was asked.
    resolved = urlsplit(urljoin(SITE + "/", location.replace("\\", "/")))
    assert resolved.netloc == "monitor.example.gov.cn", location
    assert "token" not in location and location.endswith("?as_of=2020-03-04")
    assert COOKIE_NAME in headers["set-cookie"]


@pytest.mark.parametrize(
    ("path", "target"),
    [("/", "/"), ("/units/3", "/units/3"), ("//a//b", "/a//b"), ("\\x", "/x"), ("", "/")],
)
def test_same_site_keeps_a_normal_path_and_one_leading_slash(path, target):
    assert same_site(path) == target


def html_pages(city) -> list[str]:
    return [
        "/",
        "/problems",
        "/units",
        f"/units/{min(city.units.values())}",
        f"/accounts/{min(city.ids.values())}",
        "/no-such-page",
        "/problems?state=nonsense",
        "/accounts/999999",
        "/api/reports/2020-02?format=html",
        "/docs",
        "/redoc",
    ]


def test_every_html_answer_carries_a_content_security_policy(open_app, locked, city):
    client = TestClient(open_app, raise_server_exceptions=False)
    for page in html_pages(city):
        response = client.get(page)
        assert response.headers["content-type"].startswith("text/html"), page
        policy = response.headers.get("content-security-policy", "")
        assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy, page
        if not page.startswith(("/docs", "/redoc")):
            assert "script-src" not in policy, page  # the dashboard runs no script at all
    refused = TestClient(locked, raise_server_exceptions=False).get("/")
    assert refused.status_code == 401
    assert "default-src 'none'" in refused.headers["content-security-policy"]
    assert "content-security-policy" not in client.get("/api/accounts").headers


def test_the_docs_pages_name_no_outside_asset_and_their_assets_are_served(open_app, locked):
    client = TestClient(open_app)
    for page in ("/docs", "/redoc"):
        html = client.get(page).text
        urls = re.findall(r"""(?:src|href)=["']([^"']+)""", html)
        assert urls and all(u.startswith("/") for u in urls), urls
        assert "cdn." not in html and "fonts.googleapis" not in html
        for url in urls:
            asset = client.get(url)
            assert asset.status_code == 200 and len(asset.content) > 1000, url
        policy = client.get(page).headers["content-security-policy"]
        inline = re.findall(r"<script>(.*?)</script>", html, re.DOTALL)
        assert policy.count("'sha256-") == len(inline)
    # The assets are behind the same auth as everything else.
    assert TestClient(locked).get("/docs/assets/swagger-ui.css").status_code == 401
