"""Reports built from a real SQLite history: content, order, reproducibility, formats."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from openpyxl import load_workbook

from monitor.dates import zone
from monitor.durations import Duration
from monitor.models import Observation, Outcome, Platform
from monitor.reports import (
    build_report,
    month_bounds,
    previous_month,
    render,
    write_monthly_report,
)
from monitor.reports.render_text import neutralise
from monitor.settings import Policy, Settings
from monitor.store import AccountChange, ImportRecord, Store

TZ = zone("Asia/Shanghai")
CST = timezone(timedelta(hours=8))
FEB = date(2020, 2, 29)
POLICY = Policy()  # zombie 1mo, suspended 6mo, warn 3d, evidence 3d

# (region, unit, platform, name, account_id, status), in roster order.
ROSTER = [
    ("石泉县", "石泉县统计局", Platform.WEIBO, "石泉统计", "1002", "operating"),
    ("市直部门", "市住房公积金中心", Platform.WECHAT, "安康住房公积金", "wx001", "operating"),
    ("市直部门", "市住房公积金中心", Platform.WEIBO, "安康公积金", "1001", "operating"),
    ("汉阴县", "汉阴县农林科技局", Platform.WECHAT, "汉阴农林科技", "wx002", "stopped"),
    ("岚皋县", "岚皋县公安局交通警察大队", Platform.WEIBO, "岚皋交警", "1003", "operating"),
    ("市直部门", "市人民政府办公室", Platform.WEIBO, "安康发布", "2803301701", "operating"),
    ("石泉县", "石泉县统计局", Platform.DOUYIN, "石泉统计抖音", "dy01", "operating"),
    ("市直部门", "市人民政府办公室", Platform.WECHAT, "安康发布", "wx003", "operating"),
    ("石泉县", "石泉县公安局", Platform.WEIBO, "石泉公安", "1004", "operating"),
    ("平利县", "平利县教育局", Platform.WEIBO, "平利教育", "1005", "cancelled"),
]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=CST)


def change(region, unit, platform, name, account_id, status, order, account=None):
    return AccountChange(
        identity=f"{platform.value}:id:{account_id}",
        platform=platform,
        account_id=account_id,
        unit=unit,
        fields={"name": name, "region": region, "status": status},
        roster_order=order,
        account=account,
    )


def import_roster(store: Store, rows, *, effective_at=None, ids=None, start=0) -> None:
    changes = [
        change(*row, order=start + i, account=ids[i] if ids else None) for i, row in enumerate(rows)
    ]
    store.apply_import(
        ImportRecord(
            file="roster.csv",
            form="long",
            imported_at=effective_at or datetime(2020, 1, 1, tzinfo=UTC),
            effective_at=effective_at,
        ),
        changes,
    )


def obs(account: int, seen: str, post: str | None, **extra) -> Observation:
    outcome = extra.pop("outcome", Outcome.OK)
    return Observation(
        account=account,
        observed_at=at(seen),
        source="manual",
        outcome=outcome,
        latest_post_at=at(post) if post else None,
        post_url=extra.pop("post_url", f"https://example.org/{account}" if post else None),
        **extra,
    )


def february_history(store: Store) -> None:
    """The fixture history: verdicts at 2020-02-29 as in the docstrings of the tests."""
    import_roster(store, ROSTER)
    seen = "2020-02-28T10:00"
    store.add_observations(
        [
            # January: 安康发布 (weibo) was a zombie, 石泉统计 too.
            obs(6, "2020-01-30T10:00", "2019-12-01T09:00"),
            obs(1, "2020-01-30T10:00", "2019-12-20T09:00"),
            obs(
                1,
                seen,
                "2020-01-13T09:00",
                profile={"screen_name": "石泉统计局", "verified": True, "verified_type": 0},
            ),
            obs(2, seen, "2020-01-09T20:00"),
            obs(3, seen, "2020-01-18T08:00"),
            obs(4, seen, "2019-04-22T08:00"),
            obs(5, seen, None, outcome=Outcome.NO_CONTENT),
            obs(
                6,
                seen,
                "2020-02-27T12:00",
                profile={"screen_name": "安康发布", "verified": True, "verified_type": 1},
            ),
            obs(7, seen, "2020-01-02T08:00"),
            obs(8, seen, None, silent_since=date(2020, 1, 1)),
            # 石泉公安 (9): never checked; 平利教育 (10): cancelled in the roster.
        ]
    )


@pytest.fixture
def store(tmp_path):
    with Store.open(tmp_path / "monitor.db") as s:
        february_history(s)
        yield s


def feb_report(store: Store, **kw):
    return build_report(store, FEB, POLICY, TZ, month="2020-02", **kw)


def csv_rows(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


EXPECTED_ROWS = [
    ["市直部门", "市住房公积金中心", "安康住房公积金", "", "2020.1.9", "僵尸微信", ""],
    ["市直部门", "市住房公积金中心", "", "安康公积金", "2020.1.18", "僵尸微博", ""],
    ["市直部门", "市人民政府办公室", "安康发布", "", "早于2020.1.1", "僵尸微信", ""],
    ["石泉县", "石泉县统计局", "", "石泉统计", "2020.1.13", "僵尸微博", ""],
    ["石泉县", "石泉县统计局", "", "", "2020.1.2", "僵尸账号", "抖音：石泉统计抖音"],
    ["汉阴县", "汉阴县农林科技局", "汉阴农林科技", "", "2019.4.22", "停运未注销", ""],
    ["岚皋县", "岚皋县公安局交通警察大队", "", "岚皋交警", "无内容", "僵尸微博", ""],
]


def test_the_csv_lists_problem_accounts_city_departments_first_then_roster_order(store):
    rows = csv_rows(render(feb_report(store), "csv"))
    assert rows[0] == [
        "类别", "主办单位", "政务微信", "政务微博", "最后更新时间", "问题类别",
        "其他平台", "账号ID", "沉寂天数", "证据链接",
    ]  # fmt: skip
    assert [r[:7] for r in rows[1:]] == EXPECTED_ROWS
    # Region and unit on every CSV row; ids, days silent and evidence follow.
    assert rows[1][7:] == ["wx001", "51", "https://example.org/2"]
    assert rows[3][7:] == ["wx003", "59", ""]
    assert rows[7][7:] == ["1003", "", ""]


def test_markdown_leaves_continued_region_and_unit_blank_like_the_official_table(store):
    md = render(feb_report(store), "md").decode()
    assert md.startswith("# 2020年2月政务新媒体检查结果\n")
    assert "| 市直部门 | 市住房公积金中心 | 安康住房公积金 |  | 2020.1.9 | 僵尸微信 |" in md
    assert "|  |  |  | 安康公积金 | 2020.1.18 | 僵尸微博 |" in md
    assert "|  | 市人民政府办公室 | 安康发布 |  | 早于2020.1.1 | 僵尸微信 |" in md
    assert "zombie after 1mo" not in md and "超过 1 个月未更新为僵尸" in md
    assert "超过 6 个月为停运未注销，提前 3 天预警，检测结果有效期 3 天" in md


def test_the_summary_counts_states_and_leaves_only_unknown_out_of_the_pass_rate(store):
    data = json.loads(render(feb_report(store), "json"))
    s = data["summary"]
    assert (s["accounts"], s["checked"], s["unknown"], s["cancelled"]) == (10, 8, 1, 1)
    assert (s["zombie"], s["no_content"], s["suspended"], s["active"]) == (6, 1, 1, 1)
    # 合格率 = neither zombie nor suspended / accounts with a verdict (unknown excluded):
    # the cancelled account has a verdict that is neither, so it counts in both.
    assert (s["judged"], s["passed"]) == (9, 2)
    assert s["pass_rate"] == pytest.approx(2 / 9)
    assert data["policy"] == {
        "zombie_after": "1mo",
        "suspended_after": "6mo",
        "warn_before": "3d",
        "evidence_max_age": "3d",
    }
    regions = {r["region"]: r for r in data["regions"]}
    assert [r["region"] for r in data["regions"]] == [
        "市直部门",
        "石泉县",
        "汉阴县",
        "岚皋县",
        "平利县",
    ]
    assert (
        regions["石泉县"]["accounts"],
        regions["石泉县"]["zombie"],
        regions["石泉县"]["unknown"],
    ) == (3, 2, 1)
    assert regions["平利县"]["pass_rate"] == 1.0  # one cancelled account: a verdict, not a problem
    assert [(u["unit"], u["problems"]) for u in data["top_units"]][:2] == [
        ("市住房公积金中心", 2),
        ("石泉县统计局", 2),
    ]
    assert len(data["rows"]) == 7
    assert data["rows"][2]["last_update_kind"] == "before"


def test_change_against_the_previous_month_lists_new_problems_and_recovered(store):
    report = feb_report(store)
    assert report.previous_as_of == date(2020, 1, 31)
    assert [(c.name, c.before, c.after) for c in report.recovered] == [
        ("安康发布", "zombie", "active")
    ]
    new = [c.name for c in report.new_problems]
    assert "石泉统计" not in new  # a zombie in January already
    assert len(new) == 6


def test_roster_problems_list_unverified_and_renamed_accounts(store):
    findings = [(f.kind.value, f.name, f.detail) for f in feb_report(store).roster_findings]
    assert ("name_differs", "石泉统计", "石泉统计局") in findings
    assert any(k == "not_verified" and n == "石泉统计" for k, n, _ in findings)
    assert not any(n == "安康发布" for _, n, _ in findings)


def test_roster_problems_keep_their_codes_and_are_worded_in_the_report_language(store):
    zh = json.loads(render(feb_report(store), "json"))["roster_problems"]
    renamed = next(f for f in zh if f["kind"] == "name_differs")
    assert renamed["detail"] == "石泉统计局"  # the English (raw) detail, as it always was
    assert renamed["detail_code"] == "roster.name_differs"
    assert renamed["detail_params"] == {"screen_name": "石泉统计局"}
    assert renamed["detail_label"] == "平台上的名称为「石泉统计局」"
    unverified = next(f for f in zh if f["kind"] == "not_verified")
    assert unverified["detail_label"].startswith("平台未认证为政府账号")
    assert "verified=" not in render(feb_report(store), "md").decode()
    assert "verified=" in render(feb_report(store), "md", "en").decode()


def test_an_account_missing_on_the_platform_is_a_roster_problem_not_a_zombie(store):
    store.add_observations([obs(10, "2020-02-28T11:00", None, outcome=Outcome.NOT_FOUND)])
    import_roster(
        store, [(*ROSTER[9][:5], "operating")], effective_at=at("2020-02-01T00:00"), ids=[10]
    )
    report = feb_report(store)
    assert [f.kind.value for f in report.roster_findings if f.name == "平利教育"] == ["missing"]
    assert "平利教育" not in [r.name for r in report.rows]


FORMATS = ["csv", "md", "html", "json", "xlsx"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_observations_dated_after_the_as_of_date_change_nothing(store, fmt):
    before = render(feb_report(store), fmt)
    store.add_observations(
        [
            obs(1, "2020-03-01T00:00", "2020-03-01T00:00"),  # the first minute after D
            obs(5, "2020-03-05T10:00", "2020-03-04T10:00"),
            obs(9, "2020-03-05T10:00", "2020-03-04T10:00"),
        ]
    )
    assert render(feb_report(store), fmt) == before


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_roster_edit_effective_after_the_as_of_date_changes_nothing(store, fmt):
    before = render(feb_report(store), fmt)
    renamed = [("石泉新区", "石泉县统计局（更名）", *ROSTER[0][2:])]
    import_roster(store, renamed, effective_at=at("2020-03-02T00:00"), ids=[1])
    assert render(feb_report(store), fmt) == before
    later = build_report(store, date(2020, 3, 2), POLICY, TZ)
    assert "石泉县统计局（更名）" in render(later, "csv").decode("utf-8-sig")


def test_the_february_report_is_byte_identical_whenever_generated(store):
    for fmt in FORMATS:
        assert render(feb_report(store), fmt) == render(feb_report(store), fmt)


def test_the_xlsx_has_three_sheets_merged_cells_a_chart_and_formulas_kept_as_text(store, tmp_path):
    import_roster(
        store,
        [
            ("市直部门", "=HYPERLINK(\"http://evil.example\",\"x\")", Platform.WEIBO, "@SUM(A1)", "2001", "operating"),
            ("市直部门", "+单位", Platform.WEIBO, "-账号", "2002", "operating"),
        ],
        start=20,
    )  # fmt: skip
    store.add_observations(
        [
            obs(11, "2020-02-28T10:00", "2019-12-30T10:00"),
            obs(12, "2020-02-28T10:00", "2019-12-30T10:00"),
        ]
    )
    path = tmp_path / "r.xlsx"
    path.write_bytes(render(feb_report(store), "xlsx"))
    wb = load_workbook(path)
    assert wb.sheetnames == ["汇总", "问题账号", "全部账号"]
    detail = wb["问题账号"]
    assert [c.value for c in detail[1]][:6] == [
        "类别",
        "主办单位",
        "政务微信",
        "政务微博",
        "最后更新时间",
        "问题类别",
    ]
    merged = {str(r) for r in detail.merged_cells.ranges}
    assert "A2:A6" in merged  # 市直部门: 3 fixture rows + 2 formula-named units
    assert "B2:B3" in merged  # 市住房公积金中心
    assert detail.freeze_panes == "A2"
    assert len(wb["汇总"]._charts) == 1
    formula_cells = [
        c for ws in wb for row in ws.iter_rows() for c in row
        if isinstance(c.value, str) and c.value[:1] in "=+-@"
    ]  # fmt: skip
    values = {c.value for c in formula_cells}
    assert {'=HYPERLINK("http://evil.example","x")', "@SUM(A1)", "+单位", "-账号"} <= values
    assert all(c.data_type == "s" and c.quotePrefix for c in formula_cells)
    everyone = wb["全部账号"]
    assert everyone.max_row == 1 + 12
    assert everyone.freeze_panes == "A2"


def test_every_xlsx_sheet_prints_a4_landscape_one_page_wide_with_titles_and_footer(store, tmp_path):
    path = tmp_path / "r.xlsx"
    path.write_bytes(render(feb_report(store), "xlsx"))
    wb = load_workbook(path)
    for ws in wb:
        setup = ws.page_setup
        assert (setup.orientation, setup.paperSize) == ("landscape", 9), ws.title
        assert (setup.fitToWidth, setup.fitToHeight) == (1, 0), ws.title
        assert ws.sheet_properties.pageSetUpPr.fitToPage, ws.title  # else fitToWidth is ignored
        assert ws.print_title_rows == "$1:$1", ws.title
        assert "2020年2月政务新媒体检查结果" in ws.oddFooter.left.text
        assert "&P" in ws.oddFooter.right.text and "&N" in ws.oddFooter.right.text


def test_the_pass_rate_is_a_number_formatted_as_a_percentage_everywhere(store, tmp_path):
    path = tmp_path / "r.xlsx"
    path.write_bytes(render(feb_report(store), "xlsx"))
    summary = load_workbook(path)["汇总"]
    rows = list(summary.iter_rows())
    rates = [row[1] for row in rows if row[0].value == "合格率"]  # the overall rate
    header = next(row for row in rows if row[0].value == "类别" and row[6].value == "合格率")
    regions = rows[header[0].row : header[0].row + 4]  # the first regions' rows
    rates += [row[6] for row in regions]
    assert len(rates) == 5
    for cell in rates:
        assert isinstance(cell.value, int | float) and cell.number_format == "0.0%", cell.value


def test_xlsx_columns_fit_their_content_and_problem_rows_are_shaded(store, tmp_path):
    long_id = "MS4wLjABAAAA" + "x" * 32
    import_roster(
        store,
        [("石泉县", "石泉县文化和旅游广电局", Platform.DOUYIN, "石泉文旅", long_id, "operating")],
        start=40,
    )
    url = "https://www.douyin.com/video/" + "7" * 19 + "?previous_page=app_code_link&x=1"
    store.add_observations([obs(11, "2020-02-28T10:00", "2019-12-30T10:00", post_url=url)])
    path = tmp_path / "r.xlsx"
    path.write_bytes(render(feb_report(store), "xlsx"))
    wb = load_workbook(path)
    for name, id_col in (("问题账号", "H"), ("全部账号", "F")):
        ws = wb[name]
        assert ws.column_dimensions[id_col].width >= len(long_id), name  # IDs whole
        row = next(r for r in ws.iter_rows(min_row=2) if long_id in [c.value for c in r])
        link = next(c for c in row if c.value == url)
        if len(url) > ws.column_dimensions[link.column_letter].width:
            # A long link wraps inside its own row: the row is tall enough for it.
            assert link.alignment.wrap_text
            assert ws.row_dimensions[link.row].height >= 30
        ident = next(c for c in row if c.value == long_id)
        assert ident.fill.fgColor.rgb.endswith("FBE3E1"), name  # a zombie row, shaded
    everyone = wb["全部账号"]
    active = next(r for r in everyone.iter_rows(min_row=2) if r[7].value == "正常")
    assert active[0].fill.fill_type is None
    # The 依据 column speaks the report's language.
    reasons = [r[12].value for r in everyone.iter_rows(min_row=2)]
    assert any(r.startswith("最后发布于") for r in reasons)
    assert not any("last post" in r for r in reasons)
    english = load_workbook(io.BytesIO(render(feb_report(store), "xlsx", "en")))["全部账号"]
    assert any(str(r[12].value).startswith("last post") for r in english.iter_rows(min_row=2))


def test_the_csv_neutralises_text_a_spreadsheet_would_run():
    assert neutralise("=1+1") == "'=1+1"
    assert neutralise("@SUM(A1)") == "'@SUM(A1)"
    assert neutralise("-2") == "'-2"
    assert neutralise("安康发布") == "安康发布"
    assert neutralise(12) == 12


def test_the_html_escapes_every_value_and_is_self_contained(store):
    import_roster(
        store,
        [("<b>区</b>", "<script>alert(1)</script>", Platform.WEIBO, "x\"onmouseover=1", "3001", "operating")],
        start=30,
    )  # fmt: skip
    store.add_observations([obs(11, "2020-02-28T10:00", "2019-12-30T10:00")])
    html = render(feb_report(store), "html").decode()
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b>区</b>" not in html and "&lt;b&gt;区&lt;/b&gt;" in html
    assert "x&#34;onmouseover=1" in html
    assert "@page { size: A4" in html and "<svg" in html
    assert "src=" not in html
    # The one link is the icon, inlined: nothing is fetched when the file is opened.
    assert re.findall(r'<link[^>]*href="([^":]*):', html) == ["data"]


@pytest.mark.parametrize(("post_day", "listed"), [("2020-02-28", True), ("2020-02-29", False)])
def test_the_zombie_window_edge_is_exact(tmp_path, post_day, listed):
    """Window 1mo at 2020-03-31: the line is 2020-02-29; a post that day is not silent."""
    with Store.open(tmp_path / "m.db") as s:
        import_roster(s, [ROSTER[0]])
        s.add_observations([obs(1, "2020-03-31T23:59", f"{post_day}T23:59")])
        report = build_report(s, date(2020, 3, 31), POLICY, TZ, month="2020-03")
    assert [r.name for r in report.rows] == (["石泉统计"] if listed else [])


def test_english_labels_keep_the_official_six_columns_and_their_values(store):
    rows = csv_rows(render(feb_report(store), "csv", "en"))
    assert rows[0][:6] == ["类别", "主办单位", "政务微信", "政务微博", "最后更新时间", "问题类别"]
    assert rows[0][6:] == ["Other platforms", "Account ID", "Days silent", "Evidence link"]
    assert rows[1][5] == "僵尸微信"
    md = render(feb_report(store), "md", "en").decode()
    assert md.startswith("# Government new-media check results, February 2020\n")


def test_an_as_of_report_names_its_date_in_the_title(store):
    report = build_report(store, date(2020, 2, 28), POLICY, TZ)
    assert render(report, "md").decode().startswith("# 2020年2月28日政务新媒体检查结果\n")


def test_the_policy_given_is_the_policy_applied_and_printed(store):
    strict = Policy(zombie_after=Duration(days=14))
    report = build_report(store, FEB, strict, TZ, month="2020-02")
    assert report.policy["zombie_after"] == "2w"
    assert "超过 2 周未更新为僵尸" in render(report, "md").decode()


def test_write_monthly_report_writes_each_format_atomically(store, tmp_path):
    settings = Settings(reports={"mkdir": True})  # the folder does not exist yet
    folder = tmp_path / "out"
    paths = write_monthly_report(store, settings, "2020-02", folder, ["xlsx", "csv", "md"])
    assert [p.name for p in paths] == [
        "政务新媒体检查结果-2020-02.xlsx",
        "政务新媒体检查结果-2020-02.csv",
        "政务新媒体检查结果-2020-02.md",
    ]
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in paths)  # no temp left
    assert paths[1].read_bytes() == render(feb_report(store), "csv")
    with pytest.raises(ValueError, match="pdf"):
        write_monthly_report(store, settings, "2020-02", folder, ["pdf"])


def test_no_secret_names_or_values_reach_a_report(store, monkeypatch):
    secret = "SUPERSECRET_APPSECRET_ENV"
    store.conn.execute(
        "UPDATE account_versions SET secret_env = ?, appid = 'wxAPPID123'", (secret,)
    )
    monkeypatch.setenv(secret, "s3cr3t-value")
    for fmt in ["csv", "md", "html", "json"]:
        data = render(feb_report(store), fmt)
        assert secret.encode() not in data and b"s3cr3t" not in data and b"wxAPPID123" not in data


def test_month_helpers():
    assert month_bounds("2020-02") == (date(2020, 2, 1), date(2020, 2, 29))
    assert month_bounds("2021-12") == (date(2021, 12, 1), date(2021, 12, 31))
    assert previous_month(date(2020, 3, 4)) == "2020-02"
    assert previous_month(date(2020, 1, 1)) == "2019-12"
    with pytest.raises(ValueError, match="YYYY-MM"):
        month_bounds("2020-13")
