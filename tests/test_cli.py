"""The CLI end to end on a real database file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.store import Store

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_LONG = ROOT / "config" / "roster.example.csv"
EXAMPLE_WIDE = ROOT / "config" / "roster.wide.example.csv"

ROSTER = """类别,主办单位,平台,账号名称,账号ID,状态
市直部门,市住房公积金中心,微信,安康住房公积金,wx001,运行
,,微博,安康公积金,1001,运行
石泉县,石泉县统计局,微博,石泉统计,1002,运行
汉阴县,汉阴县农林科技局,微信,汉阴农林科技,wx002,停运
岚皋县,岚皋县公安局交通警察大队,微博,岚皋交警,1003,运行
"""


@pytest.fixture
def db(tmp_path, monkeypatch):
    path = tmp_path / "monitor.db"
    monkeypatch.setenv("MONITOR_DB", str(path))
    monkeypatch.delenv("MONITOR_CONFIG", raising=False)
    for key in list(os.environ):
        if key.startswith("MONITOR_") and key != "MONITOR_DB":
            monkeypatch.delenv(key)
    return path


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def status_json(capsys, *args: str) -> list[dict]:
    code, out, err = run(capsys, "status", "--json", *args)
    assert code == 0, err
    return json.loads(out)


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding=encoding)
    return path


@pytest.mark.parametrize("example", [EXAMPLE_LONG, EXAMPLE_WIDE], ids=["long", "wide"])
def test_each_example_roster_imports_and_again_reports_everything_unchanged(db, capsys, example):
    code, out, err = run(capsys, "import", str(example))
    assert code == 0, err
    assert "added" in out
    code, out, err = run(capsys, "import", str(example), "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["changed"] is False
    assert summary["accounts"]["added"] == 0
    assert summary["accounts"]["updated"] == 0
    assert summary["accounts"]["unchanged"] > 0
    code, out, _ = run(capsys, "import", str(example))
    assert "nothing changed" in out


def test_a_roster_with_five_errors_reports_all_five_and_writes_nothing(db, tmp_path, capsys):
    assert run(capsys, "import", str(EXAMPLE_LONG))[0] == 0
    with Store.open(db) as store:
        before = store.dump()
    bad = write(
        tmp_path,
        "bad.csv",
        "类别,主办单位,平台,账号名称,账号ID,状态\n"
        "市直部门,市统计局,微博,统计发布,2001,运行\n"  # row 2: fine
        "市直部门,市统计局,微信公众号号,统计微信,,运行\n"  # row 3: unknown platform
        "市直部门,市统计局,微博,,2002,运行\n"  # row 4: missing name
        "市直部门,市统计局,微博,统计二,2003,暂停营业\n"  # row 5: bad status
        "市直部门,市统计局,微博,统计发布,2001,运行\n"  # row 6: duplicate of row 2
        "市直部门,市统计局,抖音,统计抖音,3001,运行\n"  # row 7
        "市直部门,市统计局,抖音,统计抖音改名,3001,运行\n",  # row 8: conflicts with row 7
    )
    code, _out, err = run(capsys, "import", str(bad))
    assert code == 1
    assert "Traceback" not in err
    for row in ("row 3", "row 4", "row 5", "row 6", "row 8"):
        assert row in err, (row, err)
    assert "nothing imported" in err
    with Store.open(db) as store:
        assert store.dump() == before


def test_skip_invalid_imports_the_good_rows_and_counts_the_rejected(db, tmp_path, capsys):
    bad = write(
        tmp_path,
        "bad.csv",
        "类别,主办单位,平台,账号名称\n市直部门,市统计局,微博,统计发布\n市直部门,市统计局,火星,X\n",
    )
    code, out, err = run(capsys, "import", str(bad), "--skip-invalid", "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["accounts"]["added"] == 1
    assert summary["accounts"]["rejected"] == 1


def test_gb18030_roster_as_excel_in_china_writes_it_imports(db, tmp_path, capsys):
    path = write(tmp_path, "gbk.csv", ROSTER, encoding="gb18030")
    code, out, err = run(capsys, "import", str(path), "--json")
    assert code == 0, err
    assert json.loads(out)["accounts"]["added"] == 5
    names = [a["name"] for a in json.loads(run(capsys, "accounts", "--json")[1])]
    assert names == ["安康住房公积金", "安康公积金", "石泉统计", "汉阴农林科技", "岚皋交警"]


def test_dry_run_writes_nothing(db, tmp_path, capsys):
    path = write(tmp_path, "r.csv", ROSTER)
    code, out, _ = run(capsys, "import", str(path), "--dry-run")
    assert code == 0
    assert "dry run" in out
    with Store.open(db) as store:
        assert store.table_counts()["accounts"] == 0


def _observe(capsys, account: str, *args: str) -> None:
    code, _, err = run(capsys, "observe", account, *args)
    assert code == 0, err


def test_status_shows_the_pinned_14_day_boundary(db, tmp_path, capsys):
    run(capsys, "import", str(write(tmp_path, "r.csv", ROSTER)))
    _observe(capsys, "weibo:1001", "--latest-post", "2020-02-18", "--at", "2020-03-04T10:00")
    _observe(capsys, "weibo:1002", "--latest-post", "2020-02-19", "--at", "2020-03-04T10:00")
    _observe(capsys, "石泉统计", "--latest-post", "2020-02-19T09:00", "--at", "2020-03-04T10:00")
    records = {
        r["name"]: r for r in status_json(capsys, "--as-of", "2020-03-04", "--zombie-after", "14d")
    }
    assert records["安康公积金"]["state"] == "zombie"
    assert records["安康公积金"]["state_label"] == "僵尸微博"
    assert records["安康公积金"]["days_silent"] == 15
    assert records["石泉统计"]["state"] == "warning"
    assert records["安康住房公积金"]["state"] == "unknown"
    assert records["汉阴农林科技"]["state"] == "unknown"  # stopped, but no evidence
    no_warn = {
        r["name"]: r["state"]
        for r in status_json(
            capsys, "--as-of", "2020-03-04", "--zombie-after", "14d", "--warn-before", "0d"
        )
    }
    assert no_warn["石泉统计"] == "active"
    rec = records["安康公积金"]
    for key in (
        "id",
        "platform",
        "account_id",
        "name",
        "unit",
        "region",
        "state",
        "state_label",
        "latest_post_at",
        "days_silent",
        "last_checked_at",
        "reason",
        "evidence_url",
    ):
        assert key in rec
    assert rec["latest_post_at"].endswith("+08:00")
    assert rec["last_checked_at"] == "2020-03-04T10:00:00+08:00"
    # The English reason stays as it was; its code, parameters and Chinese wording stand beside.
    assert rec["reason"] == "last post 2020-02-18, before 2020-02-19"
    assert rec["reason_code"] == "verdict.zombie.last_post"
    assert rec["reason_params"] == {"post": "2020-02-18", "limit": "2020-02-19", "window": "2w"}
    assert rec["reason_label"] == "最后发布于 2020-02-18，早于 2020-02-19（超过 2 周未更新）"


def test_the_status_table_speaks_chinese_with_durations_spelled_out(db, tmp_path, capsys):
    run(capsys, "import", str(write(tmp_path, "r.csv", ROSTER)))
    _observe(capsys, "weibo:1001", "--latest-post", "2020-02-18", "--at", "2020-03-04T10:00")
    code, out, _ = run(capsys, "status", "--as-of", "2020-03-04", "--zombie-after", "14d")
    assert code == 0
    assert "判定日期 2020-03-04 · 超过 2 周未更新为僵尸，超过 6 个月为停运未注销" in out
    for header in ("类别", "主办单位", "账号名称", "状态", "最后更新时间", "未更新天数"):
        assert header in out
    assert "僵尸微博 (zombie)" in out and "共 5 个账号" in out
    assert "latest post" not in out and "days silent" not in out and "14d" not in out
    code, out, _ = run(capsys, "accounts")
    assert "名单状态" in out and "运行" in out and "共 5 个账号" in out


def test_status_for_one_account_and_filters(db, tmp_path, capsys):
    run(capsys, "import", str(write(tmp_path, "r.csv", ROSTER)))
    one = status_json(capsys, "weibo:1003")
    assert [r["name"] for r in one] == ["岚皋交警"]
    by_region = status_json(capsys, "--region", "市直部门")
    assert {r["name"] for r in by_region} == {"安康住房公积金", "安康公积金"}
    assert [
        r["name"] for r in status_json(capsys, "--platform", "wechat", "--unit", "汉阴县农林科技局")
    ] == ["汉阴农林科技"]
    assert [r["name"] for r in status_json(capsys, "农林")] == ["汉阴农林科技"]
    code, _, err = run(capsys, "status", "不存在的账号")
    assert code == 1 and "no account matches" in err


def test_observe_resolves_accounts_and_reports_ambiguity(db, tmp_path, capsys):
    roster = (
        "类别,主办单位,平台,账号名称,账号ID\n市直部门,A局,微博,同名,1\n市直部门,B局,微信,同名,wx1\n"
    )
    run(capsys, "import", str(write(tmp_path, "r.csv", roster)))
    code, _, err = run(capsys, "observe", "同名", "--no-content")
    assert code == 1
    assert "ambiguous" in err and "weibo:1" in err and "wechat:wx1" in err
    _observe(capsys, "wechat:同名", "--no-content")
    records = {r["platform"]: r for r in status_json(capsys)}
    assert records["wechat"]["state"] == "zombie"
    assert records["wechat"]["state_label"] == "僵尸微信"
    assert records["weibo"]["state"] == "unknown"


def test_observe_needs_exactly_one_finding(db, tmp_path, capsys):
    run(capsys, "import", str(write(tmp_path, "r.csv", ROSTER)))
    code, _, err = run(capsys, "observe", "weibo:1001")
    assert code == 2 and "exactly one" in err
    code, _, err = run(capsys, "observe", "weibo:1001", "--no-content", "--not-found")
    assert code == 2


def test_a_unit_renamed_after_d_does_not_change_the_verdicts_as_of_d(db, tmp_path, capsys):
    run(capsys, "import", str(write(tmp_path, "r.csv", ROSTER)))
    _observe(capsys, "weibo:1002", "--latest-post", "2020-01-13", "--at", "2020-03-04T10:00")
    renamed = ROSTER.replace("石泉县统计局", "石泉县统计局（更名）").replace("石泉县,", "石泉新区,")
    code, _, err = run(
        capsys, "import", str(write(tmp_path, "r2.csv", renamed)), "--effective", "2020-04-01"
    )
    assert code == 0, err
    then = status_json(capsys, "weibo:1002", "--as-of", "2020-03-04")[0]
    assert (then["unit"], then["region"], then["state"]) == ("石泉县统计局", "石泉县", "zombie")
    later = status_json(capsys, "weibo:1002", "--as-of", "2020-04-02")[0]
    assert (later["unit"], later["region"]) == ("石泉县统计局（更名）", "石泉新区")


def test_accounts_missing_from_a_new_roster_are_kept_then_pruned_as_retired(db, tmp_path, capsys):
    run(capsys, "import", str(write(tmp_path, "r.csv", ROSTER)))
    shorter = "\n".join(ROSTER.splitlines()[:3]) + "\n"
    code, out, _ = run(capsys, "import", str(write(tmp_path, "r2.csv", shorter)))
    assert code == 0
    assert "3 not in this roster" in out
    assert len(status_json(capsys)) == 5
    code, out, _ = run(capsys, "import", str(write(tmp_path, "r2.csv", shorter)), "--prune")
    assert code == 0
    assert "retired" in out
    assert len(status_json(capsys)) == 2
    _code, out, _ = run(capsys, "accounts", "--all", "--json")
    assert len(json.loads(out)) == 5


def test_usage_errors_exit_2_with_one_line_and_no_traceback(db, capsys):
    for args in (
        ["status", "--as-of", "2020-02-30"],
        ["status", "--zombie-after", "month"],
        ["status", "--state", "dead"],
        ["status", "--no-such-flag"],
    ):
        code, _out, err = run(capsys, *args)
        assert code == 2, args
        assert err.count("\n") == 1, err
        assert "Traceback" not in err


def test_an_unreadable_roster_is_a_clear_error(db, tmp_path, capsys):
    path = tmp_path / "r.xlsx"
    path.write_bytes(b"not a zip at all")
    code, _, err = run(capsys, "import", str(path))
    assert code == 1
    assert "r.xlsx" in err and "Traceback" not in err


def test_config_file_env_and_db_precedence(db, tmp_path, capsys, monkeypatch):
    cfg = write(
        tmp_path,
        "m.toml",
        f'database = "{tmp_path / "from_config.db"}"\n[policy]\nzombie_after = "14d"\n',
    )
    run(capsys, "--config", str(cfg), "import", str(write(tmp_path, "r.csv", ROSTER)))
    assert db.exists() and not (tmp_path / "from_config.db").exists()  # MONITOR_DB beats the config
    monkeypatch.delenv("MONITOR_DB")
    run(capsys, "--config", str(cfg), "import", str(tmp_path / "r.csv"))
    assert (tmp_path / "from_config.db").exists()
    explicit = tmp_path / "explicit.db"
    run(capsys, "import", str(tmp_path / "r.csv"), "--db", str(explicit), "--config", str(cfg))
    assert explicit.exists()
    monkeypatch.setenv("MONITOR_POLICY__ZOMBIE_AFTER", "2mo")
    code, out, _ = run(capsys, "config", "check", str(cfg))
    assert code == 0 and "zombie after 2mo" in out


def test_config_check_lists_every_problem_with_its_key(tmp_path, capsys):
    cfg = write(
        tmp_path, "bad.toml", '[policy]\nzombie_after = "3x"\ntypo = 1\n[weibo]\nmax_pages = 0\n'
    )
    code, _, err = run(capsys, "config", "check", str(cfg))
    assert code == 2
    assert "policy.zombie_after" in err and "policy.typo" in err and "weibo.max_pages" in err


def test_python_dash_m_monitor_runs_as_a_real_process(db, tmp_path):
    env = {**os.environ, "MONITOR_DB": str(db)}
    proc = subprocess.run(
        [sys.executable, "-m", "monitor", "import", str(EXAMPLE_LONG)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    proc = subprocess.run(
        [sys.executable, "-m", "monitor", "status", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0
    assert len(json.loads(proc.stdout)) >= 10
    proc = subprocess.run(
        [sys.executable, "-m", "monitor", "observe", "nobody", "--no-content"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().startswith("monitor:") and "Traceback" not in proc.stderr


def test_a_roster_without_some_columns_keeps_those_fields_of_existing_accounts(
    db, tmp_path, capsys
):
    long = write(
        tmp_path,
        "long.csv",
        "类别,主办单位,平台,账号名称,联系人,appid,secret_env\n市直部门,市政府办,微信,安康发布,张三,wx123,ANKANG_SECRET\n",
    )
    wide = write(tmp_path, "wide.csv", "类别,主办单位,政务微信\n市直部门,市政府办,安康发布\n")
    run(capsys, "import", str(long))
    code, out, err = run(capsys, "import", str(wide), "--json")
    assert code == 0, err
    assert json.loads(out)["accounts"]["unchanged"] == 1
    account = json.loads(run(capsys, "accounts", "--json")[1])[0]
    assert (account["contact"], account["appid"], account["secret_env"]) == (
        "张三",
        "wx123",
        "ANKANG_SECRET",
    )


def test_an_account_no_source_can_check_is_unknown_with_that_reason(db, tmp_path, capsys):
    roster = write(
        tmp_path, "r.csv", "类别,主办单位,平台,账号名称\n市直部门,市统计局,抖音,统计抖音\n"
    )
    run(capsys, "import", str(roster))
    record = status_json(capsys)[0]
    assert (record["state"], record["reason"]) == ("unknown", "no source configured")
    _observe(capsys, "统计抖音", "--latest-post", "2026-01-01")
    assert status_json(capsys)[0]["reason"] != "no source configured"


def test_a_suspension_window_shorter_than_the_zombie_window_is_refused(db, tmp_path, capsys):
    code, _, err = run(capsys, "status", "--zombie-after", "7mo")
    assert code == 2 and "suspended_after (6mo) must not be shorter than zombie_after (7mo)" in err
    cfg = write(
        tmp_path, "c.toml", '[policy]\nzombie_after = "1y"\n[weibo]\nbase_url = "notaurl"\n'
    )
    code, _, err = run(capsys, "config", "check", str(cfg))
    assert code == 2 and "policy" in err and "weibo.base_url" in err


def test_serve_on_a_busy_port_says_so_in_one_line_and_exits_1(db, capsys):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, _out, err = run(capsys, "serve", "--host", "127.0.0.1", "--port", str(port))
    assert code == 1
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in err
    assert "--port" in err
    assert "Traceback" not in err and "uvicorn" not in err
