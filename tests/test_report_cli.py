"""`monitor report` end to end: formats, outputs, defaults and one-line errors."""

from __future__ import annotations

import csv
import io
import json
import os

import pytest
from openpyxl import load_workbook

from monitor.cli import main

ROSTER = """类别,主办单位,平台,账号名称,账号ID,状态
石泉县,石泉县统计局,微博,石泉统计,1002,运行
市直部门,市住房公积金中心,微信,安康住房公积金,wx001,运行
,,微博,安康公积金,1001,运行
汉阴县,汉阴县农林科技局,微信,汉阴农林科技,wx002,停运
岚皋县,岚皋县公安局交通警察大队,微博,岚皋交警,1003,运行
"""


@pytest.fixture
def db(tmp_path, monkeypatch, capsys):
    path = tmp_path / "monitor.db"
    monkeypatch.setenv("MONITOR_DB", str(path))
    for key in list(os.environ):
        if key.startswith("MONITOR_") and key != "MONITOR_DB":
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER, encoding="utf-8")
    assert main(["import", str(roster)]) == 0
    for account, finding in [
        ("weibo:1002", ["--latest-post", "2020-01-13"]),
        ("wechat:wx001", ["--latest-post", "2020-01-09"]),
        ("weibo:1001", ["--latest-post", "2020-02-18"]),
        ("wechat:wx002", ["--latest-post", "2019-04-22"]),
        ("weibo:1003", ["--no-content"]),
    ]:
        assert main(["observe", account, *finding, "--at", "2020-02-28T10:00"]) == 0
    capsys.readouterr()
    return path


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_csv_to_a_file_prints_the_path_and_holds_the_official_rows(db, tmp_path, capsys):
    code, out, err = run(capsys, "report", "--month", "2020-02", "--format", "csv", "-o", "x.csv")
    assert code == 0, err
    assert out == "x.csv\n"
    rows = list(csv.reader(io.StringIO((tmp_path / "x.csv").read_text(encoding="utf-8-sig"))))
    assert [r[:6] for r in rows[1:]] == [
        ["市直部门", "市住房公积金中心", "安康住房公积金", "", "2020.1.9", "僵尸微信"],
        ["石泉县", "石泉县统计局", "", "石泉统计", "2020.1.13", "僵尸微博"],
        ["汉阴县", "汉阴县农林科技局", "汉阴农林科技", "", "2019.4.22", "停运未注销"],
        ["岚皋县", "岚皋县公安局交通警察大队", "", "岚皋交警", "无内容", "僵尸微博"],
    ]


def test_the_national_14_day_line_lists_a_post_of_february_18(db, capsys):
    code, out, _ = run(
        capsys,
        "report",
        "--as-of",
        "2020-03-04",
        "--zombie-after",
        "14d",
        "--evidence-max-age",
        "7d",
    )
    assert code == 0
    assert out.startswith("# 2020年3月4日政务新媒体检查结果\n")
    assert "| 安康公积金 | 2020.2.18 | 僵尸微博 |" in out
    assert "超过 2 周未更新为僵尸" in out and "检测结果有效期 1 周" in out


@pytest.mark.parametrize("fmt", ["md", "html", "json", "csv"])
def test_text_formats_go_to_stdout_without_o(db, capsys, fmt):
    code, out, err = run(capsys, "report", "--month", "2020-02", "--format", fmt)
    assert code == 0, err
    assert "岚皋交警" in out


def test_the_default_is_markdown_to_stdout_and_o_infers_the_format(db, tmp_path, capsys):
    code, out, _ = run(capsys, "report", "--month", "2020-02")
    assert code == 0 and out.startswith("# 2020年2月政务新媒体检查结果")
    for name in ("r.json", "r.html", "r.md", "r.xlsx", "r.csv"):
        code, out, err = run(capsys, "report", "--month", "2020-02", "-o", name)
        assert code == 0, err
        assert out == f"{name}\n"
    assert json.loads((tmp_path / "r.json").read_text())["month"] == "2020-02"
    assert (tmp_path / "r.html").read_text().startswith("<!DOCTYPE html>")
    assert load_workbook(tmp_path / "r.xlsx").sheetnames == ["汇总", "问题账号", "全部账号"]


def test_xlsx_without_o_goes_to_the_default_file_name(db, tmp_path, capsys):
    code, out, err = run(capsys, "report", "--month", "2020-02", "--format", "xlsx")
    assert code == 0, err
    assert out == "政务新媒体检查结果-2020-02.xlsx\n"
    assert (tmp_path / "政务新媒体检查结果-2020-02.xlsx").stat().st_size > 0
    code, out, _ = run(capsys, "report", "--as-of", "2020-02-28", "--format", "xlsx")
    assert out == "政务新媒体检查结果-2020-02-28.xlsx\n"


def test_the_same_month_twice_gives_the_same_bytes(db, tmp_path, capsys):
    for name in ("a", "b"):
        for ext in ("xlsx", "csv", "html"):
            assert run(capsys, "report", "--month", "2020-02", "-o", f"{name}.{ext}")[0] == 0
    for ext in ("xlsx", "csv", "html"):
        assert (tmp_path / f"a.{ext}").read_bytes() == (tmp_path / f"b.{ext}").read_bytes()


def test_english_report(db, capsys):
    code, out, _ = run(capsys, "report", "--month", "2020-02", "--format", "csv", "--lang", "en")
    assert code == 0
    assert out.lstrip("\ufeff").startswith(
        "类别,主办单位,政务微信,政务微博,最后更新时间,问题类别,Other platforms,"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--month", "2020-13"], "--month: invalid month '2020-13'"),
        (["--month", "02/2020"], "--month: invalid month"),
        (["--month", "2999-01"], "--month: month 2999-01 has not begun"),
        (["--month", "2020-02", "--as-of", "2020-02-01"], "not both"),
        (["--as-of", "2020-02-30"], "--as-of: invalid date"),
        (["--as-of", "2999-01-01"], "is in the future"),
        (["--format", "pdf"], "--format: unknown format 'pdf'"),
        (["-o", "x.pdf"], "-o: cannot tell the format"),
        (["--lang", "fr"], "--lang: unknown language"),
        (["--zombie-after", "soon"], "--zombie-after: invalid duration"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(db, capsys, args, message):
    code, _out, err = run(capsys, "report", *args)
    assert code == 2
    assert err.startswith("monitor: error: ") and message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_an_unwritable_output_exits_1_with_one_line(db, tmp_path, capsys):
    (tmp_path / "blocker").write_text("a file, not a folder")
    code, _, err = run(
        capsys, "report", "--month", "2020-02", "-o", str(tmp_path / "blocker" / "y.csv")
    )
    assert code == 1
    assert err.startswith("monitor: cannot write") and err.count("\n") == 1


def test_separate_processes_write_identical_bytes(db, tmp_path):
    """Reproducible across runs, not just within one process (hash seeds differ)."""
    import subprocess
    import sys

    outputs = []
    for seed in ("1", "2"):
        out = tmp_path / f"run{seed}"
        out.mkdir()
        env = {**os.environ, "MONITOR_DB": str(db), "PYTHONHASHSEED": seed}
        for ext in ("xlsx", "html"):
            subprocess.run(
                [sys.executable, "-m", "monitor", "report", "--month", "2020-02", "-o", f"r.{ext}"],
                cwd=out,
                env=env,
                check=True,
                capture_output=True,
            )
        outputs.append([(out / f"r.{ext}").read_bytes() for ext in ("xlsx", "html")])
    assert outputs[0] == outputs[1]
