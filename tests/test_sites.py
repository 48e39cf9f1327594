"""Government websites: dates in listings, charsets, rosters, and verdicts over the simulator."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from zh_check import assert_worded

from adapters.site_dates import find_date
from adapters.site_page import decode_page, read_page
from monitor.checks.sites import check_sites, probe_sites, site_verdicts
from monitor.cli import main
from monitor.messages import render
from monitor.models import ColumnKind, MessageCode, SiteTarget, SiteVerdict
from monitor.roster.sites import read_columns, read_sites
from monitor.settings import Settings
from monitor.simulator import Scenario, SimulatorServer, own_network
from monitor.simulator.scenario import SimColumn, SimSite
from monitor.simulator.sites import (
    PROFILES,
    generate_sites,
    write_columns_roster,
    write_sites_roster,
)
from monitor.site_rules import judge_site
from monitor.store import ColumnEntry, ColumnRow, SiteEntry, SiteEvidence, SiteObservation, Store

TODAY = date(2026, 12, 4)
NOON = datetime(2026, 12, 4, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai


# -- dates in list items ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("市政府召开常务会议 2026-11-30", date(2026, 11, 30)),
        ("市政府召开常务会议 2026/11/3", date(2026, 11, 3)),
        ("市政府召开常务会议 2026.01.05", date(2026, 1, 5)),
        ("市政府召开常务会议 2025年2月8日", date(2025, 2, 8)),
        ("市政府召开常务会议 [11-30]", date(2026, 11, 30)),
        ("市政府召开常务会议 11-30", date(2026, 11, 30)),
        # no year, and this year's date would be in the future: last year's
        ("市政府召开常务会议 [12-25]", date(2025, 12, 25)),
        ("市政府召开常务会议 12-05", date(2025, 12, 5)),
        ("市政府召开常务会议 12-04", date(2026, 12, 4)),
        # the item's own date is the last one written, not one inside its title
        ("关于2024年5月1日放假安排的通知 2026-04-20", date(2026, 4, 20)),
        # never in the future, never impossible, never a bare number
        ("市政府召开常务会议 2026-12-05", None),
        ("市政府召开常务会议 2026-02-30", None),
        ("第 2026 期 共 12 页", None),
        ("市政府召开常务会议", None),
    ],
)
def test_it_reads_every_date_form_of_a_listing(text, expected):
    assert find_date(text, TODAY) == expected


def test_a_leap_day_without_a_year_is_the_last_leap_year_that_had_it():
    assert find_date("[02-29]", date(2025, 3, 1)) == date(2024, 2, 29)


# -- charsets and the page reader --------------------------------------------------------

PAGE = """<html><head>{meta}<title>通知公告</title></head><body>
<div class="header">今天是2026年12月4日</div>
<nav class="nav"><ul><li><a href="/">首页</a></li><li><a href="col/">通知公告</a></li></ul></nav>
<ul class="list">
  <li><a href="a/1.html">关于开展安全检查的通知</a><span>2026-10-01</span></li>
  <li><a href="a/2.html">关于2026年12月1日停电的通知</a><span>2026-09-15</span></li>
  <li><a href="a/3.html">没有日期的一条</a></li>
</ul>
<div id="footer">版权所有 2026-12-04 网站标识码 6109000001</div>
</body></html>"""


@pytest.mark.parametrize(
    ("encoding", "meta", "content_type", "used"),
    [
        ("gbk", "", "text/html; charset=GBK", "gb18030"),
        ("gb2312", "", "text/html; charset=gb2312", "gb18030"),
        (
            "gbk",
            '<meta http-equiv="Content-Type" content="text/html; charset=gbk">',
            "text/html",
            "gb18030",
        ),
        ("gb2312", '<meta charset="gb2312">', None, "gb18030"),
        ("gbk", "", "text/html", "gb18030"),  # undeclared: sniffed
        ("utf-8", "", "text/html", "utf-8"),  # undeclared: sniffed
        ("utf-8", '<meta charset="utf-8">', None, "utf-8"),
    ],
)
def test_it_decodes_pages_by_declared_or_sniffed_charset(encoding, meta, content_type, used):
    html = PAGE.format(meta=meta)
    text, chosen = decode_page(html.encode(encoding), content_type)
    assert chosen == used
    assert "关于开展安全检查的通知" in text


def test_dates_come_from_list_items_never_from_header_or_footer():
    page = read_page(PAGE.format(meta=""), "http://h/site/1/col/", TODAY)
    assert [item.day for item in page.items] == [date(2026, 10, 1), date(2026, 9, 15), None]
    assert page.newest is not None and page.newest.day == date(2026, 10, 1)
    assert page.newest.url == "http://h/site/1/col/a/1.html"
    assert "http://h/" in page.links  # links are every link, navigation included


def test_a_date_selector_picks_the_dates_of_a_table_listing():
    html = (
        "<table><tr><td><a href='/a'>一</a></td><td class='date'>2026.11.02</td>"
        "<td>阅读 2026-12-03</td></tr></table>"
    )
    page = read_page(html, "http://h/", TODAY, "td.date")
    assert [(i.title, i.day) for i in page.items] == [("一", date(2026, 11, 2))]


def test_a_listing_without_items_has_none():
    page = read_page("<div class='list'><p>暂无信息 2026-12-01</p></div>", "http://h/", TODAY)
    assert page.items == []


# -- rosters ---------------------------------------------------------------------------------


def test_a_sites_roster_reports_every_bad_row_by_row_and_column(tmp_path):
    path = tmp_path / "sites.csv"
    path.write_text(
        "序号,类别,主办单位,网站名称,网址,网站标识码\n"
        "1,市直部门,市政府办公室,安康市人民政府,http://www.ankang.gov.cn/,6109000001\n"
        "2,,市教育局,安康市教育局,ftp://jyj.ankang.gov.cn/,61090\n"
        "3,汉阴县,,汉阴县人民政府,http://www.hanyin.gov.cn/,6109000001\n",
        encoding="utf-8",
    )
    read = read_sites(path)
    assert [str(p) for p in read.problems] == [
        "sites.csv, row 3, 网站标识码: '61090' is not 10–11 digits",
        "sites.csv, row 3, 网址: 'ftp://jyj.ankang.gov.cn/' is not an http(s) URL",
        "sites.csv, row 4, 网站标识码: 网站标识码 6109000001 is already on row 2",
        "sites.csv, row 4, 主办单位: missing 主办单位",
    ]
    assert [entry.site_code for _, entry in read.entries] == ["6109000001"]


def test_a_columns_roster_needs_known_types_and_selectors(tmp_path):
    path = tmp_path / "cols.csv"
    path.write_text(
        "网站标识码,栏目名称,栏目地址,栏目类型,日期选择器\n"
        "6109000001,要闻,http://h/yw/,动态要闻,\n"
        "6109000001,公告,http://h/gg/,公告栏,\n"
        "6109000001,文件,http://h/wj/,政策文件,td[[\n",
        encoding="utf-8",
    )
    read = read_columns(path)
    assert [(p.row, p.column) for p in read.problems] == [(3, "栏目类型"), (4, "日期选择器")]
    assert [entry.kind for _, entry in read.entries] == [ColumnKind.NEWS]


def _cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_imports_are_all_or_nothing(tmp_path, capsys, no_monitor_env):
    db = str(tmp_path / "m.db")
    good = tmp_path / "sites.csv"
    good.write_text(
        "网站名称,网址,网站标识码,主办单位,类别\n"
        "安康市人民政府,http://www.ankang.gov.cn/,6109000001,市政府办公室,市直部门\n",
        encoding="utf-8",
    )
    assert _cli(capsys, "--db", db, "sites", "import", str(good))[0] == 0
    cols = tmp_path / "cols.csv"
    cols.write_text(
        "网站标识码,栏目名称,栏目地址,栏目类型\n"
        "6109000001,要闻,http://www.ankang.gov.cn/yw/,动态要闻\n"
        "6109000099,公告,http://www.other.gov.cn/gg/,通知公告\n",
        encoding="utf-8",
    )
    code, _, err = _cli(capsys, "--db", db, "sites", "columns", "import", str(cols))
    assert code == 1
    assert "cols.csv, row 3, 网站标识码: no website 6109000099 (import it first)" in err
    with Store.open(db) as store:
        assert store.site_columns() == {}  # the good row was not imported either


# -- verdicts over the simulator -----------------------------------------------------------


def _settings(url: str, **sites: object) -> Settings:
    return Settings(
        network={"allowed_networks": [own_network(url)]},
        sites={"rate_per_s": 1000, "concurrent_sites": 4, **sites},
    )


def _load(store: Store, sites: list[SimSite], url: str, tmp_path) -> None:
    write_sites_roster(sites, tmp_path / "sites.csv", url)
    write_columns_roster(sites, tmp_path / "cols.csv", url)
    read = read_sites(tmp_path / "sites.csv")
    columns = read_columns(tmp_path / "cols.csv")
    assert read.problems == [] and columns.problems == []
    store.import_sites(file="sites.csv", now=NOON, entries=[e for _, e in read.entries])
    store.import_columns(file="cols.csv", now=NOON, entries=[e for _, e in columns.entries])


def _found(record: dict) -> tuple[str, dict[str, int], str]:
    return (
        record["verdict"],
        {p["kind"]: p["count"] for p in record["problems"]},
        record["summary"],
    )


def test_every_verdict_and_count_matches_the_ground_truth(
    tmp_path, capsys, monkeypatch, no_monitor_env
):
    generated = generate_sites(2 * len(PROFILES), TODAY, seed=3)
    # Every column type, every date form, table listings, every charset declaration.
    assert {c.kind for s in generated for c in s.columns} == {
        "动态要闻",
        "通知公告",
        "政策文件",
        "人事信息",
        "规划计划",
        "其他",
    }
    assert {c.date_form for s in generated for c in s.columns} >= {
        "iso",
        "slash",
        "dot",
        "cjk",
        "bracket",
        "md",
        "none",
    }
    assert {(s.encoding, s.declare) for s in generated} >= {
        ("gbk", "header"),
        ("gb2312", "meta"),
        ("gbk", "none"),
        ("utf-8", "none"),
    }
    scenario = Scenario(sites=generated, generated_for=TODAY)
    db = tmp_path / "m.db"
    with SimulatorServer(scenario, clock=lambda: NOON) as sim, Store.open(db) as store:
        _load(store, generated, sim.url, tmp_path)
        settings = _settings(sim.url)
        sweep = asyncio.run(check_sites(store, settings, clock=lambda: NOON))
        assert sweep.sites == len(generated)
        assert sim.stats["internal_errors"] == 0
        monkeypatch.setenv("MONITOR_NETWORK__ALLOWED_NETWORKS", json.dumps([own_network(sim.url)]))
        code, out, _ = _cli(
            capsys, "--db", str(db), "sites", "status", "--json", "--as-of", "2026-12-04"
        )
    assert code == 0
    records = {r["site_code"]: r for r in json.loads(out)}
    for site in generated:
        assert site.truth is not None
        record = records[site.site_code]
        want = (site.truth.verdict, dict(site.truth.problems), site.truth.summary)
        assert _found(record) == want, (site.name, site.encoding, site.declare)
        assert (
            record["verdict_label"]
            == {"pass": "合格", "issues": "存在问题", "fail": "不合格"}[site.truth.verdict]
        )
        assert record["region"] == site.region and record["unit"] == site.unit


def test_evidence_names_the_column_its_last_date_and_when_it_was_fetched(tmp_path):
    site = generate_sites(10, TODAY)[9]  # 3 stale, 1 empty, 1 broken link
    with (
        SimulatorServer(Scenario(sites=[site]), clock=lambda: NOON) as sim,
        Store.open(tmp_path / "m.db") as store,
    ):
        _load(store, [site], sim.url, tmp_path)
        settings = _settings(sim.url)
        asyncio.run(check_sites(store, settings, clock=lambda: NOON))
        (status,) = site_verdicts(store, settings, TODAY)
    problems = {p.kind: p for p in status.judgement.problems}
    stale_names = {
        c.name
        for c in site.columns
        if c.kind != "其他" and c.dates and c.dates[0] < date(2026, 11, 20)
    }
    assert len(stale_names) == 3
    assert {item["column"] for item in problems["stale_column"].items} == stale_names
    for item in problems["stale_column"].items:
        column = next(c for c in site.columns if c.name == item["column"])
        assert item["last_date"] == column.dates[0].isoformat()
        assert item["fetched_at"] == NOON
    (broken,) = problems["broken_link"].items
    assert broken["url"].endswith("/missing/0.html") and broken["status"] == 404
    assert broken["page"] == f"{sim.url}/site/{site.site_code}/"


def test_a_site_whose_homepage_fails_to_load_is_never_stale(tmp_path):
    # Its homepage would show only items 20 days old; while it fails, that is never judged.
    site = generate_sites(8, TODAY)[7]
    assert site.homepage_fault == "flaky"
    down = site.model_copy(update={"site_code": "6100000077", "homepage_fault": "down"})
    with (
        SimulatorServer(Scenario(sites=[site, down]), clock=lambda: NOON) as sim,
        Store.open(tmp_path / "m.db") as store,
    ):
        _load(store, [site, down], sim.url, tmp_path)
        settings = _settings(sim.url)
        asyncio.run(check_sites(store, settings, clock=lambda: NOON))
        first = {s.site.site_code: s.judgement for s in site_verdicts(store, settings, TODAY)}
        # the flaky homepage answers the next sweep: now its own stale list is evidence
        asyncio.run(check_sites(store, settings, clock=lambda: NOON))
        second = {s.site.site_code: s.judgement for s in site_verdicts(store, settings, TODAY)}
    for judgement in (first[site.site_code], first[down.site_code], second[down.site_code]):
        assert "homepage_stale" not in {p.kind for p in judgement.problems}
        assert judgement.verdict is SiteVerdict.FAIL
        assert judgement.summary == "站点无法访问"
    kinds = {p.kind: p.count for p in second[site.site_code].problems}
    assert kinds == {"unavailable": 1, "homepage_stale": 1}  # 1 of 2 fetches failed


def test_robots_disallow_is_a_failed_check_not_an_empty_or_stale_column(tmp_path):
    site = SimSite(
        site_code="6100000001",
        name="测试网站",
        unit="市测试局",
        region="市直部门",
        homepage_dates=[date(2026, 12, 1)],
        columns=[SimColumn(name="要闻", kind="动态要闻", dates=[date(2020, 1, 1)])],
    )
    with (
        SimulatorServer(Scenario(sites=[site]), clock=lambda: NOON) as sim,
        Store.open(tmp_path / "m.db") as store,
    ):
        store.import_sites(
            file="s",
            now=NOON,
            entries=[
                SiteEntry(
                    site.site_code,
                    site.name,
                    f"{sim.url}/site/{site.site_code}/",
                    site.unit,
                    site.region,
                )
            ],
        )
        # /site/private/ is disallowed by the simulator's robots.txt
        store.import_columns(
            file="c",
            now=NOON,
            entries=[
                ColumnEntry(site.site_code, "要闻", f"{sim.url}/site/private/", ColumnKind.NEWS)
            ],
        )
        settings = _settings(sim.url)
        asyncio.run(check_sites(store, settings, clock=lambda: NOON))
        (status,) = site_verdicts(store, settings, TODAY)
        assert sim.stats["by_path"].get("/site/*", 0) >= 1
    (finding,) = status.judgement.columns
    assert finding.state == "failed"
    assert finding.observation is not None and "robots.txt" in (finding.observation.detail or "")
    assert status.judgement.verdict is SiteVerdict.PASS


def test_before_any_sweep_and_after_evidence_ages_a_site_is_unknown(tmp_path):
    site = generate_sites(1, TODAY)[0]
    with (
        SimulatorServer(Scenario(sites=[site]), clock=lambda: NOON) as sim,
        Store.open(tmp_path / "m.db") as store,
    ):
        _load(store, [site], sim.url, tmp_path)
        settings = _settings(sim.url)
        assert site_verdicts(store, settings, TODAY)[0].judgement.verdict is SiteVerdict.UNKNOWN
        asyncio.run(check_sites(store, settings, clock=lambda: NOON))
        assert site_verdicts(store, settings, TODAY)[0].judgement.verdict is SiteVerdict.PASS
        # evidence older than policy.evidence_max_age (3 days) is not used
        later = date(2026, 12, 8)
        assert site_verdicts(store, settings, later)[0].judgement.verdict is SiteVerdict.UNKNOWN


def test_windows_are_settings(tmp_path):
    site = generate_sites(1, TODAY)[0]  # its first 动态要闻 column's newest item is 14 days old
    with (
        SimulatorServer(Scenario(sites=[site]), clock=lambda: NOON) as sim,
        Store.open(tmp_path / "m.db") as store,
    ):
        _load(store, [site], sim.url, tmp_path)
        asyncio.run(check_sites(store, _settings(sim.url), clock=lambda: NOON))
        strict = _settings(sim.url, windows={"news": "13d"})
        (status,) = site_verdicts(store, strict, TODAY)
    assert _found_kinds(status) == {"stale_column": 1}
    assert status.judgement.summary == "1 个栏目更新不及时"


def _found_kinds(status) -> dict[str, int]:
    return {p.kind: p.count for p in status.judgement.problems}


# -- the daemon: the daily sweep and availability probes -------------------------------------


class _NullSender:
    def send(self, url: str, title: str, body: str) -> None:
        raise AssertionError("no message expected")


def test_the_daemon_sweeps_sites_daily_and_probes_them_probes_per_day(tmp_path):
    import random

    from monitor.daemon import Daemon

    sites = generate_sites(4, TODAY)  # the 4th fails: its unit is alerted once
    now = [datetime(2026, 12, 3, 18, 40, tzinfo=UTC)]  # 02:40 in Shanghai, after sweep_at
    with (
        SimulatorServer(Scenario(sites=sites), clock=lambda: NOON) as sim,
        Store.open(tmp_path / "m.db") as store,
    ):
        _load(store, sites, sim.url, tmp_path)
        settings = _settings(sim.url, probes_per_day=24)

        async def once() -> dict:
            async with Daemon(
                store, settings, clock=lambda: now[0], sender=_NullSender(), rng=random.Random(1)
            ) as daemon:
                return await daemon.site_jobs()

        first = asyncio.run(once())
        assert first["sweep"]["sites"] == 4 and first["probes"] == 4
        assert first["alerts"] == {"opened": 1, "closed": 0}
        now[0] += timedelta(minutes=30)
        assert asyncio.run(once()) == {}  # swept today; next probe due an hour after the last
        now[0] += timedelta(minutes=31)
        assert asyncio.run(once()) == {"probes": 4, "alerts": {"opened": 0, "closed": 0}}
        now[0] += timedelta(days=1)
        assert set(asyncio.run(once())) == {"sweep", "probes", "alerts"}
        probes = store.conn.execute(
            "SELECT COUNT(*) FROM site_observations WHERE target = 'probe'"
        ).fetchone()[0]
    assert probes == 12


def _sample(reachable: bool) -> SiteObservation:
    return SiteObservation(
        site=1,
        target=SiteTarget.PROBE,
        url="http://h/",
        observed_at=NOON,
        ok=reachable,
        reachable=reachable,
    )


@pytest.mark.parametrize(
    ("samples", "failed", "unavailable"),
    [(20, 1, True), (21, 1, False), (140, 7, True), (140, 6, False)],
)
def test_availability_fails_a_site_from_five_percent_of_failed_probes(samples, failed, unavailable):
    evidence = SiteEvidence(
        availability=[_sample(False)] * failed + [_sample(True)] * (samples - failed)
    )
    judgement = judge_site(evidence, [], Settings().sites, TODAY)
    assert ("unavailable" in {p.kind for p in judgement.problems}) is unavailable
    assert (judgement.verdict is SiteVerdict.FAIL) is unavailable


# -- the monthly report: the attachment-1 table ---------------------------------------------


def test_the_report_lists_every_site_failing_first_with_the_sites_pass_rate(tmp_path):
    import io
    from zoneinfo import ZoneInfo

    import openpyxl

    from monitor.reports import build_report, render

    generated = generate_sites(len(PROFILES), TODAY)
    with (
        SimulatorServer(Scenario(sites=generated), clock=lambda: NOON) as sim,
        Store.open(tmp_path / "m.db") as store,
    ):
        _load(store, generated, sim.url, tmp_path)
        settings = _settings(sim.url)
        asyncio.run(check_sites(store, settings, clock=lambda: NOON))
        report = build_report(
            store, TODAY, settings.policy, ZoneInfo("Asia/Shanghai"), sites=settings.sites
        )
    truth = {s.site_code: s.truth for s in generated}
    order = {"fail": 0, "issues": 1, "pass": 2}
    verdicts = [r.verdict.value for r in report.sites]
    assert verdicts == sorted(verdicts, key=order.__getitem__)
    assert {r.site_code: (r.verdict.value, r.summary) for r in report.sites} == {
        code: (t.verdict, t.summary) for code, t in truth.items() if t
    }
    tally = report.site_tally
    passed = sum(1 for t in truth.values() if t and t.verdict == "pass")
    assert tally is not None and (tally.sites, tally.passed) == (len(generated), passed)
    assert tally.pass_rate == passed / len(generated)

    book = openpyxl.load_workbook(io.BytesIO(render(report, "xlsx", "zh")))
    sheet = book["网站检查结果"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == (
        "序号",
        "类别",
        "主办单位",
        "网站名称",
        "网址",
        "网站标识码",
        "检查结果",
        "主要问题",
    )
    assert [r[6] for r in rows[1:]] == [
        {"fail": "不合格", "issues": "存在问题", "pass": "合格"}[v] for v in verdicts
    ]
    assert rows[1][7] == report.sites[0].summary
    summary = [tuple(r) for r in book["汇总"].iter_rows(values_only=True)]
    assert any(r[:2] == ("网站合格率", passed / len(generated)) for r in summary)

    md = render(report, "md", "zh").decode()
    assert "## 网站检查结果" in md and "5 个栏目更新不及时" in md
    html = render(report, "html", "zh").decode()
    assert "<h2>网站检查结果</h2>" in html and "3 个栏目更新不及时；1 个空栏目；1 个错链接" in html
    data = json.loads(render(report, "json", "zh"))
    assert [s["verdict"] for s in data["sites"]] == verdicts
    assert data["site_summary"]["passed"] == passed
    csv_text = render(report, "csv", "zh").decode("utf-8-sig")
    assert "序号,类别,主办单位,网站名称,网址,网站标识码,检查结果,主要问题" in csv_text


# -- alerts per unit for 不合格 websites -----------------------------------------------------


def test_a_failing_site_alerts_its_unit_once_and_its_recovery_closes_the_alert(
    tmp_path, capsys, monkeypatch, no_monitor_env
):
    from monitor.checks.site_alerts import SITE_FAILED, follow_site_verdicts

    generated = generate_sites(len(PROFILES), TODAY)
    failing = [s for s in generated if s.truth and s.truth.verdict == "fail"]
    stale = generated[3]  # 5 overdue columns
    assert stale.truth is not None and stale.truth.problems == {"stale_column": 5}
    db = tmp_path / "m.db"
    with (
        SimulatorServer(Scenario(sites=generated), clock=lambda: NOON) as sim,
        Store.open(db) as store,
    ):
        _load(store, generated, sim.url, tmp_path)
        settings = _settings(sim.url).model_copy(
            update={
                "notify": Settings(notify={"units": {stale.unit: ["json://localhost/"]}}).notify
            }
        )

        def sweep_and_follow() -> dict[str, int]:
            asyncio.run(check_sites(store, settings, clock=lambda: NOON))
            statuses = site_verdicts(store, settings, TODAY)
            return follow_site_verdicts(store, settings, statuses, NOON)

        assert sweep_and_follow() == {"opened": len(failing), "closed": 0}
        assert sweep_and_follow() == {"opened": 0, "closed": 0}  # one open alert per site
        alerts = store.open_alerts(kinds=[SITE_FAILED])
        assert sorted(a.source for a in alerts) == sorted(f"site:{s.site_code}" for s in failing)
        rows = store.conn.execute(
            "SELECT channel, title, body FROM deliveries WHERE title LIKE '【网站不合格】%'"
        ).fetchall()
        routed = [r for r in rows if r[0].startswith("unit:")]
        assert [r[0] for r in routed] == [f"unit:{stale.unit}#0"]
        assert "主要问题：5 个栏目更新不及时" in routed[0][2]
        # the unit updates its columns: the next sweep finds the site 合格 and closes the alert
        served = sim.world.sites[stale.site_code]
        for column in served.columns:
            if column.dates:
                column.dates = [TODAY - timedelta(days=1)]
        assert sweep_and_follow() == {"opened": 0, "closed": 1}
        monkeypatch.setenv("MONITOR_NETWORK__ALLOWED_NETWORKS", json.dumps([own_network(sim.url)]))
        code, out, _ = _cli(capsys, "--db", str(db), "alerts", "--json")
    assert code == 0
    listed = json.loads(out)
    assert len(listed) == len(failing) - 1
    assert {a["kind"] for a in listed} == {SITE_FAILED}


# -- the dashboard ------------------------------------------------------------------------------


def test_the_dashboard_lists_sites_failing_first_and_shows_a_sites_evidence(tmp_path):
    from fastapi.testclient import TestClient

    from monitor.api import create_app

    generated = generate_sites(len(PROFILES), TODAY)
    mixed = generated[9]  # 3 stale, 1 empty, 1 broken link
    db = tmp_path / "m.db"
    with (
        SimulatorServer(Scenario(sites=generated), clock=lambda: NOON) as sim,
        Store.open(db) as store,
    ):
        _load(store, generated, sim.url, tmp_path)
        settings = _settings(sim.url)
        asyncio.run(check_sites(store, settings, clock=lambda: NOON))
        mixed_id = store.find_site(mixed.site_code).id
    with TestClient(create_app(settings, str(db), warm=False)) as client:
        page = client.get("/sites?as_of=2026-12-04")
        assert page.status_code == 200
        html = page.text
        assert "政府网站" in html and "网站合格率" in html
        failing = [s.name for s in generated if s.truth and s.truth.verdict == "fail"]
        passing = [s.name for s in generated if s.truth and s.truth.verdict == "pass"]
        assert max(html.index(f">{n}<") for n in failing) < min(
            html.index(f">{n}<") for n in passing
        )
        site = client.get(f"/sites/{mixed_id}?as_of=2026-12-04").text
        assert "3 个栏目更新不及时；1 个空栏目；1 个错链接" in site
        for column in mixed.columns:
            assert column.name in site
        stale = [
            c
            for c in mixed.columns
            if c.kind != "其他" and c.dates and (TODAY - c.dates[0]).days > 20
        ]
        assert len(stale) == 3
        for column in stale:
            assert column.dates[0].isoformat() in site  # the last date seen, as evidence
        assert "/missing/0.html" in site and "2026-12-04 12:00" in site  # the link; when fetched
        assert client.get("/sites/9999").status_code == 404
        api = client.get("/api/sites?as_of=2026-12-04&verdict=fail").json()
        assert {r["name"] for r in api["items"]} == set(failing) and api["total"] == len(failing)
        one = client.get(f"/api/sites/{mixed_id}?as_of=2026-12-04").json()
        assert one["summary"] == "3 个栏目更新不及时；1 个空栏目；1 个错链接"
        assert [c["name"] for c in one["columns"]] == [c.name for c in mixed.columns]
        assert client.get("/api/sites/9999").status_code == 404
        assert client.get("/api/sites?verdict=bad").status_code == 422


# -- details worded in Chinese (issue 19) ------------------------------------------------


def _stored_details(store: Store) -> list[SimpleNamespace]:
    rows = store.conn.execute(
        "SELECT target, url, detail, detail_code, detail_params FROM site_observations "
        "WHERE detail IS NOT NULL ORDER BY id"
    )
    return [
        SimpleNamespace(
            target=r[0],
            url=r[1],
            detail=r[2],
            detail_code=r[3],
            detail_params=json.loads(r[4]) if r[4] else None,
        )
        for r in rows
    ]


def test_every_stored_site_detail_is_a_code_worded_in_chinese_and_english(tmp_path):
    # Every profile (broken links, a down and a flaky homepage, GBK and GB2312 pages), a
    # column robots.txt refuses, a byte cap, probes, and the outbound guard's refusal.
    generated = generate_sites(len(PROFILES), TODAY)
    first, mixed = generated[0], generated[9]
    db = tmp_path / "m.db"
    with (
        SimulatorServer(Scenario(sites=generated), clock=lambda: NOON) as sim,
        Store.open(db) as store,
    ):
        _load(store, generated, sim.url, tmp_path)
        store.import_columns(
            file="c",
            now=NOON,
            entries=[
                ColumnEntry(first.site_code, "内部", f"{sim.url}/site/private/", ColumnKind.NEWS)
            ],
        )
        settings = _settings(sim.url)
        asyncio.run(check_sites(store, settings, clock=lambda: NOON))
        asyncio.run(probe_sites(store, settings, clock=lambda: NOON))
        one = [store.find_site(first.site_code)]
        capped = _settings(sim.url, max_page_bytes=300)
        asyncio.run(check_sites(store, capped, one, clock=lambda: NOON))
        asyncio.run(
            check_sites(store, Settings(sites={"rate_per_s": 1000}), one, clock=lambda: NOON)
        )
        details = _stored_details(store)
        total = store.conn.execute(
            "SELECT COUNT(*) FROM site_observations WHERE detail IS NOT NULL"
        ).fetchone()[0]
        mixed_id = store.find_site(mixed.site_code).id
    assert len(details) == total > 0
    for obs in details:
        assert_worded(obs)
    codes = {obs.detail_code for obs in details}
    assert {
        MessageCode.SITE_HTTP,
        MessageCode.SITE_TOO_LARGE,
        MessageCode.SITE_ROBOTS_DISALLOWS,
        MessageCode.SITE_LINKS_CHECKED,
    } <= codes
    assert len(codes) > 4  # the guard's refusal has its own code
    # The English is the text the detail had before it had a code.
    by_text = {obs.detail: obs for obs in details}
    assert {"HTTP 404", "HTTP 503", "robots.txt disallows this page"} <= set(by_text)
    assert "page larger than 300 bytes" in by_text
    broken = by_text["HTTP 404"]
    assert (broken.target, broken.detail_code, broken.detail_params) == (
        "link",
        "site.http",
        {"status": 404},
    )
    assert render(broken.detail_code, broken.detail_params, "zh") == "网页返回 HTTP 404"
    marker = next(o for o in details if o.detail_code == MessageCode.SITE_LINKS_CHECKED)
    assert render(marker.detail_code, marker.detail_params, "zh").startswith("检查了 ")

    # The site page shows the Chinese; the JSON keeps the English beside its code and label.
    from fastapi.testclient import TestClient

    from monitor.api import create_app

    with TestClient(create_app(settings, str(db), warm=False)) as client:
        page = client.get(f"/sites/{mixed_id}?as_of=2026-12-04").text
        assert "网页返回 HTTP 404" in page
        record = client.get(f"/api/sites/{mixed_id}?as_of=2026-12-04").json()
        first_id = next(
            r["id"]
            for r in client.get("/api/sites?as_of=2026-12-04").json()["items"]
            if r["site_code"] == first.site_code
        )
        first_page = client.get(f"/sites/{first_id}?as_of=2026-12-04").text
        first_record = client.get(f"/api/sites/{first_id}?as_of=2026-12-04").json()
    (link,) = next(p for p in record["problems"] if p["kind"] == "broken_link")["items"]
    assert (link["detail"], link["detail_code"], link["detail_label"]) == (
        "HTTP 404",
        "site.http",
        "网页返回 HTTP 404",
    )
    assert "detail_params" not in link
    refused = next(c for c in first_record["columns"] if c["name"] == "内部")
    # the newest fetch of that column is the guard's refusal (the last sweep, unguarded)
    assert refused["fetch_ok"] is False and refused["detail_code"]
    assert refused["detail_label"] != refused["detail"] and "已拒绝" in refused["detail_label"]
    assert refused["detail_label"] in first_page and refused["detail"] not in first_page
    ok_column = next(c for c in record["columns"] if c["fetch_ok"])
    assert (ok_column["detail"], ok_column["detail_code"], ok_column["detail_label"]) == (
        None,
        None,
        None,
    )


def test_the_site_page_words_robots_refusals_in_chinese(tmp_path):
    site = generate_sites(1, TODAY)[0]
    db = tmp_path / "m.db"
    with (
        SimulatorServer(Scenario(sites=[site]), clock=lambda: NOON) as sim,
        Store.open(db) as store,
    ):
        _load(store, [site], sim.url, tmp_path)
        store.import_columns(
            file="c",
            now=NOON,
            entries=[
                ColumnEntry(site.site_code, "内部", f"{sim.url}/site/private/", ColumnKind.NEWS)
            ],
        )
        settings = _settings(sim.url)
        asyncio.run(check_sites(store, settings, clock=lambda: NOON))
        site_id = store.find_site(site.site_code).id
    from fastapi.testclient import TestClient

    from monitor.api import create_app

    with TestClient(create_app(settings, str(db), warm=False)) as client:
        page = client.get(f"/sites/{site_id}?as_of=2026-12-04").text
        record = client.get(f"/api/sites/{site_id}?as_of=2026-12-04").json()
    refused = next(c for c in record["columns"] if c["name"] == "内部")
    assert refused["detail"] == "robots.txt disallows this page"
    assert refused["detail_code"] == "site.robots_disallows"
    assert refused["detail_label"] == "robots.txt 不允许抓取该网页"
    assert "robots.txt 不允许抓取该网页" in page and "disallows" not in page


# -- discovering columns --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("要闻动态", ColumnKind.NEWS),
        ("部门动态", ColumnKind.NEWS),
        ("通知公告", ColumnKind.NOTICES),
        ("政策文件", ColumnKind.POLICIES),
        ("政策解读", ColumnKind.POLICIES),
        ("人事任免公告", ColumnKind.PERSONNEL),
        ("发展规划", ColumnKind.PLANS),
        ("互动交流", ColumnKind.OTHER),
    ],
)
def test_a_columns_type_is_guessed_from_its_name(name, kind):
    from monitor.roster.sites import guess_kind

    assert guess_kind(name) is kind


def test_discover_proposes_the_navigation_and_checks_columns_only_once_accepted(
    tmp_path, capsys, monkeypatch, no_monitor_env
):
    # The CLI checks and judges at the real time: the site is generated for today.
    from monitor.dates import today

    site = generate_sites(4, today(ZoneInfo("Asia/Shanghai")))[3]  # five overdue columns
    db = tmp_path / "m.db"
    with SimulatorServer(Scenario(sites=[site])) as sim:
        write_sites_roster([site], tmp_path / "sites.csv", sim.url)
        monkeypatch.setenv("MONITOR_NETWORK__ALLOWED_NETWORKS", json.dumps([own_network(sim.url)]))
        monkeypatch.setenv("MONITOR_SITES__RATE_PER_S", "1000")
        assert _cli(capsys, "--db", str(db), "sites", "import", str(tmp_path / "sites.csv"))[0] == 0
        code, out, _ = _cli(capsys, "--db", str(db), "sites", "discover", site.site_code, "--json",
                            "--out", str(tmp_path / "proposed.csv"))  # fmt: skip
        assert code == 0
        proposed = json.loads(out)
        assert proposed["accepted"] == 0
        assert [(c["name"], c["type"]) for c in proposed["columns"]] == [
            (c.name, c.kind) for c in site.columns
        ]
        assert all(c["proposed"] for c in proposed["columns"])
        assert read_columns(tmp_path / "proposed.csv").problems == []  # an importable roster
        with Store.open(db) as store:
            assert store.site_columns() == {}  # proposals are not checked
        code, out, _ = _cli(
            capsys, "--db", str(db), "sites", "discover", site.site_code, "--accept", "--json"
        )
        assert json.loads(out)["accepted"] == len(site.columns)
        code, out, _ = _cli(capsys, "--db", str(db), "sites", "check", "--json")
        assert code == 0 and json.loads(out)["sites"] == 1
        code, out, _ = _cli(capsys, "--db", str(db), "sites", "status", "--json")
    (record,) = json.loads(out)
    assert site.truth is not None
    assert _found(record)[:2] == (site.truth.verdict, dict(site.truth.problems))


# -- safety: the byte cap and the outbound guard ------------------------------------------


def test_pages_over_the_byte_cap_and_refused_addresses_are_failed_checks_never_verdicts(tmp_path):
    site = generate_sites(5, TODAY)[4]  # its homepage would be stale
    with (
        SimulatorServer(Scenario(sites=[site]), clock=lambda: NOON) as sim,
        Store.open(tmp_path / "m.db") as store,
    ):
        _load(store, [site], sim.url, tmp_path)
        capped = _settings(sim.url, max_page_bytes=300)
        asyncio.run(check_sites(store, capped, clock=lambda: NOON))
        (status,) = site_verdicts(store, capped, TODAY)
        assert status.judgement.verdict is SiteVerdict.UNKNOWN
        assert status.judgement.problems == []
        assert {f.state for f in status.judgement.columns} == {"failed"}
        assert "larger than 300 bytes" in (status.judgement.columns[0].observation.detail or "")
        # Without allowed_networks the guard refuses loopback: not tried, so not unavailable.
        before = sim.stats["requests"]
        guarded = Settings(sites={"rate_per_s": 1000})
        asyncio.run(check_sites(store, guarded, clock=lambda: NOON))
        assert sim.stats["requests"] == before  # nothing reached the simulator
        (status,) = site_verdicts(store, guarded, TODAY)
    assert status.judgement.verdict is SiteVerdict.UNKNOWN and status.judgement.problems == []
    assert "refused" in (status.judgement.columns[0].observation.detail or "")


# -- window boundaries (calendar dates in Asia/Shanghai) -----------------------------------


def _column(
    kind: ColumnKind, newest: date | None, items: int = 5
) -> tuple[ColumnRow, SiteObservation]:
    column = ColumnRow(1, 1, kind.label, "http://h/col/", kind, "", 0)
    obs = SiteObservation(
        site=1, target=SiteTarget.COLUMN, url=column.url, observed_at=NOON, ok=True,
        reachable=True, column_id=1, items=items, newest_date=newest,
    )  # fmt: skip
    return column, obs


@pytest.mark.parametrize(
    ("kind", "on_time", "overdue"),
    [
        (ColumnKind.NEWS, date(2026, 11, 20), date(2026, 11, 19)),  # 2 weeks
        (ColumnKind.NOTICES, date(2026, 6, 4), date(2026, 6, 3)),  # 6 months
        (ColumnKind.POLICIES, date(2026, 6, 4), date(2026, 6, 3)),
        (ColumnKind.PERSONNEL, date(2025, 12, 4), date(2025, 12, 3)),  # 1 year
        (ColumnKind.PLANS, date(2025, 12, 4), date(2025, 12, 3)),
    ],
)
def test_a_columns_window_ends_on_the_calendar_day(kind, on_time, overdue):
    rules = Settings().sites
    for newest, stale in ((on_time, False), (overdue, True)):
        column, obs = _column(kind, newest)
        judgement = judge_site(SiteEvidence(columns={1: obs}), [column], rules, TODAY)
        assert ("stale_column" in {p.kind for p in judgement.problems}) is stale, newest


def test_other_columns_have_no_window_and_empty_ones_are_empty_not_overdue():
    rules = Settings().sites
    column, obs = _column(ColumnKind.OTHER, date(2010, 1, 1))
    judgement = judge_site(SiteEvidence(columns={1: obs}), [column], rules, TODAY)
    assert judgement.verdict is SiteVerdict.PASS
    column, obs = _column(ColumnKind.NEWS, None, items=0)
    judgement = judge_site(SiteEvidence(columns={1: obs}), [column], rules, TODAY)
    assert {p.kind: p.count for p in judgement.problems} == {"empty_column": 1}
    # items without any date are no update: overdue
    column, obs = _column(ColumnKind.NEWS, None, items=3)
    judgement = judge_site(SiteEvidence(columns={1: obs}), [column], rules, TODAY)
    assert {p.kind: p.count for p in judgement.problems} == {"stale_column": 1}


def test_the_homepage_window_ends_on_the_calendar_day():
    rules = Settings().sites
    for newest, stale in ((date(2026, 11, 20), False), (date(2026, 11, 19), True)):
        home = SiteObservation(
            site=1, target=SiteTarget.HOMEPAGE, url="http://h/", observed_at=NOON, ok=True,
            reachable=True, items=3, newest_date=newest,
        )  # fmt: skip
        judgement = judge_site(SiteEvidence(homepage=home), [], rules, TODAY)
        assert (judgement.verdict is SiteVerdict.FAIL) is stale
        assert (judgement.summary == "监测 2 周内首页无信息更新") is stale


def test_only_chrome_is_left_out_not_a_listing_whose_class_mentions_top():
    html = (
        '<div class="news-top"><ul><li><a href="/a">要闻</a> 2026-12-01</li></ul></div>'
        '<div class="footer-wrap"><ul><li><a href="/b">友情链接</a> 2026-12-03</li></ul></div>'
        '<div id="copyright">版权所有 2026-12-04</div>'
        '<ul><li><a href="/c">联系我们</a> 版权所有 © 2026 陕ICP备05001234号 2026-12-04</li></ul>'
    )
    page = read_page(html, "http://h/", TODAY)
    assert [(i.title, i.day) for i in page.items] == [("要闻", date(2026, 12, 1))]


def test_a_homepage_address_that_redirects_is_followed_and_judged(tmp_path):
    site = generate_sites(5, TODAY)[4]  # a silent homepage: its own list is 20 days old
    with (
        SimulatorServer(Scenario(sites=[site]), clock=lambda: NOON) as sim,
        Store.open(tmp_path / "m.db") as store,
    ):
        home = f"{sim.url}/site/{site.site_code}/home"
        store.import_sites(
            file="s",
            now=NOON,
            entries=[SiteEntry(site.site_code, site.name, home, site.unit, site.region)],
        )
        settings = _settings(sim.url)
        asyncio.run(check_sites(store, settings, clock=lambda: NOON))
        (status,) = site_verdicts(store, settings, TODAY)
    assert {p.kind: p.count for p in status.judgement.problems} == {"homepage_stale": 1}
    (item,) = status.judgement.problems[0].items
    assert item["url"] == home and item["last_date"] == "2026-11-14"


def test_an_xlsx_sites_roster_with_merged_region_and_unit_cells(tmp_path):
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["2026年政府网站检查情况"])
    sheet.append(["序号", "类别", "主办单位", "网站名称", "网址", "网站标识码", "主要问题"])
    sheet.append(
        [
            1,
            "汉阴县",
            "汉阴县人民政府",
            "汉阴县人民政府网",
            "http://www.hanyin.gov.cn/",
            6109210001,
            "",
        ]
    )
    sheet.append(
        [2, None, None, "汉阴县教育局网", "http://jyj.hanyin.gov.cn/", 6109210002, "1 个空栏目"]
    )
    sheet.merge_cells("B3:B4")
    sheet.merge_cells("C3:C4")
    path = tmp_path / "sites.xlsx"
    book.save(path)
    read = read_sites(path)
    assert read.problems == []
    assert [(e.site_code, e.region, e.unit) for _, e in read.entries] == [
        ("6109210001", "汉阴县", "汉阴县人民政府"),
        ("6109210002", "汉阴县", "汉阴县人民政府"),
    ]
