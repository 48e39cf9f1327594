"""The rectification loop against the simulator over a socket: notice -> answers -> re-check.

Six Weibo accounts of six units; five are silent for 100 days when the notice is
issued (as of T-20, T = today) and are named; one is active. Then:

    A  answers "resumed" and posts again                 -> rectified (post after the notice)
    B  stays silent                                      -> not_rectified
    C  explains; the office accepts                      -> accepted (not re-checked)
    D  posts again, but the re-check fails (login wall)  -> not_rectified: a failed check is
                                                            never evidence
    E  its check fails too, but an inspector saw a post  -> rectified from the manual evidence

A second notice (as of T) carries 整改情况 of the first and marks B, named again,
连续 2 个月. The first notice's files stay byte-for-byte after a roster change that
rewrites the past.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import json
from datetime import datetime, time, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from simulated_city import SH, serving

from monitor.api import create_app
from monitor.checks.cases import remind_due, respond
from monitor.checks.fetch import check_accounts
from monitor.cli import main
from monitor.dates import end_of_day, today, utcnow
from monitor.reports import build_report, render
from monitor.reports.periods import month_bounds, previous_month
from monitor.settings import load_settings
from monitor.simulator.scenario import Scenario, SimAccount
from monitor.store import Store

TOKEN = "cases-test-token"
CASE_FIELDS = {
    "id", "account", "unit", "region", "notice", "opened_at", "deadline", "status",
    "response", "decision", "reviewed_at",
}  # fmt: skip
LETTERS = "ABCDEF"


def _scenario(t: datetime) -> Scenario:
    accounts = []
    for i, letter in enumerate(LETTERS):
        # F posted two days before the notice's as-of date: active, not named.
        last = t - timedelta(days=2) if letter == "F" else t - timedelta(days=80)
        accounts.append(
            SimAccount(
                platform="weibo",
                account_id=str(1001 + i),
                name=f"账号{letter}",
                unit=f"单位{letter}",
                region="市直部门",
                posts=[last - timedelta(days=30), last],
            )
        )
    return Scenario(accounts=accounts)


def _run(capsys, *args: str) -> object:
    code = main(list(args))
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out) if out.strip().startswith(("{", "[")) else out


@pytest.fixture
def loop(tmp_path, monkeypatch, capsys):
    """The city served, imported and checked as of T-20 (simulator and checker clocks moved)."""
    day = today(SH)
    t1 = datetime.combine(day - timedelta(days=20), time(12, 0), SH)
    scenario = _scenario(t1)
    with serving(scenario, tmp_path, monkeypatch) as (server, roster):
        monkeypatch.setenv("MONITOR_NOTIFY__UNITS", json.dumps({"单位A": ["json://127.0.0.1:9/a"]}))
        monkeypatch.setenv("MONITOR_NOTIFY__OPERATORS", json.dumps(["json://127.0.0.1:9/office"]))
        monkeypatch.setenv("MONITOR_API__TOKEN", TOKEN)
        _run(capsys, "import", str(roster))
        settings = load_settings(None)
        server.set_clock(lambda: t1)
        with Store.open(tmp_path / "m.db") as store:
            views = store.accounts_at(t1)
            reports = asyncio.run(check_accounts(store, settings, views, clock=lambda: t1))
            assert all(r.observation is not None and r.observation.is_evidence for r in reports)
            ids = {v.name[-1]: v.id for v in views}
        server.set_clock(utcnow)
        yield {
            "server": server,
            "roster": roster,
            "db": tmp_path / "m.db",
            "settings": settings,
            "day": day,
            "as_of": t1.date(),
            "ids": ids,
            "tmp": tmp_path,
        }


def _months(day):
    """The first notice's month (two months back) and the next one."""
    m2 = previous_month(day)
    m1 = previous_month(month_bounds(m2)[0])
    return m1, m2


def test_a_notice_cycle_ends_rectified_not_rectified_and_accepted(loop, capsys, monkeypatch):
    day, as_of, ids, server = loop["day"], loop["as_of"], loop["ids"], loop["server"]
    m1, m2 = _months(day)

    # -- the notice ------------------------------------------------------------------
    issued = _run(capsys, "notice", "issue", "--month", m1, "--as-of", as_of.isoformat(), "--json")
    assert issued["month"] == m1 and issued["cases"] == 5
    assert issued["deadline"] == (as_of + timedelta(days=5)).isoformat()  # rectify.within 5d
    assert {f["format"] for f in issued["files"]} == {"xlsx", "csv", "md", "html", "json"}
    opened = {c["name"][-1]: c for c in _run(capsys, "cases", "--json")}
    assert set(opened) == set("ABCDE")  # F was active: not named
    for c in opened.values():
        assert set(c) >= CASE_FIELDS
        assert c["status"] == "open" and c["notice"] == m1
        assert c["deadline"] == issued["deadline"] and c["problems"] == ["zombie_weibo"]
    case = {k: v["id"] for k, v in opened.items()}
    with Store.open(loop["db"]) as store:
        notice = store.notice_by_month(m1)
        assert notice is not None
        frozen = {f.format: f.data for f in store.notice_files(notice.id)}
    assert all(
        hashlib.sha256(frozen[f["format"]]).hexdigest() == f["sha256"] for f in issued["files"]
    )

    # A second notice for the same month is refused: an issued notice is never replaced.
    assert main(["notice", "issue", "--month", m1, "--as-of", as_of.isoformat()]) == 1
    assert "issued already" in capsys.readouterr().err

    # -- answers and decisions through the API and the case page --------------------------
    app = create_app(load_settings(None), loop["db"], warm=False)
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    with TestClient(app) as api:
        listed = api.get("/api/cases", headers=bearer).json()
        assert listed["total"] == 5 and len(listed["items"]) == 5
        assert set(listed["items"][0]) >= CASE_FIELDS
        assert api.get("/api/cases/999999", headers=bearer).status_code == 404
        missing = api.post("/api/cases/999999/response", json={"action": "resumed"}, headers=bearer)
        assert missing.status_code == 404
        r = api.post(
            f"/api/cases/{case['A']}/response",
            json={"action": "resumed", "note": "已恢复更新"},
            headers=bearer,
        )
        assert r.status_code == 200 and r.json()["status"] == "responded"
        assert r.json()["response"] == "resumed"
        bad = api.post(f"/api/cases/{case['B']}/response", json={"action": "x"}, headers=bearer)
        assert bad.status_code == 422
        # Only explanations are decided.
        not_explained = api.post(
            f"/api/cases/{case['A']}/decision", json={"decision": "accept"}, headers=bearer
        )
        assert not_explained.status_code == 409
        api.post(
            f"/api/cases/{case['C']}/response",
            json={"action": "explained", "note": "账号已移交新单位"},
            headers=bearer,
        )
        decided = api.post(
            f"/api/cases/{case['C']}/decision",
            json={"decision": "accept", "note": "同意"},
            headers=bearer,
        ).json()
        assert decided["status"] == "accepted" and decided["decision"] == "accept"
        # The case page carries the response form (with its csrf field); E answers there.
        page = api.get(f"/cases/{case['E']}", headers=bearer)
        assert page.status_code == 200
        assert f'action="/cases/{case["E"]}/response"' in page.text
        assert 'name="csrf_token"' in page.text
        posted = api.post(
            f"/cases/{case['E']}/response",
            content="action=resumed&note=%E5%B7%B2%E6%9B%B4%E6%96%B0",
            headers={**bearer, "Content-Type": "application/x-www-form-urlencoded"},
            follow_redirects=False,
        )
        assert posted.status_code == 303 and posted.headers["location"] == f"/cases/{case['E']}"
        assert (
            api.get(f"/api/cases/{case['E']}", headers=bearer).json()["response_note"] == "已更新"
        )
        assert api.get("/cases", headers=bearer).status_code == 200

    # -- the day before the deadline: one reminder per live case ---------------------------
    with Store.open(loop["db"]) as store:
        deadline = as_of + timedelta(days=5)
        reminded = remind_due(store, loop["settings"], deadline - timedelta(days=1), utcnow())
        assert sorted(reminded) == sorted(case[k] for k in "ABDE")  # C is closed (accepted)
        assert remind_due(store, loop["settings"], deadline - timedelta(days=1), utcnow()) == []

    # -- what happens meanwhile on the platforms -------------------------------------------
    now = utcnow()
    server.add_post("1001", now - timedelta(hours=1))  # A posts again
    server.add_post("1004", now - timedelta(hours=1))  # D posts too, but...
    server.set_fault("1004", "login_wall")  # ...its re-check fails
    server.set_fault("1005", "http_500")  # E's re-check fails as well...
    _run(  # ...but an inspector saw a post
        capsys, "observe", str(ids["E"]), "--latest-post", (day - timedelta(days=3)).isoformat(),
        "--url", "https://m.weibo.cn/status/E1",
    )  # fmt: skip

    # -- the re-check (复查) ---------------------------------------------------------------
    review = _run(capsys, "cases", "review", "--as-of", day.isoformat())
    result = {r["case"]: r for r in review["reviewed"]}
    by_letter = {k: result.get(v) for k, v in case.items()}
    assert by_letter["C"] is None  # accepted before the deadline: not re-checked
    assert by_letter["A"]["status"] == "rectified"
    assert by_letter["A"]["evidence"]["rule"] == "post_after_notice"
    assert by_letter["A"]["evidence"]["check"]["counts_as_evidence"] is True
    assert by_letter["B"]["status"] == "not_rectified"
    assert by_letter["B"]["evidence"]["rule"] == "no_post_after_notice"
    # D's failed check is kept as what was tried, never as evidence.
    d = by_letter["D"]
    assert d["status"] == "not_rectified"
    assert d["evidence"]["check"]["counts_as_evidence"] is False
    assert d["evidence"]["check"]["outcome"] not in ("ok", "no_content", "not_found", "restricted")
    assert d["evidence"]["evidence"]["observed_at"][:10] == as_of.isoformat()
    e = by_letter["E"]
    assert e["status"] == "rectified" and e["evidence"]["evidence"]["source"] == "manual"
    assert e["evidence"]["check"]["counts_as_evidence"] is False
    assert _run(capsys, "cases", "--json") == []  # none open any more
    closed = {c["id"]: c for c in _run(capsys, "cases", "--all", "--json")}
    assert {closed[case[k]]["status"] for k in "ABCDE"} == {
        "rectified",
        "not_rectified",
        "accepted",
    }
    assert closed[case["A"]]["reviewed_at"] is not None and closed[case["C"]]["reviewed_at"] is None
    assert closed[case["D"]]["evidence"]["check"]["counts_as_evidence"] is False

    # -- the outbox: opened -> the unit; reminder -> the unit; outcome -> unit and office --------
    with Store.open(loop["db"]) as store:
        rows = {(d.event, d.channel) for d in store.deliveries() if d.event.startswith("case:")}
    unit_a, office = "unit:单位A#0", "operators#0"
    assert (f"case:{case['A']}:opened", unit_a) in rows
    assert (f"case:{case['A']}:opened", office) not in rows  # the office issued it
    assert (f"case:{case['A']}:reminder", unit_a) in rows
    assert (f"case:{case['A']}:rectified", unit_a) in rows
    assert (f"case:{case['A']}:rectified", office) in rows
    assert (f"case:{case['C']}:accepted", office) in rows
    # Units without routes of their own fall back to the operators' channels.
    assert (f"case:{case['B']}:opened", office) in rows
    assert (f"case:{case['B']}:not_rectified", office) in rows
    assert not any(e == f"case:{case['C']}:reminder" for e, _ in rows)

    # -- the frozen files survive a roster change that rewrites the past ---------------------
    _rename_in_roster(loop["roster"], "账号F", "账号F（已更名）")
    effective = (as_of - timedelta(days=10)).isoformat()
    _run(capsys, "import", str(loop["roster"]), "--effective", effective)
    with Store.open(loop["db"]) as store:
        notice = store.notice_by_month(m1)
        assert notice is not None
        again = {f.format: f.data for f in store.notice_files(notice.id)}
        fresh = build_report(store, as_of, loop["settings"].policy, SH, month=m1)
    assert again == frozen
    assert render(fresh, "md") != frozen["md"]  # the same report built now reads differently
    out = loop["tmp"] / "frozen"
    out.mkdir()
    _run(capsys, "notice", "files", "--month", m1, "-o", str(out))
    for fmt, data in frozen.items():
        (path,) = out.glob(f"*.{fmt}")
        assert path.read_bytes() == data

    # -- the next month's notice: 整改情况 and 连续 N 个月 ------------------------------------
    second = _run(capsys, "notice", "issue", "--month", m2, "--as-of", day.isoformat(), "--json")
    with Store.open(loop["db"]) as store:
        notice2 = store.notice_by_month(m2)
        assert notice2 is not None
        files2 = {f.format: f.data for f in store.notice_files(notice2.id)}
    assert second["cases"] >= 1
    data = json.loads(files2["json"])
    rect = data["rectification"]
    assert rect["notice"] == m1
    assert rect["counts"] == {"rectified": 2, "not_rectified": 2, "accepted": 1, "pending": 0}
    status = {c["case"]: c["status_label"] for c in rect["cases"]}
    assert status[case["A"]] == "已整改" and status[case["E"]] == "已整改"
    assert status[case["B"]] == "整改不到位" and status[case["D"]] == "整改不到位"
    assert status[case["C"]] == "已说明"
    # B is silent still and named again: two months in a row. A posted: not named.
    assert rect["repeated"] == [{"account": ids["B"], "months": 2}]
    md = files2["md"].decode()
    assert "## 整改情况" in md and "连续 2 个月" in md and "整改不到位" in md
    b_row = next(line for line in md.splitlines() if "连续 2 个月" in line)
    assert "账号B" in b_row
    html = files2["html"].decode()
    assert "整改情况" in html and "已说明" in html
    sheet = load_workbook(io.BytesIO(files2["xlsx"]))["整改情况"]
    cells = [[c for c in row if c is not None] for row in sheet.iter_rows(values_only=True)]
    assert ["市直部门", "单位B", "微博", "账号B", issued["deadline"], "整改不到位"] in cells
    assert ["市直部门", "单位B", "微博", "账号B", "连续 2 个月"] in cells


def test_a_unit_sees_only_its_own_cases_and_another_units_case_is_404(loop, capsys):
    m1, _ = _months(loop["day"])
    _run(capsys, "notice", "issue", "--month", m1, "--as-of", loop["as_of"].isoformat())
    cases = {c["name"][-1]: c for c in _run(capsys, "cases", "--json")}
    db = str(loop["db"])
    _run(capsys, "users", "add", "unit-a", "--role", "unit", "--unit", "单位A", "--db", db)
    token = str(_run(capsys, "users", "token", "unit-a", "--db", db)).strip()
    app = create_app(load_settings(None), loop["db"], warm=False)
    bearer = {"Authorization": f"Bearer {token}"}
    with TestClient(app) as api:
        listed = api.get("/api/cases", headers=bearer).json()
        assert listed["total"] == 1 and listed["items"][0]["unit"] == "单位A"
        assert api.get("/api/cases?unit=单位B", headers=bearer).json()["total"] == 0
        b = cases["B"]["id"]
        assert api.get(f"/api/cases/{b}", headers=bearer).status_code == 404
        r = api.post(f"/api/cases/{b}/response", json={"action": "resumed"}, headers=bearer)
        assert r.status_code == 404
        assert api.get(f"/cases/{b}", headers=bearer).status_code == 404
        assert api.get(f"/units/{cases['B']['unit_id']}/cases", headers=bearer).status_code == 404
        page = api.get("/cases", headers=bearer).text
        assert "账号A" in page and "账号B" not in page
        # A unit answers its own case, but only the office decides on an explanation.
        a = cases["A"]["id"]
        answer = {"action": "explained", "note": "说明"}
        assert api.post(f"/api/cases/{a}/response", json=answer, headers=bearer).status_code == 200
        assert (
            'action="/cases/' + str(a) + '/decision"'
            not in api.get(f"/cases/{a}", headers=bearer).text
        )
        own = api.post(f"/api/cases/{a}/decision", json={"decision": "accept"}, headers=bearer)
        assert own.status_code == 403
        with Store.open(loop["db"]) as store:
            assert store.case(b).status == "open"  # nothing changed
            assert store.case(a).status == "responded"


def test_a_review_with_only_failed_checks_since_the_notice_is_not_rectified(loop, capsys):
    """The account posted, but every re-check fails: a failure never shows rectification."""
    day, server = loop["day"], loop["server"]
    m1, _ = _months(day)
    _run(capsys, "notice", "issue", "--month", m1, "--as-of", loop["as_of"].isoformat())
    for i, _letter in enumerate("ABCDE"):
        server.add_post(str(1001 + i), utcnow() - timedelta(hours=2))
        server.set_fault(str(1001 + i), "timeout" if i % 2 else "malformed")
    review = _run(capsys, "cases", "review", "--as-of", day.isoformat())
    assert len(review["reviewed"]) == 5
    for r in review["reviewed"]:
        assert r["status"] == "not_rectified", r
        assert r["evidence"]["check"]["counts_as_evidence"] is False
    with Store.open(loop["db"]) as store:
        at = end_of_day(day, SH)
        failed = [o for v in store.accounts_at(at) for o in store.observations(v.id, limit=1)]
        assert {o.outcome.is_evidence for o in failed if o.account != loop["ids"]["F"]} == {False}


def _rename_in_roster(path: Path, old: str, new: str) -> None:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    rows = [[new if cell == old else cell for cell in row] for row in rows]
    assert any(new in row for row in rows)
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        csv.writer(fh).writerows(rows)


def test_the_daemons_daily_job_reminds_the_day_before_and_re_checks_at_the_deadline(loop, capsys):
    from monitor.daemon import Daemon

    day, as_of, server = loop["day"], loop["as_of"], loop["server"]
    m1, _ = _months(day)
    issued = _run(
        capsys, "notice", "issue", "--month", m1, "--as-of", as_of.isoformat(),
        "--deadline", day.isoformat(), "--json",
    )  # fmt: skip
    assert issued["deadline"] == day.isoformat()
    server.add_post("1001", utcnow() - timedelta(hours=1))
    settings = loop["settings"]

    async def job(clock):
        with Store.open(loop["db"]) as store:
            async with Daemon(store, settings, clock=clock) as daemon:
                return await daemon.case_review()

    yesterday = datetime.combine(day - timedelta(days=1), time(10, 0), SH)
    before = asyncio.run(job(lambda: yesterday))
    assert before == {"day": (day - timedelta(days=1)).isoformat(), "reviewed": 0, "reminded": 5}
    after = asyncio.run(job(utcnow))
    assert after == {"day": day.isoformat(), "reviewed": 5, "reminded": 0}
    closed = {c["name"][-1]: c["status"] for c in _run(capsys, "cases", "--all", "--json")}
    assert closed == {"A": "rectified", "B": "not_rectified", "C": "not_rectified",
                      "D": "not_rectified", "E": "not_rectified"}  # fmt: skip
    with Store.open(loop["db"]) as store:
        beat = store.heartbeat("job:case_review")
    assert beat is not None and beat[1]["reviewed"] == 5


def test_accounts_without_an_automatic_source_are_judged_from_manual_evidence(loop, capsys):
    """G and H have no source (快手, no feed): inspectors' observations are the evidence."""
    day, as_of = loop["day"], loop["as_of"]
    m1, _ = _months(day)
    with loop["roster"].open("a", encoding="utf-8", newline="") as fh:
        for letter, ident in (("G", "ks-g"), ("H", "ks-h")):
            csv.writer(fh).writerow(
                [
                    "市直部门",
                    f"单位{letter}",
                    "快手",
                    f"账号{letter}",
                    ident,
                    "运行",
                    "",
                    "",
                    "",
                    "",
                ]
            )
    effective = (as_of - timedelta(days=10)).isoformat()
    _run(capsys, "import", str(loop["roster"]), "--effective", effective)
    seen_at = datetime.combine(as_of, time(11, 0), SH).isoformat()
    old_post = (as_of - timedelta(days=80)).isoformat()
    for ident in ("kuaishou:ks-g", "kuaishou:ks-h"):
        _run(capsys, "observe", ident, "--latest-post", old_post, "--at", seen_at)
    issued = _run(capsys, "notice", "issue", "--month", m1, "--as-of", as_of.isoformat(), "--json")
    assert issued["cases"] == 7  # A-E and G, H
    # G's unit showed the inspector a new post; H's did not.
    _run(capsys, "observe", "kuaishou:ks-g", "--latest-post", (day - timedelta(days=1)).isoformat())
    review = _run(capsys, "cases", "review", "--as-of", day.isoformat())
    cases = {c["id"]: c["name"][-1] for c in _run(capsys, "cases", "--all", "--json")}
    result = {cases[r["case"]]: r for r in review["reviewed"]}
    assert result["G"]["status"] == "rectified"
    assert result["G"]["evidence"]["evidence"]["source"] == "manual"
    assert result["G"]["evidence"]["check"]["ran"] is False
    assert result["H"]["status"] == "not_rectified"
    assert result["H"]["evidence"]["evidence"]["latest_post_at"][:10] == old_post


def test_an_account_cancelled_in_the_roster_is_rectified_without_a_check(loop, capsys):
    day = loop["day"]
    m1, _ = _months(day)
    _run(capsys, "notice", "issue", "--month", m1, "--as-of", loop["as_of"].isoformat())
    with loop["roster"].open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    status = rows[0].index("状态")
    for row in rows[1:]:
        if row[rows[0].index("账号名称")] == "账号B":
            row[status] = "已注销"
    with loop["roster"].open("w", encoding="utf-8-sig", newline="") as fh:
        csv.writer(fh).writerows(rows)
    _run(capsys, "import", str(loop["roster"]))
    review = _run(capsys, "cases", "review", "--as-of", day.isoformat())
    cases = {c["id"]: c["name"][-1] for c in _run(capsys, "cases", "--all", "--json")}
    result = {cases[r["case"]]: r for r in review["reviewed"]}
    assert result["B"]["status"] == "rectified"
    assert result["B"]["evidence"]["rule"] == "cancelled_in_roster"
    assert "check" not in result["B"]["evidence"]  # nothing fetched for a cancelled account
    assert {result[k]["status"] for k in "ACDE"} == {"not_rectified"}


def test_an_account_gone_from_the_platform_after_the_notice_is_rectified(loop, capsys):
    """An inspector finds B deregistered (its re-check fails): cancelled on the platform."""
    day, server = loop["day"], loop["server"]
    m1, _ = _months(day)
    _run(capsys, "notice", "issue", "--month", m1, "--as-of", loop["as_of"].isoformat())
    server.set_fault("1002", "http_500")
    _run(capsys, "observe", str(loop["ids"]["B"]), "--not-found")
    cases = {c["id"]: c["name"][-1] for c in _run(capsys, "cases", "--all", "--json")}
    c = next(case for case, letter in cases.items() if letter == "C")
    with Store.open(loop["db"]) as store:  # C explains; the office has not decided yet
        respond(store, loop["settings"], c, "explained", "账号已移交", utcnow())
    review = _run(capsys, "cases", "review", "--as-of", day.isoformat())
    assert review["waiting_for_decision"] == [c]  # an explanation waits for the office
    assert c not in {r["case"] for r in review["reviewed"]}
    assert {x["id"]: x["status"] for x in _run(capsys, "cases", "--json")} == {c: "responded"}
    result = {cases[r["case"]]: r for r in review["reviewed"]}
    assert result["B"]["status"] == "rectified"
    assert result["B"]["evidence"]["rule"] == "cancelled_on_platform"
    assert result["B"]["evidence"]["evidence"]["outcome"] == "not_found"
    assert result["B"]["evidence"]["check"]["counts_as_evidence"] is False
