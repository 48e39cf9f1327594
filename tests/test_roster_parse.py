"""Reading roster files: both forms, encodings, XLSX merged cells, every problem kind."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.models import Platform, RosterStatus
from monitor.roster import (
    Problem,
    RosterEntry,
    identity_key,
    parse_platform,
    parse_status,
    read_roster,
)

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "roster"

LONG_HEADER = "类别,主办单位,平台,账号名称,账号ID,状态"


def write(tmp_path: Path, text: str, name: str = "roster.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def make_xlsx(
    tmp_path: Path,
    rows: list[list[object]],
    merges: tuple[str, ...] = (),
    name: str = "roster.xlsx",
    extra_sheets: dict[str, list[list[object]]] | None = None,
) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "名单"
    for row in rows:
        ws.append(row)
    for merge in merges:
        ws.merge_cells(merge)
    for title, sheet_rows in (extra_sheets or {}).items():
        other = wb.create_sheet(title)
        for row in sheet_rows:
            other.append(row)
    path = tmp_path / name
    wb.save(path)
    return path


def by_row(result) -> dict[int, list[Problem]]:
    rows: dict[int, list[Problem]] = {}
    for problem in result.problems:
        rows.setdefault(problem.row, []).append(problem)
    return rows


def only_problem(result) -> Problem:
    assert len(result.problems) == 1, [str(p) for p in result.problems]
    return result.problems[0]


# --- long form ----------------------------------------------------------------


def test_it_reads_a_long_form_roster_with_every_field(tmp_path):
    path = write(
        tmp_path,
        "类别,主办单位,平台,账号名称,账号ID,状态,主管单位,联系人,备注,来源,订阅地址,appid,secret_env\n"
        "市直部门,市人民政府办公室,微博,安康发布,2803301701,运行,市人民政府,张三,官方,,,,\n"
        ",,微信,安康发布,,停运,,,,wechat,,wx0123456789abcdef,ANKANG_SECRET\n"
        ",,抖音,安康抖音,,,,,,feed,https://rss.example.org/douyin/1,,\n",
    )
    result = read_roster(path)
    assert result.problems == []
    assert result.form == "long"
    assert result.rows_read == 3
    weibo, wechat, douyin = result.entries
    assert weibo == RosterEntry(
        row=2,
        order=0,
        region="市直部门",
        unit="市人民政府办公室",
        platform=Platform.WEIBO,
        name="安康发布",
        account_id="2803301701",
        status=RosterStatus.OPERATING,
        supervisor="市人民政府",
        contact="张三",
        note="官方",
    )
    assert (wechat.row, wechat.order, wechat.region, wechat.unit) == (
        3,
        1,
        "市直部门",
        "市人民政府办公室",
    )
    assert wechat.status is RosterStatus.STOPPED
    assert (wechat.source, wechat.appid, wechat.secret_env) == (
        "wechat_api",
        "wx0123456789abcdef",
        "ANKANG_SECRET",
    )
    assert douyin.status is RosterStatus.OPERATING  # blank status means operating
    assert douyin.feed_url == "https://rss.example.org/douyin/1"
    assert result.valid_entries() == result.entries


def test_entry_key_and_versioned_fields(tmp_path):
    entry = RosterEntry(2, 0, "石泉县", "石泉县统计局", Platform.WEIBO, "石泉统计", "123")
    assert entry.key == "weibo:id:123" == identity_key(Platform.WEIBO, "123", "石泉统计")
    assert identity_key("weibo", "", "石泉统计") == "weibo:name:石泉统计"
    assert entry.fields() == {
        "region": "石泉县",
        "unit": "石泉县统计局",
        "name": "石泉统计",
        "status": RosterStatus.OPERATING,
        "supervisor": "",
        "contact": "",
        "note": "",
        "source": "",
        "feed_url": "",
        "appid": "",
        "secret_env": "",
    }


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030", "gbk"])
def test_it_detects_the_encoding_of_a_csv(tmp_path, encoding):
    path = write(
        tmp_path,
        f"{LONG_HEADER}\r\n石泉县,石泉县统计局,微博,石泉统计,,停更\r\n",
        encoding=encoding,
    )
    result = read_roster(path)
    assert result.problems == []
    [entry] = result.entries
    assert (entry.region, entry.unit, entry.name) == ("石泉县", "石泉县统计局", "石泉统计")
    assert entry.status is RosterStatus.STOPPED


def test_it_reads_excel_unicode_text_utf16_tab_separated(tmp_path):
    text = "类别\t主办单位\t平台\t账号名称\r\n石泉县\t石泉县统计局\t微博\t石泉统计\r\n"
    path = tmp_path / "roster.txt"
    path.write_bytes(text.encode("utf-16"))
    result = read_roster(path)
    assert result.problems == []
    assert [e.name for e in result.entries] == ["石泉统计"]


def test_english_headers_are_case_insensitive_and_trimmed(tmp_path):
    path = write(
        tmp_path,
        " Region ,UNIT,Platform,\u3000Name\u3000,Account ID,Status (运行/停运/已注销),Feed_URL\n"
        "市直部门,市公安局,Douyin,安康公安,,Stopped,https://rss.example.org/x\n",
    )
    result = read_roster(path)
    assert result.problems == []
    [entry] = result.entries
    assert entry.platform is Platform.DOUYIN
    assert entry.status is RosterStatus.STOPPED
    assert entry.feed_url == "https://rss.example.org/x"


def test_cells_are_stripped_of_whitespace_including_full_width_spaces(tmp_path):
    path = write(
        tmp_path, f"{LONG_HEADER}\n 石泉县\u3000,\t石泉县统计局 ,\u3000微博, 石泉统计\u3000,,\n"
    )
    [entry] = read_roster(path).entries
    assert (entry.region, entry.unit, entry.platform, entry.name) == (
        "石泉县",
        "石泉县统计局",
        Platform.WEIBO,
        "石泉统计",
    )


@pytest.mark.parametrize(
    ("text", "platform"),
    [
        ("微信", Platform.WECHAT),
        ("WeChat", Platform.WECHAT),
        ("公众号", Platform.WECHAT),
        ("微信公众号", Platform.WECHAT),
        ("微博", Platform.WEIBO),
        ("weibo", Platform.WEIBO),
        ("新浪微博", Platform.WEIBO),
        ("抖音", Platform.DOUYIN),
        ("头条", Platform.TOUTIAO),
        ("今日头条", Platform.TOUTIAO),
        ("头条号", Platform.TOUTIAO),
        ("快手", Platform.KUAISHOU),
        ("哔哩哔哩", Platform.BILIBILI),
        ("B站", Platform.BILIBILI),
        ("bilibili", Platform.BILIBILI),
        ("RSS", Platform.FEED),
        ("feed", Platform.FEED),
    ],
)
def test_platform_names_in_chinese_or_english(text, platform):
    assert parse_platform(text) is platform


def test_unknown_platform_names_are_not_guessed():
    assert parse_platform("weixin") is None
    assert parse_platform("知乎") is None


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("", RosterStatus.OPERATING),
        ("运行", RosterStatus.OPERATING),
        ("正常", RosterStatus.OPERATING),
        ("Operating", RosterStatus.OPERATING),
        ("停运", RosterStatus.STOPPED),
        ("停更", RosterStatus.STOPPED),
        ("关停", RosterStatus.STOPPED),
        ("stopped", RosterStatus.STOPPED),
        ("已注销", RosterStatus.CANCELLED),
        ("注销", RosterStatus.CANCELLED),
        ("cancelled", RosterStatus.CANCELLED),
    ],
)
def test_status_words_and_their_synonyms(text, status):
    assert parse_status(text) is status


def test_blank_region_and_unit_continue_the_row_above(tmp_path):
    path = write(
        tmp_path,
        f"{LONG_HEADER}\n"
        "市直部门,市住房公积金中心,微信,安康住房公积金,,\n"
        ",,微博,安康公积金,,\n"
        ",市公安局,微博,安康公安,,\n"
        "石泉县,石泉县统计局,微博,石泉统计,,\n"
        "石泉县,,微信,石泉统计微信,,\n",
    )
    result = read_roster(path)
    assert result.problems == []
    assert [(e.row, e.region, e.unit) for e in result.entries] == [
        (2, "市直部门", "市住房公积金中心"),
        (3, "市直部门", "市住房公积金中心"),
        (4, "市直部门", "市公安局"),
        (5, "石泉县", "石泉县统计局"),
        (6, "石泉县", "石泉县统计局"),  # same region written again: the unit continues
    ]


def test_rows_are_numbered_as_a_spreadsheet_shows_them(tmp_path):
    path = write(
        tmp_path,
        f"{LONG_HEADER},备注\n"
        "市直部门,市公安局,微博,安康公安,,,\n"
        "\n"
        ",,,,,,\n"
        ',,抖音,安康公安,,,"第一行\n第二行"\n'
        ",,头条,安康公安,,,\n",
    )
    result = read_roster(path)
    assert result.problems == []
    assert result.rows_read == 3
    assert [(e.row, e.platform) for e in result.entries] == [
        (2, Platform.WEIBO),
        (5, Platform.DOUYIN),
        (6, Platform.TOUTIAO),
    ]
    assert result.entries[1].note == "第一行\n第二行"


def test_formula_like_text_is_kept_as_plain_text(tmp_path):
    path = write(
        tmp_path,
        f"{LONG_HEADER},备注\n"
        '市直部门,市公安局,微博,=HYPERLINK("http://x"),,,+86 0915\n'
        ",,抖音,-安康公安,,,@所有人\n",
    )
    result = read_roster(path)
    assert result.problems == []
    assert [(e.name, e.note) for e in result.entries] == [
        ('=HYPERLINK("http://x")', "+86 0915"),
        ("-安康公安", "@所有人"),
    ]


def test_a_title_row_above_the_header_is_skipped(tmp_path):
    path = write(
        tmp_path,
        "2020年第一季度政务新媒体检查情况,,,\n类别,主办单位,平台,账号名称\n石泉县,石泉县统计局,微博,石泉统计\n",
    )
    result = read_roster(path)
    assert result.problems == []
    assert [e.row for e in result.entries] == [3]


# --- wide form ----------------------------------------------------------------


def test_it_reads_the_official_wide_table(tmp_path):
    result = read_roster(FIXTURES / "wide_official_table.csv")
    assert result.problems == []
    assert result.form == "wide"
    assert [(e.row, e.region, e.unit, e.platform, e.name) for e in result.entries] == [
        (2, "市直部门", "市住房公积金中心", Platform.WECHAT, "安康住房公积金"),
        (3, "市直部门", "市住房公积金中心", Platform.WEIBO, "安康公积金"),
        (4, "石泉县", "石泉县统计局", Platform.WEIBO, "石泉统计"),
        (5, "汉阴县", "汉阴县农林科技局", Platform.WECHAT, "汉阴农林科技"),
        (6, "岚皋县", "岚皋县公安局交通警察大队", Platform.WEIBO, "岚皋交警"),
    ]
    # 问题类别 (停运未注销) is the notice's verdict, not a roster status.
    assert {e.status for e in result.entries} == {RosterStatus.OPERATING}


def test_wide_form_accounts_of_a_row_come_in_column_order_with_shared_fields(tmp_path):
    path = write(
        tmp_path,
        "类别,主办单位,政务微信,政务微博,政务抖音,政务头条,状态,主管单位,联系人,备注\n"
        "市直部门,市公安局,安康公安,安康公安微博,安康公安抖音,安康公安头条,停运,市政府,王五,整改中\n"
        ",,安康交警,,,,,,,\n",
    )
    result = read_roster(path)
    assert result.problems == []
    first_row = [e for e in result.entries if e.row == 2]
    assert [(e.order, e.platform) for e in first_row] == [
        (0, Platform.WECHAT),
        (1, Platform.WEIBO),
        (2, Platform.DOUYIN),
        (3, Platform.TOUTIAO),
    ]
    for entry in first_row:
        assert (entry.status, entry.supervisor, entry.contact, entry.note) == (
            RosterStatus.STOPPED,
            "市政府",
            "王五",
            "整改中",
        )
    last = result.entries[-1]
    assert (last.row, last.order, last.name, last.status) == (
        3,
        4,
        "安康交警",
        RosterStatus.OPERATING,
    )


def test_wide_form_cell_with_several_lines_is_several_accounts(tmp_path):
    path = write(tmp_path, '类别,主办单位,政务微博\n石泉县,石泉县人民政府,"石泉发布\n石泉旅游"\n')
    result = read_roster(path)
    assert result.problems == []
    assert [(e.row, e.name) for e in result.entries] == [(2, "石泉发布"), (2, "石泉旅游")]


def test_wide_form_refuses_columns_that_describe_one_account(tmp_path):
    path = write(tmp_path, "类别,主办单位,政务微博,账号ID\n石泉县,石泉县统计局,石泉统计,123\n")
    problem = only_problem(read_roster(path))
    assert (problem.row, problem.column) == (1, "账号ID")
    assert "only works in the long form" in problem.message


# --- XLSX -----------------------------------------------------------------------


def test_xlsx_merged_cells_fill_every_cell_of_the_range(tmp_path):
    path = make_xlsx(
        tmp_path,
        [
            ["类别", "主办单位", "政务微信", "政务微博", "最后更新时间", "问题类别"],
            ["市直部门", "市住房公积金中心", "安康住房公积金", None, "2020. 2. 9", "僵尸微信"],
            [None, None, None, "安康公积金", "2020. 2. 18", "僵尸微博"],
            [None, "市公安局", None, "安康公安", None, None],
            ["石泉县", "石泉县统计局", None, "石泉统计", "2020. 1. 13", "僵尸微博"],
        ],
        merges=("A2:A4", "B2:B3"),
    )
    result = read_roster(path)
    assert result.problems == []
    assert result.sheet == "名单"
    assert [(e.row, e.region, e.unit, e.name) for e in result.entries] == [
        (2, "市直部门", "市住房公积金中心", "安康住房公积金"),
        (3, "市直部门", "市住房公积金中心", "安康公积金"),
        (4, "市直部门", "市公安局", "安康公安"),
        (5, "石泉县", "石泉县统计局", "石泉统计"),
    ]


def test_xlsx_numbers_read_as_typed_and_formulas_as_literal_text(tmp_path):
    path = make_xlsx(
        tmp_path,
        [
            ["类别", "主办单位", "平台", "账号名称", "账号ID", "备注"],
            ["石泉县", "石泉县统计局", "微博", "石泉统计", 6601234567, '=CONCAT("a","b")'],
            ["石泉县", "石泉县统计局", "微信", "=B3", None, None],
        ],
    )
    result = read_roster(path)
    assert result.problems == []
    weibo, wechat = result.entries
    assert weibo.account_id == "6601234567"
    assert weibo.note == '=CONCAT("a","b")'
    assert wechat.name == "=B3"


def test_xlsx_sheet_option_picks_a_sheet_by_name(tmp_path):
    path = make_xlsx(
        tmp_path,
        [["说明"], ["这是封面"]],
        extra_sheets={
            "2024名单": [
                ["类别", "主办单位", "平台", "账号名称"],
                ["石泉县", "石泉县统计局", "微博", "石泉统计"],
            ]
        },
    )
    result = read_roster(path, sheet="2024名单")
    assert result.problems == []
    assert [e.name for e in result.entries] == ["石泉统计"]


def test_xlsx_unknown_sheet_names_the_sheets_available(tmp_path):
    path = make_xlsx(tmp_path, [["类别"]], extra_sheets={"2024名单": []})
    problem = only_problem(read_roster(path, sheet="2025名单"))
    assert (problem.file, problem.row, problem.column) == ("roster.xlsx", None, None)
    assert "'2025名单'" in problem.message
    assert "'名单', '2024名单'" in problem.message


# --- problems ---------------------------------------------------------------------


def test_a_roster_with_five_errors_reports_all_five_with_rows_and_columns():
    result = read_roster(FIXTURES / "long_five_errors.csv")
    assert [(p.row, p.column) for p in result.problems] == [
        (3, "平台"),
        (4, "账号名称"),
        (5, "状态"),
        (6, "secret_env"),
        (8, "主办单位"),
    ]
    messages = [p.message for p in result.problems]
    assert messages[0].startswith("unknown platform 'weixin' (use 微信/wechat, 微博/weibo")
    assert messages[1] == "missing account name (账号名称)"
    assert messages[2].startswith("unknown status '休眠'")
    assert messages[3] == "secret_env must name an environment variable, not hold the secret"
    assert messages[4].startswith("missing unit (主办单位)")
    assert [e.row for e in result.valid_entries()] == [2, 7]


def test_problem_reads_as_file_row_column_message():
    problem = Problem("roster.csv", 7, "平台", "unknown platform 'weixin'")
    assert str(problem) == "roster.csv, row 7, 平台: unknown platform 'weixin'"
    assert str(Problem("roster.csv", None, None, "empty file")) == "roster.csv: empty file"


def test_missing_platform(tmp_path):
    path = write(tmp_path, f"{LONG_HEADER}\n石泉县,石泉县统计局,,石泉统计,,\n")
    problem = only_problem(read_roster(path))
    assert (problem.row, problem.column, problem.message) == (2, "平台", "missing platform (平台)")


def test_missing_region_when_never_given(tmp_path):
    path = write(tmp_path, f"{LONG_HEADER}\n,石泉县统计局,微博,石泉统计,,\n,,微信,石泉统计,,\n")
    result = read_roster(path)
    assert [(p.row, p.column, p.message) for p in result.problems] == [
        (2, "类别", "missing region (类别)"),
        (3, "类别", "missing region (类别)"),
    ]
    assert result.entries == []


def test_missing_unit_when_never_given(tmp_path):
    path = write(tmp_path, f"{LONG_HEADER}\n石泉县,,微博,石泉统计,,\n")
    problem = only_problem(read_roster(path))
    assert (problem.row, problem.column, problem.message) == (
        2,
        "主办单位",
        "missing unit (主办单位)",
    )


def test_duplicate_account_rejects_every_row_involved(tmp_path):
    path = write(
        tmp_path,
        f"{LONG_HEADER}\n"
        "石泉县,石泉县统计局,微博,石泉统计,,\n"
        "石泉县,石泉县人民政府,微博,石泉发布,,\n"
        "石泉县,石泉县统计局,微博,石泉统计,,\n",
    )
    result = read_roster(path)
    problem = only_problem(result)
    assert (problem.row, problem.column) == (4, "账号名称")
    assert problem.message == "duplicate account 微博 '石泉统计': already listed in row 2"
    assert [e.row for e in result.entries] == [2, 3]  # one entry per account
    assert [e.row for e in result.valid_entries()] == [3]


def test_conflicting_rows_name_both_rows_and_the_difference(tmp_path):
    path = write(
        tmp_path,
        f"{LONG_HEADER}\n"
        "石泉县,石泉县统计局,微博,石泉统计,6601234567,\n"
        "汉阴县,汉阴县统计局,微博,汉阴统计,6601234567,\n",
    )
    result = read_roster(path)
    problem = only_problem(result)
    assert (problem.row, problem.column) == (3, "类别")
    assert problem.message.startswith(
        "conflicting rows 2 and 3 for the same account 微博 '汉阴统计' (ID 6601234567): "
    )
    assert "类别/region '石泉县' vs '汉阴县'" in problem.message
    assert "账号名称/name '石泉统计' vs '汉阴统计'" in problem.message
    assert result.valid_entries() == []


def test_same_name_on_different_platforms_is_not_a_duplicate(tmp_path):
    path = write(
        tmp_path, f"{LONG_HEADER}\n石泉县,石泉县人民政府,微博,石泉发布,,\n,,微信,石泉发布,,\n"
    )
    assert len(read_roster(path).valid_entries()) == 2


def test_secret_env_holding_the_secret_is_a_problem_and_not_kept(tmp_path):
    path = write(
        tmp_path,
        "类别,主办单位,平台,账号名称,secret_env\n"
        "石泉县,石泉县人民政府,微信,石泉发布,my secret!\n"
        "石泉县,石泉县人民政府,微信,石泉发布2,0123456789abcdef0123456789abcdef\n",
    )
    result = read_roster(path)
    assert [(p.row, p.column, p.message) for p in result.problems] == [
        (2, "secret_env", "secret_env must name an environment variable, not hold the secret"),
        (3, "secret_env", "secret_env must name an environment variable, not hold the secret"),
    ]
    assert all(
        "secret" not in p.message.replace("secret_env", "").replace("the secret", "")
        for p in result.problems
    )
    assert [e.secret_env for e in result.entries] == ["", ""]
    assert "0123456789abcdef" not in " ".join(str(p) for p in result.problems)


def test_feed_url_must_be_a_url(tmp_path):
    path = write(
        tmp_path,
        "类别,主办单位,平台,账号名称,订阅地址\n石泉县,石泉县人民政府,RSS,石泉发布,rss.example.org\n",
    )
    problem = only_problem(read_roster(path))
    assert (problem.row, problem.column) == (2, "订阅地址")


def test_cell_too_long(tmp_path):
    path = write(tmp_path, f"{LONG_HEADER}\n石泉县,石泉县统计局,微博,{'长' * 1001},,\n")
    problem = only_problem(read_roster(path))
    assert (problem.row, problem.column) == (2, "账号名称")
    assert problem.message == "cell too long (1001 characters; at most 1000)"


def test_unknown_and_duplicate_headers(tmp_path):
    path = write(
        tmp_path,
        "类别,主办单位,平台,账号名称,platform,粉丝数\n石泉县,石泉县统计局,微博,石泉统计,微信,100\n",
    )
    result = read_roster(path)
    assert [(p.row, p.column) for p in result.problems] == [(1, "platform"), (1, "粉丝数")]
    assert result.problems[0].message.startswith(
        "duplicate column: 'platform' means the same as '平台'"
    )
    assert result.problems[1].message.startswith("unknown column '粉丝数'")
    # the first of two duplicate columns is used; rows themselves are fine
    assert [e.platform for e in result.valid_entries()] == [Platform.WEIBO]


def test_values_under_a_column_without_header(tmp_path):
    path = write(tmp_path, f"{LONG_HEADER}\n石泉县,石泉县统计局,微博,石泉统计,,,多余\n")
    problem = only_problem(read_roster(path))
    assert (problem.row, problem.column) == (1, "column G")
    assert "first at row 2" in problem.message


def test_official_columns_are_ignored_in_the_long_form(tmp_path):
    path = write(
        tmp_path,
        f"序号,{LONG_HEADER},最后更新时间,问题类别\n1,石泉县,石泉县统计局,微博,石泉统计,,,2020. 1. 13,僵尸微博\n",
    )
    result = read_roster(path)
    assert result.problems == []
    assert len(result.entries) == 1


def test_both_forms_at_once_is_an_error(tmp_path):
    path = write(
        tmp_path,
        "类别,主办单位,平台,账号名称,政务微博\n石泉县,石泉县统计局,微博,石泉统计,石泉统计\n",
    )
    result = read_roster(path)
    problem = only_problem(result)
    assert problem.row == 1
    assert "use one form" in problem.message
    assert result.entries == []


def test_neither_form_is_an_error(tmp_path):
    path = write(tmp_path, "类别,主办单位,账号名称\n石泉县,石泉县统计局,石泉统计\n")
    problem = only_problem(read_roster(path))
    assert problem.message == "no 平台/platform column and no 政务<platform> columns"


def test_missing_required_column_yields_no_entries(tmp_path):
    path = write(tmp_path, "主办单位,平台,账号名称\n石泉县统计局,微博,石泉统计\n")
    result = read_roster(path)
    assert only_problem(result).message == "missing column 类别/region"
    assert result.entries == []


def test_unknown_platform_column_in_wide_form(tmp_path):
    path = write(
        tmp_path, "类别,主办单位,政务微博,政务知乎\n石泉县,石泉县统计局,石泉统计,石泉知乎\n"
    )
    result = read_roster(path)
    problem = only_problem(result)
    assert (problem.row, problem.column) == (1, "政务知乎")
    assert problem.message.startswith("unknown platform in column '政务知乎'")
    assert [e.name for e in result.entries] == ["石泉统计"]


def test_empty_file_and_header_only(tmp_path):
    assert only_problem(read_roster(write(tmp_path, ""))).message == "empty file"
    assert only_problem(read_roster(write(tmp_path, "\r\n \r\n"))).message == "empty file"
    header_only = read_roster(write(tmp_path, LONG_HEADER + "\n"))
    assert only_problem(header_only).message == "no accounts in the file"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64, ".xls"),
        (b"PK\x03\x04 this is not really a zip", "cannot read the file as XLSX"),
        (b"\x80\x81\xff abc", "unknown encoding"),
        (b"\xff\xfe\xff\xff\x80\x81", "binary"),
    ],
)
def test_unreadable_file_is_one_problem_naming_the_file(tmp_path, content, expected):
    path = tmp_path / "roster.xlsx"
    path.write_bytes(content)
    problem = only_problem(read_roster(path))
    assert (problem.file, problem.row, problem.column) == ("roster.xlsx", None, None)
    assert expected in problem.message


def test_missing_file_is_a_problem(tmp_path):
    problem = only_problem(read_roster(tmp_path / "nope.csv"))
    assert problem.message == "cannot read the file: no such file"


def test_a_zip_that_is_not_a_workbook(tmp_path):
    import zipfile

    path = tmp_path / "roster.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("hello.txt", "hi")
    problem = only_problem(read_roster(path))
    assert "cannot read the file as XLSX" in problem.message


# --- examples, size, robustness -----------------------------------------------------


@pytest.mark.parametrize(
    ("name", "form"), [("roster.example.csv", "long"), ("roster.wide.example.csv", "wide")]
)
def test_the_example_rosters_parse_without_problems(name, form):
    result = read_roster(ROOT / "config" / name)
    assert result.problems == []
    assert result.form == form
    assert len(result.entries) >= 12
    assert len({e.region for e in result.entries}) >= 3
    assert "市直部门" in {e.region for e in result.entries}
    if form == "long":
        assert {Platform.WEIBO, Platform.WECHAT, Platform.DOUYIN} <= {
            e.platform for e in result.entries
        }
        assert any(e.feed_url for e in result.entries)
        assert any(e.status is RosterStatus.STOPPED for e in result.entries)
        assert any(e.secret_env for e in result.entries)


def test_a_100000_row_csv_parses_whole(tmp_path):
    lines = [LONG_HEADER + ",备注"]
    platforms = ["微博", "微信", "抖音", "头条"]
    for i in range(100_000):
        region = f"县{i // 5000}" if i % 5000 == 0 else ""
        lines.append(f"{region},单位{i // 20},{platforms[i % 4]},账号{i},{i},运行,备注{i}")
    path = write(tmp_path, "\n".join(lines) + "\n")
    # How fast is bench/bench_roster_memory.py's to say (BENCHMARKS.md), not a test's.
    result = read_roster(path)
    assert result.problems == []
    assert len(result.entries) == 100_000
    assert result.entries[-1].row == 100_001


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    content=st.one_of(
        st.binary(max_size=400),
        st.binary(max_size=400).map(lambda b: b"PK\x03\x04" + b),
        st.text(alphabet='类别主办单位平台账号名称微博微信政务,\n\r"= \u3000ab', max_size=200).map(
            lambda t: t.encode("utf-8")
        ),
    ),
    suffix=st.sampled_from([".csv", ".xlsx"]),
)
def test_random_bytes_never_raise(tmp_path, content, suffix):
    path = tmp_path / f"random{suffix}"
    path.write_bytes(content)
    result = read_roster(path)
    assert result.problems or result.entries
    for problem in result.problems:
        assert str(problem).startswith(f"random{suffix}")


def test_heading_rows_with_only_a_region_set_what_rows_below_continue(tmp_path):
    path = write(
        tmp_path,
        "类别,主办单位,政务微信,政务微博\n"
        "石泉县,,,\n"
        ",石泉县统计局,,石泉统计\n"
        "汉阴县,,,\n"
        ",,汉阴发布,\n",
    )
    result = read_roster(path)
    assert [(p.row, p.message) for p in result.problems] == [(5, "missing unit (主办单位)")]
    [entry] = result.entries
    assert (entry.row, entry.region, entry.unit) == (3, "石泉县", "石泉县统计局")


def test_same_name_with_different_account_ids_are_two_accounts(tmp_path):
    path = write(
        tmp_path,
        f"{LONG_HEADER}\n石泉县,石泉县统计局,微博,石泉统计,111,\n汉阴县,汉阴县统计局,微博,石泉统计,222,\n",
    )
    result = read_roster(path)
    assert result.problems == []
    assert [e.key for e in result.entries] == ["weibo:id:111", "weibo:id:222"]


def test_source_names_are_checked_and_aliases_normalised(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text(
        "类别,主办单位,平台,账号名称,来源\n"
        "市直部门,市统计局,微信,统计微信,wechat\n"
        "市直部门,市统计局,微博,统计微博,scraper\n",
        encoding="utf-8",
    )
    roster = read_roster(path)
    assert [e.source for e in roster.valid_entries()] == ["wechat_api"]
    assert [(p.row, "unknown source" in p.message) for p in roster.problems] == [(3, True)]


def test_the_source_column_speaks_the_adapters_manifests(tmp_path):
    from adapters import manifests

    rows = ["类别,主办单位,平台,账号名称,来源,订阅地址"]
    rows += [f"市直部门,单位,抖音,账号{i},{alias},https://rss.example/{i}" for i, alias in
             enumerate(["RSS", "微信接口", "m.weibo.cn", "feed", "douyin_api"])]  # fmt: skip
    result = read_roster(write(tmp_path, "\n".join(rows) + "\n"))
    assert [e.source for e in result.entries][:4] == ["feed", "wechat_api", "weibo", "feed"]
    (problem,) = result.problems
    assert "douyin_api" in problem.message
    assert all(name in problem.message for name in manifests())
