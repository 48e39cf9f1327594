"""Users and scopes (issue 21): every route scoped for a unit user, sign-in, CSRF,
lock-out, session fixation, the audit log, and `monitor users` / `monitor audit`.

The real ASGI app (TestClient) on the real SQLite file of `test_api_support`'s city;
users are made with the real CLI, and last month's notice is issued with the real CLI
(as of today), so that cases are open for several units and this month's report carries
整改情况 and 连续通报. The unit user answers for 石泉县教育局 only (one account, 石泉教育,
suspended); every other unit's account and unit name must never show up in what it is
given, whatever filter it tries.
"""

from __future__ import annotations

import io
import json
import re
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from test_api_support import ACCOUNTS, City, build_city, settings_for

from monitor.api import create_app
from monitor.api.sessions import LOCK_ADDRESS_AFTER, LOCK_AFTER, SESSION_COOKIE
from monitor.checks.cases import respond
from monitor.cli import main
from monitor.dates import today, utcnow
from monitor.reports.periods import month_of, previous_month
from monitor.store import Store

TOKEN = "admin-token-for-scope-tests"
PASSWORD = "correct horse battery"
OWN_UNIT = "石泉县教育局"
OWN_ACCOUNT = "石泉教育"
OTHER_UNIT = "市住房公积金中心"  # has a unit alert and a zombie account
OTHER_ACCOUNT = "安康公积金"
SH = ZoneInfo("Asia/Shanghai")
# Government websites of both units (monitor sites import).
OWN_SITE = "石泉教育信息网"
OTHER_SITE = "安康公积金网站"
SITES_CSV = (
    "网站名称,网址,网站标识码,主办单位,类别\n"
    f"{OWN_SITE},http://127.0.0.1:9/edu/,6109250001,{OWN_UNIT},石泉县\n"
    f"{OTHER_SITE},http://127.0.0.1:9/gjj/,6109000002,{OTHER_UNIT},市直部门\n"
)
# What a unit user of OWN_UNIT must never be shown: every other unit's names.
FOREIGN_NAMES = sorted(
    {a[1] for a in ACCOUNTS if a[1] != OWN_UNIT}
    | {a[3] for a in ACCOUNTS if a[1] != OWN_UNIT}
    | {OTHER_SITE}
    | {"汉阴农林&lt;script&gt;"}  # the escaped form of the one name with markup
    - {"汉阴农林<script>alert(1)</script>"}
)


@pytest.fixture(autouse=True)
def _no_monitor_env(no_monitor_env: None) -> None:
    pass


def cli(*args: str, stdin: str | None = None, monkeypatch: pytest.MonkeyPatch | None = None) -> int:
    if stdin is not None:
        assert monkeypatch is not None
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return main(list(args))


@dataclass
class World:
    city: City
    client: TestClient
    tokens: dict[str, str]  # user -> API token
    cases: dict[str, int]  # account name -> its case in last month's notice
    sites: dict[str, int]  # website name -> its id

    def db(self) -> str:
        return str(self.city.db)

    def bearer(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}


def add_user(
    db: str, name: str, role: str, *units: str, monkeypatch: Any, password: str = PASSWORD
) -> None:
    flags = [x for u in units for x in ("--unit", u)]
    code = cli(
        "users", "add", name, "--role", role, *flags, "--password-stdin", "--db", db,
        stdin=password + "\n", monkeypatch=monkeypatch,
    )  # fmt: skip
    assert code == 0


def new_token(db: str, name: str, capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    assert cli("users", "token", name, "--db", db) == 0
    token = capsys.readouterr().out.strip()
    assert len(token) >= 40
    return token


@pytest.fixture
def world(tmp_path, monkeypatch, capsys) -> Iterator[World]:
    city = build_city(tmp_path)
    db = str(city.db)
    add_user(db, "edu", "unit", OWN_UNIT, monkeypatch=monkeypatch)
    add_user(db, "office", "office", monkeypatch=monkeypatch)
    add_user(db, "root", "admin", monkeypatch=monkeypatch)
    tokens = {name: new_token(db, name, capsys) for name in ("edu", "office", "root")}
    cases = issue_last_months_notice(db, capsys)
    sites = import_sites(tmp_path, db, capsys)
    with TestClient(create_app(settings_for(TOKEN), city.db, warm=False)) as client:
        yield World(city, client, tokens, cases, sites)


def import_sites(folder: Path, db: str, capsys: pytest.CaptureFixture[str]) -> dict[str, int]:
    """One website of the unit user's unit and one of another unit (never fetched here)."""
    path = folder / "sites.csv"
    path.write_text(SITES_CSV, encoding="utf-8")
    assert cli("sites", "import", str(path), "--db", db) == 0
    capsys.readouterr()
    assert cli("sites", "status", "--json", "--db", db) == 0
    found = {r["name"]: r["id"] for r in json.loads(capsys.readouterr().out)}
    assert set(found) == {OWN_SITE, OTHER_SITE}
    return found


def issue_last_months_notice(db: str, capsys: pytest.CaptureFixture[str]) -> dict[str, int]:
    """Last month's notice as of today: cases of several units, two of them explained."""
    day = today(SH)
    capsys.readouterr()
    notice = ["notice", "issue", "--month", previous_month(day), "--as-of", day.isoformat()]
    assert cli(*notice, "--json", "--db", db) == 0
    assert json.loads(capsys.readouterr().out)["cases"] >= 3
    assert cli("cases", "--json", "--db", db) == 0
    cases = {c["name"]: c["id"] for c in json.loads(capsys.readouterr().out)}
    assert {OWN_ACCOUNT, OTHER_ACCOUNT} <= set(cases)
    # Both explained: a decision (the office's) would close them; a unit user's must not.
    with Store.open(db) as store:
        for name in (OWN_ACCOUNT, OTHER_ACCOUNT):
            respond(store, settings_for(), cases[name], "explained", "已说明", utcnow())
    return cases


def case_state(world: World, case: int) -> tuple[Any, ...]:
    """A case's row, its events and the outbox: what any write to it would change."""
    with sqlite3.connect(world.db()) as conn:
        row = conn.execute("SELECT * FROM cases WHERE id = ?", (case,)).fetchone()
        events = conn.execute("SELECT * FROM case_events WHERE case_id = ?", (case,)).fetchall()
        outbox = conn.execute("SELECT COUNT(*) FROM deliveries").fetchone()[0]
    return row, events, outbox


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF field in the form"
    return found.group(1)


def sign_in(client: TestClient, name: str, password: str = PASSWORD) -> Any:
    token = csrf_of(client.get("/login").text)
    return client.post(
        "/login",
        data={"username": name, "password": password, "csrf_token": token},
        follow_redirects=False,
    )


def session_client(world: World, name: str) -> TestClient:
    """A second browser on the same app, signed in as `name`."""
    c = TestClient(world.client.app)
    r = sign_in(c, name)
    assert r.status_code == 303, r.text
    return c


def observation_count(world: World) -> int:
    with sqlite3.connect(world.db()) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM observations").fetchone()[0])


# -- the route table: how a unit user probes each route with another unit's data ----------------

# (method, path) -> kind. A route missing here fails `test_every_route_has_a_scope_probe`:
# add the route and how a unit user could reach another unit's data through it.
#   list     answers 200 and never names another unit (tried with the filters in LIST_QUERIES)
#   account  another unit's account id is 404, its own 200 (GET) / not 404 (writes)
#   unit     another unit's id is 404, its own 200
#   case     another unit's case id is 404 (read, answer, decision, page, form) and nothing of it
#            changes; its own case 200 (GET), answered (response), 403 (decision: the office's)
#   report   the month's report in every format names no other unit, names its own account
#   body     a write naming the account in its body: another unit's account is 404
#   office   refused to unit users (403): figures across every unit
#   admin    admins only (403 for unit and office users)
#   public   nothing of any unit (sign-in form, icon, API documentation)
#   signin   the sign-in itself (tested below: CSRF, lock-out, fixation, sign-out)
ROUTES: dict[tuple[str, str], str] = {
    ("GET", "/openapi.json"): "public",
    ("GET", "/api/accounts"): "list",
    ("GET", "/api/accounts/{account_id}"): "account",
    ("GET", "/api/units"): "list",
    ("GET", "/api/units/{unit_id}"): "unit",
    ("GET", "/api/alerts"): "list",
    ("GET", "/api/reports/{month}"): "report",
    ("POST", "/api/accounts/{account_id}/check"): "account",
    ("POST", "/api/observations"): "body",
    ("GET", "/healthz"): "list",
    ("GET", "/metrics"): "office",
    ("GET", "/favicon.ico"): "public",
    ("GET", "/"): "list",
    ("GET", "/problems"): "list",
    ("GET", "/units"): "list",
    ("GET", "/units/{unit_id}"): "unit",
    ("GET", "/accounts/{account_id}"): "account",
    ("GET", "/login"): "public",
    ("POST", "/login"): "signin",
    ("POST", "/logout"): "signin",
    ("GET", "/api/audit"): "admin",
    ("MOUNT", "/docs/assets"): "public",
    ("GET", "/docs"): "public",
    ("GET", "/redoc"): "public",
    ("GET", "/api/cases"): "list",
    ("GET", "/api/sites"): "list",
    ("GET", "/api/sites/{site_id}"): "site",
    ("GET", "/sites"): "list",
    ("GET", "/sites/{site_id}"): "site",
    ("GET", "/api/cases/{case_id}"): "case",
    ("POST", "/api/cases/{case_id}/response"): "case",
    ("POST", "/api/cases/{case_id}/decision"): "case",
    ("GET", "/cases"): "list",
    ("GET", "/cases/{case_id}"): "case",
    ("GET", "/units/{unit_id}/cases"): "unit",
    ("POST", "/cases/{case_id}/response"): "case",
    ("POST", "/cases/{case_id}/decision"): "case",
}

# What each case write sends (JSON to the API, a urlencoded form to the pages) and what a
# unit user's write to its own case is answered with.
CASE_WRITES: dict[str, tuple[str, dict[str, str], int]] = {
    "/api/cases/{case_id}/response": ("json", {"action": "explained", "note": "说明"}, 200),
    "/api/cases/{case_id}/decision": ("json", {"decision": "accept", "note": "同意"}, 403),
    "/cases/{case_id}/response": ("data", {"action": "explained", "note": "说明"}, 303),
    "/cases/{case_id}/decision": ("data", {"decision": "accept", "note": "同意"}, 403),
}


def list_queries(city: City) -> list[str]:
    """Filters a unit user might try to reach another unit's rows with."""
    other = city.units[OTHER_UNIT]
    return [
        "",
        f"?unit={other}",
        f"?unit={OTHER_UNIT}",
        "?region=市直部门",
        "?q=安康",
        "?state=zombie",
        "?status=all",
        "?kind=became_zombie",
        "?kind=source_down",
        "?limit=500",
        "?all=true",
        "?status=responded",
        f"?unit={other}&region=市直部门&q=公积金&status=all",
        f"?unit={OTHER_UNIT}&all=true&status=responded",
    ]


def app_routes(app: Any) -> set[tuple[str, str]]:
    """Every route of the app as (method, path); mounts as ("MOUNT", path)."""

    def walk(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, str]]:
        for r in routes:
            if hasattr(r, "original_router"):  # FastAPI keeps included routers lazily
                inner = prefix + getattr(r.include_context, "prefix", "")
                yield from walk(r.original_router.routes, inner)
                continue
            path = prefix + r.path
            methods = getattr(r, "methods", None)
            if not methods:
                yield ("MOUNT", path)
                continue
            for m in methods:
                if m != "HEAD":
                    yield (m, path)

    return set(walk(list(app.routes)))


def test_every_route_has_a_scope_probe(world):
    routes = app_routes(world.client.app)
    missing = sorted(routes - set(ROUTES))
    assert not missing, f"routes without a scope probe in ROUTES: {missing}"
    assert sorted(set(ROUTES) - routes) == []


def foreign_names_in(text: str) -> list[str]:
    return [n for n in FOREIGN_NAMES if n in text]


def report_text(response: Any, fmt: str) -> str:
    if fmt != "xlsx":
        return response.text
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(response.content), read_only=True)
    return "\n".join(
        str(cell) for sheet in book.worksheets for row in sheet.iter_rows(values_only=True)
        for cell in row if cell is not None
    )  # fmt: skip


def probe(world: World, method: str, path: str, kind: str, call: Callable[..., Any]) -> int:
    """Try one route as the unit user; returns how many requests were made."""
    city = world.city
    own_id, other_id = city.ids[OWN_ACCOUNT], city.ids[OTHER_ACCOUNT]
    own_unit, other_unit = city.units[OWN_UNIT], city.units[OTHER_UNIT]
    n = 0
    if kind == "list":
        for query in list_queries(city):
            r = call("GET", path + query)
            n += 1
            assert r.status_code in (200, 422), (path + query, r.status_code)
            assert foreign_names_in(r.text) == [], (path + query, foreign_names_in(r.text))
        if path in (
            "/api/accounts",
            "/api/units",
            "/",
            "/problems",
            "/units",
            "/api/cases",
            "/cases",
            "/api/sites",
            "/sites",
        ):
            assert OWN_UNIT in call("GET", path).text or OWN_ACCOUNT in call("GET", path).text
    elif kind in ("account", "unit"):
        other, own = (other_id, own_id) if kind == "account" else (other_unit, own_unit)
        key = "{account_id}" if kind == "account" else "{unit_id}"
        r = call(method, path.replace(key, str(other)))
        n += 1
        assert r.status_code == 404, (method, path, r.status_code)
        assert foreign_names_in(r.text) == []
        if method == "GET":
            ok = call(method, path.replace(key, str(own)))
            n += 1
            assert ok.status_code == 200 and (OWN_ACCOUNT in ok.text or OWN_UNIT in ok.text)
    elif kind == "site":
        own_site, other_site = world.sites[OWN_SITE], world.sites[OTHER_SITE]
        r = call(method, path.replace("{site_id}", str(other_site)))
        n += 1
        assert r.status_code == 404, (method, path, r.status_code)
        assert foreign_names_in(r.text) == []
        ok = call(method, path.replace("{site_id}", str(own_site)))
        n += 1
        assert ok.status_code == 200 and OWN_SITE in ok.text, (path, ok.status_code)
    elif kind == "case":
        own_case, other_case = world.cases[OWN_ACCOUNT], world.cases[OTHER_ACCOUNT]
        body: dict[str, Any] = {}
        expected = 200
        if method == "POST":
            how, fields, expected = CASE_WRITES[path]
            body = {how: fields, "follow_redirects": False}
        before = case_state(world, other_case)
        r = call(method, path.replace("{case_id}", str(other_case)), **body)
        n += 1
        assert r.status_code == 404, (method, path, r.status_code, r.text[:200])
        assert foreign_names_in(r.text) == []
        assert case_state(world, other_case) == before
        own_before = case_state(world, own_case)
        ok = call(method, path.replace("{case_id}", str(own_case)), **body)
        n += 1
        assert ok.status_code == expected, (method, path, ok.status_code, ok.text[:200])
        if method == "GET":
            assert OWN_ACCOUNT in ok.text and foreign_names_in(ok.text) == []
        elif expected == 403:  # the office's decision: nothing of the case changes
            assert case_state(world, own_case) == own_before
        else:
            assert case_state(world, own_case) != own_before  # the answer is recorded
    elif kind == "report":
        month = month_of(today(SH))
        for fmt in ("json", "csv", "html", "md", "xlsx"):
            r = call("GET", path.replace("{month}", month) + f"?format={fmt}")
            n += 1
            assert r.status_code == 200, (fmt, r.status_code, r.text[:200])
            text = report_text(r, fmt)
            assert foreign_names_in(text) == [], (fmt, foreign_names_in(text))
            assert OWN_ACCOUNT in text, fmt  # suspended: a row of the check result
            if fmt == "json":  # 整改情况 of last month's notice: its own case only
                rect = r.json()["rectification"]
                assert [c["name"] for c in rect["cases"]] == [OWN_ACCOUNT]
                assert rect["repeated"] == [{"account": city.ids[OWN_ACCOUNT], "months": 2}]
            elif fmt != "csv":  # the detail table alone has no 整改情况
                assert "整改情况" in text and "连续 2 个月" in text, fmt
    elif kind == "body":
        before = observation_count(world)
        other_view = next(a for a in ACCOUNTS if a[3] == OTHER_ACCOUNT)
        for account in (str(other_id), OTHER_ACCOUNT, f"{other_view[2]}:{other_view[4]}"):
            r = call(method, path, json={"account": account, "no_content": True})
            n += 1
            assert r.status_code == 404, (account, r.status_code, r.text)
            # The answer may echo what was asked, nothing more.
            assert foreign_names_in(r.text.replace(account, "")) == [], r.text
        assert observation_count(world) == before
    elif kind == "office":
        r = call(method, path)
        n += 1
        assert r.status_code == 403 and foreign_names_in(r.text) == []
    elif kind == "admin":
        r = call(method, path)
        n += 1
        assert r.status_code == 403
    elif kind == "public":
        target = path + "/swagger-ui.css" if method == "MOUNT" else path
        r = call("GET", target)
        n += 1
        assert r.status_code in (200, 404) and foreign_names_in(r.text) == []
    else:
        assert kind == "signin"  # exercised by the sign-in tests below
    return n


@pytest.mark.parametrize("how", ["token", "session"])
def test_a_unit_user_never_sees_or_changes_another_units_data_through_any_route(world, how):
    if how == "token":
        headers = world.bearer("edu")

        def call(method: str, path: str, **kw: Any) -> Any:
            return world.client.request(method, path, headers=headers, **kw)

    else:
        browser = session_client(world, "edu")
        token = csrf_of(browser.get("/").text)

        def call(method: str, path: str, **kw: Any) -> Any:
            extra = {"X-CSRF-Token": token} if method not in ("GET", "HEAD") else {}
            return browser.request(method, path, headers=extra, **kw)

    requests = 0
    for (method, path), kind in sorted(ROUTES.items()):
        requests += probe(world, method, path, kind, call)
    print(f"\nscope probes ({how}): {len(ROUTES)} routes, {requests} requests")
    assert requests > 60


def test_office_and_admin_see_every_unit(world):
    for user in ("office", "root"):
        headers = world.bearer(user)
        accounts = world.client.get("/api/accounts", headers=headers).json()
        assert accounts["total"] == len(ACCOUNTS)
        alerts = world.client.get("/api/alerts", headers=headers).json()
        assert OTHER_ACCOUNT in json.dumps(alerts, ensure_ascii=False)
        other = world.city.ids[OTHER_ACCOUNT]
        assert world.client.get(f"/api/accounts/{other}", headers=headers).status_code == 200
        assert world.client.get("/metrics", headers=headers).status_code == 200
    # The probes' foreign names are really in what an office user is given.
    page = world.client.get("/problems", headers=world.bearer("office")).text
    assert OTHER_ACCOUNT in page
    office = world.bearer("office")
    cases = world.client.get("/api/cases", headers=office).json()
    assert cases["total"] == len(world.cases) and OTHER_UNIT in {c["unit"] for c in cases["items"]}
    assert OTHER_ACCOUNT in world.client.get("/cases", headers=office).text
    other_case = world.cases[OTHER_ACCOUNT]
    assert world.client.get(f"/cases/{other_case}", headers=office).status_code == 200
    month = month_of(today(SH))
    report = world.client.get(f"/api/reports/{month}?format=json", headers=office).json()
    assert OTHER_ACCOUNT in {c["name"] for c in report["rectification"]["cases"]}


def test_the_unit_user_can_write_for_its_own_accounts(world):
    r = world.client.post(
        "/api/observations",
        json={"account": OWN_ACCOUNT, "latest_post": date.today().isoformat()},
        headers=world.bearer("edu"),
    )
    assert r.status_code == 201, r.text
    assert r.json()["verdict"]["name"] == OWN_ACCOUNT


def test_only_admins_read_the_audit_log(world):
    assert world.client.get("/api/audit", headers=world.bearer("office")).status_code == 403
    assert world.client.get("/api/audit", headers=world.bearer("root")).status_code == 200
    as_token = world.client.get("/api/audit", headers={"Authorization": f"Bearer {TOKEN}"})
    assert as_token.status_code == 200  # api.token keeps working, as an admin


# -- sign-in ---------------------------------------------------------------------------------------


def test_sign_in_gives_a_signed_httponly_samesite_session_and_sign_out_ends_it(world):
    c = TestClient(world.client.app)
    assert c.get("/", follow_redirects=False).headers["location"] == "/login"
    r = sign_in(c, "edu")
    assert r.status_code == 303 and r.headers["location"] == "/"
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
    value = c.cookies[SESSION_COOKIE]
    assert "." in value  # id.signature
    page = c.get("/")
    assert page.status_code == 200 and "退出登录" in page.text
    # A tampered signature is no session.
    forged = TestClient(world.client.app, cookies={SESSION_COOKIE: value[:-2] + "00"})
    assert forged.get("/api/accounts").status_code == 401
    # Sign out (the form carries the CSRF token): the server forgets the session.
    out = c.post("/logout", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False)
    assert out.status_code == 303
    replay = TestClient(world.client.app, cookies={SESSION_COOKIE: value})
    assert replay.get("/api/accounts").status_code == 401
    assert replay.get("/", follow_redirects=False).status_code == 303


def test_a_wrong_password_and_an_unknown_name_get_the_same_answer(world):
    c = TestClient(world.client.app)
    wrong = sign_in(c, "edu", "not the password")
    unknown = sign_in(c, "nobody", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    assert "用户名或密码不正确" in wrong.text and "用户名或密码不正确" in unknown.text
    assert SESSION_COOKIE not in c.cookies


def test_a_new_session_id_at_every_sign_in_session_fixation(world):
    c = TestClient(world.client.app)
    # An attacker plants a session cookie of their own (forged, or their real one).
    c.cookies.set(SESSION_COOKIE, "planted.0000", domain="testserver.local")
    assert sign_in(c, "edu").status_code == 303
    first = c.cookies[SESSION_COOKIE]
    assert first != "planted.0000"
    # Signing in again, even as someone else, replaces the session; the old id is dead.
    token = csrf_of(c.get("/").text)
    r = c.post(
        "/login",
        data={"username": "office", "password": PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    assert r.status_code == 303
    second = c.cookies[SESSION_COOKIE]
    assert second != first
    old = TestClient(world.client.app, cookies={SESSION_COOKIE: first})
    assert old.get("/api/accounts").status_code == 401
    assert c.get("/api/accounts").json()["total"] == len(ACCOUNTS)  # now the office's


def test_every_form_needs_its_csrf_token(world):
    c = TestClient(world.client.app)
    c.get("/login")  # the pre-sign-in CSRF cookie
    for data in (
        {"username": "edu", "password": PASSWORD},
        {"username": "edu", "password": PASSWORD, "csrf_token": "guessed"},
    ):
        r = c.post("/login", data=data, follow_redirects=False)
        assert r.status_code == 403
        assert SESSION_COOKIE not in c.cookies
    # Another browser's token does not fit this browser's cookie.
    other = TestClient(world.client.app)
    theirs = csrf_of(other.get("/login").text)
    r = c.post(
        "/login",
        data={"username": "edu", "password": PASSWORD, "csrf_token": theirs},
        follow_redirects=False,
    )
    assert r.status_code == 403
    # Signed in: a write through the cookie without the token is refused and changes nothing.
    browser = session_client(world, "edu")
    before = observation_count(world)
    body = {"account": OWN_ACCOUNT, "no_content": True}
    assert browser.post("/api/observations", json=body).status_code == 403
    wrong = {"X-CSRF-Token": "nope"}
    assert browser.post("/api/observations", json=body, headers=wrong).status_code == 403
    assert browser.post("/logout", data={}, follow_redirects=False).status_code == 403
    assert observation_count(world) == before
    token = csrf_of(browser.get("/").text)
    ok = browser.post("/api/observations", json=body, headers={"X-CSRF-Token": token})
    assert ok.status_code == 201
    assert browser.get("/api/accounts").status_code == 200  # the failed sign-out ended nothing


def test_repeated_failures_lock_the_name_and_then_the_address(world):
    c = TestClient(world.client.app)
    answers = [sign_in(c, "edu", f"guess {i}").status_code for i in range(LOCK_AFTER)]
    assert answers == [401] * (LOCK_AFTER - 1) + [429]
    # Locked: even the right password is refused, without a session.
    right = sign_in(c, "edu")
    assert right.status_code == 429 and "锁定" in right.text
    assert SESSION_COOKIE not in c.cookies
    # Another name from the same address still signs in.
    assert sign_in(TestClient(world.client.app), "office").status_code == 303
    # The lock ends with its time (moved into the past here), and so does the count.
    with sqlite3.connect(world.db()) as conn:
        conn.execute("UPDATE login_failures SET locked_until = '2000-01-01T00:00:00.000000+00:00'")
    assert sign_in(c, "edu").status_code == 303


def test_one_address_trying_many_names_is_locked_as_a_whole(world):
    spray = TestClient(world.client.app)
    codes = [sign_in(spray, f"name{i}", "x").status_code for i in range(LOCK_ADDRESS_AFTER)]
    assert codes == [401] * (LOCK_ADDRESS_AFTER - 1) + [429]
    # From that address, no name signs in until the lock ends.
    assert sign_in(TestClient(world.client.app), "root").status_code == 429


def test_a_disabled_user_loses_its_session_and_token_at_once(world, capsys):
    browser = session_client(world, "edu")
    assert browser.get("/api/accounts").status_code == 200
    assert world.client.get("/api/accounts", headers=world.bearer("edu")).status_code == 200
    assert cli("users", "disable", "edu", "--db", world.db()) == 0
    assert browser.get("/api/accounts").status_code == 401
    assert world.client.get("/api/accounts", headers=world.bearer("edu")).status_code == 401
    assert sign_in(TestClient(world.client.app), "edu").status_code == 401


def test_with_users_and_no_api_token_nothing_is_open(tmp_path, monkeypatch):
    city = build_city(tmp_path)
    with TestClient(create_app(settings_for(), city.db, warm=False)) as c:
        assert c.get("/api/accounts").status_code == 200  # no users yet: open reads, as before
        add_user(str(city.db), "edu", "unit", OWN_UNIT, monkeypatch=monkeypatch)
        assert c.get("/api/accounts").status_code == 401
        assert c.get("/problems", follow_redirects=False).headers["location"] == "/login"
        assert c.post("/api/observations", json={"account": "1"}).status_code == 401
        assert sign_in(c, "edu").status_code == 303
        assert c.get("/api/accounts").json()["total"] == 1


# -- the case pages' forms from a signed-in browser -------------------------------------------------


def audit_entries(world: World) -> list[tuple[str, str, str, int, str | None]]:
    admin = {"Authorization": f"Bearer {TOKEN}"}
    items = world.client.get("/api/audit?limit=200", headers=admin).json()["items"]
    return [(e["who"], e["role"], e["action"], e["status"], e["detail"].get("note")) for e in items]


def test_the_case_forms_work_from_a_signed_in_browser_with_the_pages_csrf_token(world):
    own, other = world.cases[OWN_ACCOUNT], world.cases[OTHER_ACCOUNT]
    browser = session_client(world, "edu")
    page = browser.get(f"/cases/{own}")
    assert page.status_code == 200 and f'action="/cases/{own}/response"' in page.text
    token = csrf_of(page.text)
    answer = {"action": "resumed", "note": "已恢复更新"}
    before = case_state(world, own)
    # Without the token, with a wrong one, with another browser's: refused, nothing written.
    theirs = csrf_of(session_client(world, "office").get("/").text)
    for extra in ({}, {"csrf_token": "guessed"}, {"csrf_token": theirs}):
        r = browser.post(f"/cases/{own}/response", data={**answer, **extra}, follow_redirects=False)
        assert r.status_code == 403, (extra, r.status_code)
        assert case_state(world, own) == before
    ok = browser.post(
        f"/cases/{own}/response", data={**answer, "csrf_token": token}, follow_redirects=False
    )
    assert ok.status_code == 303 and ok.headers["location"] == f"/cases/{own}"
    assert "已恢复更新" in browser.get(f"/cases/{own}").text
    stored = world.client.get(f"/api/cases/{own}", headers=world.bearer("edu")).json()
    assert (stored["status"], stored["response"], stored["response_note"]) == (
        "responded", "resumed", "已恢复更新",
    )  # fmt: skip
    # The unit's page has no decision form, and the form's URL refuses it with its token.
    assert f'action="/cases/{own}/decision"' not in browser.get(f"/cases/{own}").text
    refused = browser.post(
        f"/cases/{own}/decision",
        data={"decision": "accept", "csrf_token": token},
        follow_redirects=False,
    )
    assert refused.status_code == 403 and case_state(world, own) != before
    # The office decides on the other unit's explanation through its page's form.
    office = session_client(world, "office")
    page = office.get(f"/cases/{other}")
    assert f'action="/cases/{other}/decision"' in page.text
    decision = {"decision": "accept", "note": "同意"}
    waiting = case_state(world, other)
    assert office.post(f"/cases/{other}/decision", data=decision).status_code == 403
    assert case_state(world, other) == waiting
    done = office.post(
        f"/cases/{other}/decision",
        data={**decision, "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert done.status_code == 303
    decided = world.client.get(f"/api/cases/{other}", headers=world.bearer("office")).json()
    assert (decided["status"], decided["decision"]) == ("accepted", "accept")
    # Every one of these writes is in the audit log, the refused ones with why.
    seen = audit_entries(world)
    csrf_note = "refused: CSRF token missing or wrong"
    assert seen.count(("edu", "unit", f"POST /cases/{own}/response", 403, csrf_note)) == 3
    assert ("edu", "unit", f"POST /cases/{own}/response", 303, None) in seen
    assert ("edu", "unit", f"POST /cases/{own}/decision", 403, None) in seen
    assert ("office", "office", f"POST /cases/{other}/decision", 403, csrf_note) in seen
    assert ("office", "office", f"POST /cases/{other}/decision", 303, None) in seen


def test_case_answers_and_decisions_through_the_api_are_audited(world):
    own, other = world.cases[OWN_ACCOUNT], world.cases[OTHER_ACCOUNT]
    edu, office = world.bearer("edu"), world.bearer("office")
    answer = {"action": "cancel_requested", "note": "申请注销"}
    assert (
        world.client.post(f"/api/cases/{own}/response", json=answer, headers=edu).status_code == 200
    )
    assert (
        world.client.post(f"/api/cases/{other}/response", json=answer, headers=edu).status_code
        == 404
    )
    decision = {"decision": "reject", "note": "继续整改"}
    assert (
        world.client.post(f"/api/cases/{own}/decision", json=decision, headers=edu).status_code
        == 403
    )
    assert (
        world.client.post(f"/api/cases/{other}/decision", json=decision, headers=office).status_code
        == 200
    )
    seen = audit_entries(world)
    assert ("edu", "unit", f"POST /api/cases/{own}/response", 200, None) in seen
    assert ("edu", "unit", f"POST /api/cases/{other}/response", 404, None) in seen
    assert ("edu", "unit", f"POST /api/cases/{own}/decision", 403, None) in seen
    assert ("office", "office", f"POST /api/cases/{other}/decision", 200, None) in seen
    assert world.client.get(f"/api/cases/{other}", headers=office).json()["status"] == "open"


# -- the audit log ---------------------------------------------------------------------------------


def test_every_write_is_audited_with_who_when_what_and_where(world, capsys):
    own, other = world.city.ids[OWN_ACCOUNT], world.city.ids[OTHER_ACCOUNT]
    body = {"account": str(own), "no_content": True}
    assert (
        world.client.post("/api/observations", json=body, headers=world.bearer("edu")).status_code
        == 201
    )
    refused = world.client.post(f"/api/accounts/{other}/check", headers=world.bearer("edu"))
    assert refused.status_code == 404
    admin = {"Authorization": f"Bearer {TOKEN}"}
    assert world.client.post("/api/observations", json=body, headers=admin).status_code == 201
    browser = session_client(world, "office")
    assert browser.post("/api/observations", json=body).status_code == 403  # no CSRF token
    sign_in(TestClient(world.client.app), "edu", "wrong password")
    entries = world.client.get("/api/audit?limit=50", headers=admin).json()["items"]
    seen = [(e["who"], e["role"], e["action"], e["status"]) for e in entries]
    assert ("edu", "unit", "POST /api/observations", 201) in seen
    assert ("edu", "unit", f"POST /api/accounts/{other}/check", 404) in seen
    assert ("api.token", "admin", "POST /api/observations", 201) in seen
    assert ("office", "office", "POST /api/observations", 403) in seen
    assert ("office", "office", "POST /login", 303) in seen
    failed = next(e for e in entries if e["action"] == "POST /login" and e["status"] == 401)
    assert failed["who"] == "-" and "edu" in failed["detail"]["note"]
    web = [e for e in entries if e["role"] != "cli"]
    assert web and all(e["address"] == "testclient" and e["at"] for e in web)
    # Reads are not writes: none of them is in the log.
    assert not [e for e in entries if e["action"].startswith("GET ")]
    # The CLI's writes are there too, and `monitor audit --json` shows the same log.
    capsys.readouterr()
    assert cli("audit", "--json", "--limit", "1000", "--db", world.db()) == 0
    logged = json.loads(capsys.readouterr().out)
    actions = [e["action"] for e in logged]
    assert actions.count("users add") == 3 and actions.count("users token") == 3
    assert {e["action"] for e in logged} >= {"POST /api/observations", "POST /login"}
    assert all(e["who"].startswith("cli") for e in logged if e["action"].startswith("users"))


# -- monitor users -----------------------------------------------------------------------------------


def test_users_list_json_shows_roles_and_units_but_never_a_hash(world, capsys):
    capsys.readouterr()
    assert cli("users", "list", "--json", "--db", world.db()) == 0
    out = capsys.readouterr().out
    users = {u["name"]: u for u in json.loads(out)}
    assert users["edu"]["role"] == "unit" and users["edu"]["units"] == [OWN_UNIT]
    assert users["office"]["units"] == [] and users["root"]["role"] == "admin"
    assert all(u["has_password"] and u["has_token"] and u["active"] for u in users.values())
    assert "argon2" not in out and not any(t in out for t in world.tokens.values())
    with sqlite3.connect(world.db()) as conn:
        stored = "\n".join(str(r) for r in conn.execute("SELECT * FROM api_tokens"))
        hashes = [r[0] for r in conn.execute("SELECT password_hash FROM users")]
    assert not any(t in stored for t in world.tokens.values())  # digests only
    assert all(h.startswith("$argon2id$") and PASSWORD not in h for h in hashes)


def test_a_new_token_replaces_the_old_one(world, capsys):
    old = world.bearer("edu")
    fresh = new_token(world.db(), "edu", capsys)
    assert world.client.get("/api/accounts", headers=old).status_code == 401
    ok = world.client.get("/api/accounts", headers={"Authorization": f"Bearer {fresh}"})
    assert ok.json()["total"] == 1


@pytest.mark.parametrize(
    ("args", "stdin", "code", "message"),
    [
        (["x", "--role", "unit"], None, 2, "at least one --unit"),
        (["x", "--role", "chief"], None, 2, "not one of admin, office, unit"),
        (["x", "--role", "office", "--unit", OWN_UNIT], None, 2, "only unit users"),
        (
            ["x", "--role", "unit", "--unit", "不存在的单位"],
            None,
            1,
            "no unit named '不存在的单位'",
        ),
        (["x", "--role", "office", "--password-stdin"], "short\n", 2, "at least 10 characters"),
        (["edu", "--role", "office"], None, 1, "exists already"),
    ],
)
def test_users_add_refuses_bad_input_with_a_clear_message(
    world, capsys, monkeypatch, args, stdin, code, message
):
    capsys.readouterr()
    got = cli("users", "add", *args, "--db", world.db(), stdin=stdin, monkeypatch=monkeypatch)
    assert got == code
    assert message in capsys.readouterr().err


def test_users_commands_name_unknown_users(world, capsys):
    capsys.readouterr()
    assert cli("users", "disable", "nobody", "--db", world.db()) == 1
    assert cli("users", "token", "nobody", "--db", world.db()) == 1
    assert "no user named 'nobody'" in capsys.readouterr().err


def test_a_user_of_two_units_sees_both_and_nothing_else(world, monkeypatch, capsys):
    stats = "石泉县统计局"
    add_user(world.db(), "two", "unit", OWN_UNIT, stats, monkeypatch=monkeypatch)
    headers = {"Authorization": f"Bearer {new_token(world.db(), 'two', capsys)}"}

    def names(query: str) -> list[str]:
        body = world.client.get(f"/api/accounts{query}", headers=headers).json()
        assert body["total"] == len(body["items"])
        return sorted(i["name"] for i in body["items"])

    assert names("") == sorted([OWN_ACCOUNT, "石泉统计"])
    assert names("?state=suspended") == [OWN_ACCOUNT]
    assert names(f"?unit={world.city.units[stats]}") == ["石泉统计"]
    assert names(f"?unit={world.city.units[OTHER_UNIT]}") == []
    assert names("?region=市直部门") == []
    units = world.client.get("/api/units", headers=headers).json()
    assert sorted(u["name"] for u in units["items"]) == sorted([OWN_UNIT, stats])
    page = world.client.get("/problems", headers=headers).text
    assert (
        "石泉统计" in page
        and foreign_names_in(page.replace("石泉统计", "").replace(stats, "")) == []
    )


def test_a_new_write_route_is_audited_without_code_of_its_own(tmp_path):
    city = build_city(tmp_path)
    app = create_app(settings_for(TOKEN), city.db, warm=False)

    def poke() -> dict[str, bool]:
        return {"ok": True}

    app.add_api_route("/api/poke", poke, methods=["POST", "DELETE"])
    with TestClient(app) as c:
        admin = {"Authorization": f"Bearer {TOKEN}"}
        assert c.post("/api/poke?x=1", headers=admin).status_code == 200
        assert c.delete("/api/poke").status_code == 401
        entries = c.get("/api/audit", headers=admin).json()["items"]
    seen = [(e["who"], e["action"], e["status"], e["detail"].get("query")) for e in entries]
    assert seen == [
        ("-", "DELETE /api/poke", 401, None),
        ("api.token", "POST /api/poke", 200, "x=1"),
    ]


def test_a_session_ends_when_it_expires(world):
    browser = session_client(world, "edu")
    assert browser.get("/api/accounts").status_code == 200
    with sqlite3.connect(world.db()) as conn:
        conn.execute("UPDATE sessions SET expires_at = '2000-01-01T00:00:00.000000+00:00'")
    assert browser.get("/api/accounts").status_code == 401
    assert browser.get("/", follow_redirects=False).headers["location"] == "/login"
