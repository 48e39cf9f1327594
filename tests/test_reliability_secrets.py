"""Reliability: canary secrets never leave the environment.

Six canaries, each configured the way the README says secrets are configured:

- the WeChat AppSecret, in the env var the roster's `secret_env` names (the simulator
  is started with it as its real AppSecret, so WeChat checks succeed with it);
- a wrong AppSecret (the error run: every WeChat check fails with 40125);
- the Weibo visitor cookie, `MONITOR_WEIBO__COOKIE`;
- the API token, `MONITOR_API__TOKEN`;
- an SMTP password inside a `mailto://` URL and a password inside a `json://` URL,
  both in `MONITOR_NOTIFY__OPERATORS`, pointing at loopback receivers.

A demo-like run: `monitor simulate --scenario F --ready-file R` (a generated city with
a few faults: login walls, malformed bodies, HTTP 500s), `import`, `check --all` (table
and JSON), `run --once` delivering through both channels, `status/alerts/accounts/units
--json`, `config check`, `healthcheck`, a report in every format, `monitor serve` with
every GET endpoint (JSON, reports in every format, /healthz, /metrics, /openapi.json,
/docs, every dashboard page, the `?token=` login) and the write endpoints. Then an
error run: the wrong AppSecret, the SMTP server refusing (421), the json:// channel
pointing at a closed port, a malformed `MONITOR_NOTIFY__OPERATORS` for `config check`,
`check --all` and `run --once` again (failed checks, failed deliveries logged), and a
report again. Last, the API in-process with Python logging captured at INFO, the
level `monitor run` configures (the test client's own httpx request lines, which
carry the `?token=` the test itself sends, are left out).

None of the canaries may appear in: any row of the database (`iterdump`), any line
of stdout/stderr of any monitor subprocess or any Python log record, any API response
(body and headers), any report file, any file in the working folder (xlsx and other
zip files are searched member by member; the SQLite file, WAL and SHM byte by byte).
The simulator (the fake platform, which must know the AppSecret) and its ready file
live outside the working folder and are not searched. The number of places searched
is printed (`-s`) for RELIABILITY.md.

Reproduce: /work/venv/bin/python -m pytest tests/test_reliability_secrets.py -q -s
"""

from __future__ import annotations

import io
import json
import logging
import os
import socket
import sqlite3
import subprocess
import sys
import time
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from simulated_city import read_ready, start_simulator_process
from test_notify import HttpReceiver, SmtpReceiver

from monitor.api import create_app
from monitor.settings import load_settings
from monitor.simulator import generate_city, load_scenario, write_roster

ROOT = Path(__file__).resolve().parent.parent
APPSECRET = "CANARY-APPSECRET-7f3a"
WRONG_APPSECRET = "CANARY-WRONGSECRET-51d2"
COOKIE = "SUB=CANARY-WEIBOCOOKIE-c40b"
TOKEN = "CANARY-APITOKEN-e9a1"
SMTP_PASSWORD = "CANARY-SMTPPASS-3b77"
JSON_PASSWORD = "CANARY-JSONPASS-a86d"
CANARIES = (APPSECRET, WRONG_APPSECRET, COOKIE.removeprefix("SUB="), TOKEN, SMTP_PASSWORD)
CANARIES += (JSON_PASSWORD,)
REPORT_FORMATS = ("xlsx", "csv", "md", "html", "json")


# -- what is searched -----------------------------------------------------------------------------


@dataclass
class Evidence:
    """Everything the monitor produced, by kind; `scan` counts the places searched."""

    outputs: list[tuple[str, str]] = field(default_factory=list)  # (what, text)
    responses: list[tuple[str, bytes]] = field(default_factory=list)
    searched: Counter[str] = field(default_factory=Counter)
    leaks: list[str] = field(default_factory=list)

    def look(self, kind: str, where: str, data: bytes | str) -> None:
        raw = data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data
        self.searched[kind] += 1
        for canary in CANARIES:
            if canary.encode() in raw:
                self.leaks.append(f"{canary} in {kind}: {where}")


def look_in_file(ev: Evidence, kind: str, path: Path) -> None:
    data = path.read_bytes()
    ev.look(kind, str(path), data)
    if zipfile.is_zipfile(io.BytesIO(data)):  # xlsx: the text is inside compressed members
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            for member in z.namelist():
                ev.look(kind + " (zip member)", f"{path}!{member}", z.read(member))


# -- loopback receivers ------------------------------------------------------------------------


class AuthSmtpReceiver(SmtpReceiver):
    """test_notify's SMTP server offering AUTH PLAIN, so apprise logs in with the password."""

    def __init__(self) -> None:
        super().__init__(auth=True)

    @property
    def url(self) -> str:
        return (
            f"mailto://monitor:{SMTP_PASSWORD}@127.0.0.1:{self.port}"
            "?from=monitor@example.com&to=ops@example.com&mode=insecure"
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- the run ------------------------------------------------------------------------------------


@dataclass
class Site:
    work: Path  # the monitor's working folder: config, database, reports
    env: dict[str, str]
    smtp: AuthSmtpReceiver
    http: HttpReceiver
    roster: Path
    ev: Evidence


def make_scenario(folder: Path) -> Path:
    city = generate_city(60, seed=5)
    accounts = list(city.accounts)
    faults = iter(["login_wall", "login_wall", "malformed", "http_500", "login_wall"])
    for i, account in enumerate(accounts):
        if account.platform in ("weibo", "wechat") and account.fault is None and i % 7 == 3:
            fault = next(faults, None)
            if fault is None:
                break
            accounts[i] = account.model_copy(update={"fault": fault})
    path = folder / "city.json"
    city.model_copy(update={"accounts": accounts, "wechat_secret": APPSECRET}).save(path)
    return path


@pytest.fixture
def site(tmp_path, monkeypatch):
    for key in list(os.environ):
        if key.startswith("MONITOR_"):
            monkeypatch.delenv(key)
    sim_dir, work = tmp_path / "simulator", tmp_path / "work"
    sim_dir.mkdir()
    work.mkdir()
    scenario = make_scenario(sim_dir)
    ready = sim_dir / "sim.env"
    base = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    base["PYTHONPATH"] = str(ROOT)
    sim = start_simulator_process(scenario, ready, cwd=sim_dir, env=base)
    smtp, http = AuthSmtpReceiver(), HttpReceiver()
    try:
        sim_env = read_ready(ready, sim)
        assert sim_env["SIM_WECHAT_SECRET"] == APPSECRET
        roster = sim_dir / "city.csv"
        write_roster(load_scenario(scenario), roster, sim_env["MONITOR_WEIBO__BASE_URL"])
        (work / "monitor.toml").write_text(
            'database = "monitor.db"\n'
            "[http]\ntimeout_s = 3\n"
            "[schedule]\ninterval_h = 0.0001\njitter_s = 0\n"
            '[reports]\nfolder = "daemon-reports"\n',
            encoding="utf-8",
        )
        json_url = f"json://monitor:{JSON_PASSWORD}@127.0.0.1:{http.port}/hook"
        env = base | sim_env
        env |= {
            "MONITOR_CONFIG": str(work / "monitor.toml"),
            "MONITOR_WEIBO__COOKIE": COOKIE,
            "MONITOR_API__TOKEN": TOKEN,
            "MONITOR_NOTIFY__OPERATORS": json.dumps([smtp.url, json_url]),
        }
        yield Site(work, env, smtp, http, roster, Evidence())
    finally:
        smtp.close()
        http.close()
        sim.terminate()
        sim.wait(timeout=10)


def cli(site: Site, *args: str, env: dict[str, str] | None = None, ok: bool = True) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        env=env or site.env,
        cwd=site.work,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    site.ev.outputs.append((f"monitor {' '.join(args)} (stdout)", proc.stdout))
    site.ev.outputs.append((f"monitor {' '.join(args)} (stderr)", proc.stderr))
    if ok:
        assert proc.returncode == 0, (args, proc.stderr[-3000:])
    return proc.stdout + proc.stderr


def reports(site: Site, label: str) -> None:
    for fmt in REPORT_FORMATS:
        out = site.work / "reports" / f"{label}.{fmt}"
        out.parent.mkdir(exist_ok=True)
        cli(site, "report", "--format", fmt, "-o", str(out))
        assert out.stat().st_size > 0
    cli(site, "report", "--format", "md", "--lang", "en")


def api_paths(db: Path) -> list[str]:
    conn = sqlite3.connect(db)
    try:
        accounts = [r[0] for r in conn.execute("SELECT id FROM accounts ORDER BY id LIMIT 8")]
        units = [r[0] for r in conn.execute("SELECT id FROM units ORDER BY id LIMIT 4")]
    finally:
        conn.close()
    month = time.strftime("%Y-%m")
    paths = ["/api/accounts?limit=500", "/api/units", "/api/alerts?status=all"]
    paths += ["/api/alerts", "/healthz", "/metrics", "/openapi.json", "/docs"]
    paths += ["/", "/problems", "/problems?state=unknown", "/units"]
    paths += [f"/api/accounts/{a}?observations=500" for a in accounts]
    paths += [f"/accounts/{a}" for a in accounts]
    paths += [f"/api/units/{u}" for u in units] + [f"/units/{u}" for u in units]
    paths += [f"/api/reports/{month}?format={f}" for f in REPORT_FORMATS]
    paths += [f"/api/reports/{month}?format=md&lang=en"]
    return paths


def record(site: Site, what: str, response: httpx.Response) -> None:
    headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items())
    site.ev.responses.append((what, headers.encode() + b"\n\n" + response.content))


def exercise_api(site: Site, client: httpx.Client | TestClient, label: str) -> None:
    """Every GET endpoint with the bearer, the dashboard login, the write endpoints, and
    requests with a wrong token."""
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    db = site.work / "monitor.db"
    for path in api_paths(db):
        r = client.get(path, headers=bearer)
        assert r.status_code == 200, (path, r.status_code, r.text[:300])
        record(site, f"{label} GET {path}", r)
    login = client.get(f"/problems?token={TOKEN}&state=zombie", follow_redirects=False)
    assert login.status_code == 303, login.text
    record(site, f"{label} GET /problems?token=...", login)
    cookie = login.headers["set-cookie"].split(";")[0]
    for path in ("/", "/problems?state=zombie", "/api/accounts"):
        r = client.get(path, headers={"Cookie": cookie})
        assert r.status_code == 200, path
        record(site, f"{label} GET {path} (cookie)", r)
    conn = sqlite3.connect(db)
    try:
        targets = [
            conn.execute(f"SELECT id FROM accounts WHERE platform = '{p}' LIMIT 1").fetchone()[0]
            for p in ("weibo", "wechat")
        ]
        identity = conn.execute(
            "SELECT platform || ':' || account_id FROM accounts WHERE platform = 'weibo' LIMIT 1"
        ).fetchone()[0]
    finally:
        conn.close()
    for account in targets:
        r = client.post(f"/api/accounts/{account}/check", headers=bearer)
        assert r.status_code == 200, r.text
        record(site, f"{label} POST /api/accounts/{account}/check", r)
    r = client.post(
        "/api/observations",
        headers=bearer,
        json={"account": identity, "latest_post": "2020-02-18", "note": "manual"},
    )
    assert r.status_code == 201, r.text
    record(site, f"{label} POST /api/observations", r)
    for headers in ({}, {"Authorization": f"Bearer {TOKEN}x"}, {"Cookie": cookie}):
        r = client.post(f"/api/accounts/{targets[0]}/check", headers=headers)
        assert r.status_code == 401
        record(site, f"{label} POST refused", r)
    r = client.get(f"/api/accounts?token={TOKEN[:-1]}")
    assert r.status_code == 401
    record(site, f"{label} GET wrong ?token=", r)


def serve_and_exercise(site: Site) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=site.env,
        cwd=site.work,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            deadline = time.monotonic() + 30
            while True:
                assert proc.poll() is None, proc.communicate()
                try:
                    client.get("/healthz")
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, "monitor serve never answered"
                    time.sleep(0.1)
            exercise_api(site, client, "serve")
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=30)
        site.ev.outputs.append(("monitor serve (stdout)", out))
        site.ev.outputs.append(("monitor serve (stderr)", err))
    assert "GET /problems?token=***" in err or "token=***" in err, err[-2000:]


def test_canary_secrets_appear_in_no_row_log_response_report_or_file(site, monkeypatch):
    ev, work = site.ev, site.work

    # -- the demo-like run ---------------------------------------------------------------------
    cli(site, "import", str(site.roster))
    cli(site, "check", "--all")
    cli(site, "check", "--all", "--json")
    out = cli(site, "run", "--once")
    assert site.smtp.logins >= 1 and site.smtp.messages, out[-2000:]
    assert site.http.bodies, out[-2000:]
    for listing in ("status", "alerts", "accounts", "units"):
        cli(site, listing, "--json")
    cli(site, "status")
    cli(site, "config", "check")
    cli(site, "healthcheck")
    reports(site, "ok")
    serve_and_exercise(site)

    conn = sqlite3.connect(work / "monitor.db")
    try:
        outcomes = dict(conn.execute("SELECT outcome, COUNT(*) FROM observations GROUP BY 1"))
        wechat_ok = conn.execute(
            "SELECT COUNT(*) FROM observations WHERE source = 'wechat_api' AND evidence = 1"
        ).fetchone()[0]
    finally:
        conn.close()
    assert wechat_ok > 0, "the AppSecret was used"
    assert outcomes.get("blocked", 0) > 0, outcomes  # the login walls, with the cookie sent

    # -- the error run ---------------------------------------------------------------------------
    site.smtp.down = True
    broken = site.env | {
        "SIM_WECHAT_SECRET": WRONG_APPSECRET,
        "MONITOR_NOTIFY__OPERATORS": json.dumps(
            [
                site.smtp.url,
                f"json://monitor:{JSON_PASSWORD}@127.0.0.1:{free_port()}/hook",
                f"json://monitor:{JSON_PASSWORD}@127.0.0.1:{site.http.port}/hook",
            ]
        ),
    }
    bad_config = broken | {"MONITOR_NOTIFY__OPERATORS": f'["mailto://u:{SMTP_PASSWORD}@x" oops'}
    cli(site, "config", "check", env=bad_config, ok=False)
    cli(site, "status", env=bad_config, ok=False)
    cli(site, "check", "--all", env=broken)
    site.http.down = True
    errors = cli(site, "run", "--once", env=broken)
    errors += cli(site, "run", "--once", env=broken)
    assert "delivery_failed" in errors, errors[-3000:]
    cli(site, "healthcheck", env=broken, ok=False)
    conn = sqlite3.connect(work / "monitor.db")
    try:
        auth_errors = conn.execute(
            "SELECT COUNT(*) FROM observations WHERE outcome = 'auth_error'"
        ).fetchone()[0]
        failed_deliveries = conn.execute(
            "SELECT COUNT(*) FROM deliveries WHERE last_error IS NOT NULL"
        ).fetchone()[0]
    finally:
        conn.close()
    assert auth_errors > 0 and failed_deliveries > 0
    site.http.down = False
    reports(site, "after-errors")

    # -- the API in-process, Python logging captured --------------------------------------------
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    for key, value in site.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(work)
    root = logging.getLogger()
    handler, level = Keep(level=logging.INFO), root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)  # the level `monitor run` configures
    try:
        app = create_app(load_settings(), work / "monitor.db", warm=False)
        with TestClient(app) as client:
            exercise_api(site, client, "in-process")
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    for r in records:
        text = r.getMessage()
        if r.name == "httpx" and "http://testserver/" in text:
            continue  # the test client's own request lines (it sends ?token= itself)
        if r.exc_info:
            text += logging.Formatter().formatException(r.exc_info)
        ev.outputs.append((f"python log {r.name}", text))

    # -- search -------------------------------------------------------------------------------------
    conn = sqlite3.connect(work / "monitor.db")
    try:
        for line in conn.iterdump():
            ev.look("database row", line[:80], line)
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    finally:
        conn.close()
    for what, text in ev.outputs:
        for line in text.splitlines():
            ev.look("log/output line", what, line)
    for what, body in ev.responses:
        ev.look("API response", what, body)
    files = [p for p in sorted(work.rglob("*")) if p.is_file()]
    for path in files:
        kind = "report file" if "reports" in path.parts else "working-folder file"
        look_in_file(ev, kind, path)
    report_files = [p for p in files if "reports" in p.parts]

    print(
        f"\nsecrets: {len(CANARIES)} canaries; searched {sum(ev.searched.values())} places: "
        + ", ".join(f"{v} {k}" for k, v in sorted(ev.searched.items()))
        + f" ({len(tables)} tables; {len(ev.outputs)} captured outputs; "
        f"{len(report_files)} report files); leaks: {len(ev.leaks)}"
    )
    assert ev.searched["database row"] > 100
    assert len(report_files) >= 2 * len(REPORT_FORMATS)
    assert ev.leaks == [], "\n".join(ev.leaks[:50])
