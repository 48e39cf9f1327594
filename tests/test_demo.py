"""`monitor demo` end to end, as a newcomer runs it (README command 1)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys

import openpyxl


def test_the_demo_runs_offline_and_leaves_reports_and_nothing_running(tmp_path):
    folder = tmp_path / "demo"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    proc = subprocess.run(
        [sys.executable, "-m", "monitor", "demo", "--dir", str(folder)],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    assert "检测 420 个账号" in out
    assert "各地区检查结果" in out and "市直部门" in out
    assert "问题账号" in out and "僵尸" in out
    # The simulated login wall is a failed check (被拦截; 临时故障 when a busy machine
    # times it out), never evidence of silence.
    assert "被拦截" in out or "临时故障" in out
    assert "接下来可以试试" in out and "status --state zombie" in out
    # Chinese headings only, and no line broken next to a separator.
    for english in ("Checked", "problem accounts", "per-region", "Reports written", "Next, try"):
        assert english not in out
    for line in out.splitlines():
        assert not line.rstrip().endswith((",", "，", "、", "·")), line
        assert not line.lstrip().startswith((",", "，", "、", "·")), line
    for fmt in ("xlsx", "html", "md"):
        reports = list((folder / "reports").glob(f"*.{fmt}"))
        assert [r.name[:10] for r in reports] == ["政务新媒体检查结果-"], fmt
    book = openpyxl.load_workbook(next((folder / "reports").glob("*.xlsx")))
    assert "问题账号" in book.sheetnames
    # A few government websites come with the city: their verdicts, the report's sheet.
    assert "政府网站检查结果（6 个）" in out and "5 个栏目更新不及时" in out
    site_rows = list(book["网站检查结果"].iter_rows(values_only=True))[1:]
    assert [r[6] for r in site_rows] == [
        "不合格",
        "不合格",
        "存在问题",
        "存在问题",
        "存在问题",
        "合格",
    ]
    conn = sqlite3.connect(folder / "monitor.db")
    try:
        assert conn.execute("SELECT COUNT(*) FROM accounts").fetchone()[0] == 420
        observed = conn.execute("SELECT COUNT(DISTINCT account) FROM observations").fetchone()[0]
        assert observed == 420
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        scenario = json.loads((folder / "scenario.json").read_text())
        walled = [a["account_id"] for a in scenario["accounts"] if a.get("fault") == "login_wall"]
        assert walled
        evidence = conn.execute(
            "SELECT COUNT(*) FROM observations o JOIN accounts a ON a.id = o.account "
            f"WHERE o.evidence = 1 AND a.account_id IN ({','.join('?' * len(walled))})",
            walled,
        ).fetchone()[0]
        assert evidence == 0
        # As the daemon would: one open unit alert per warning, zombie and suspended
        # account (and the dashboard's alerts panel is not empty).
        problem_states = ("warning", "zombie", "suspended")
        in_states = conn.execute(
            f"SELECT account FROM verdicts WHERE state IN ({','.join('?' * 3)})", problem_states
        ).fetchall()
        alerted = conn.execute(
            "SELECT account, kind FROM alerts WHERE closed_at IS NULL "
            "AND kind IN ('became_warning', 'became_zombie', 'became_suspended')"
        ).fetchall()
        assert len(in_states) > 20
        assert sorted(a for a, _ in alerted) == sorted(a for (a,) in in_states)
        site_alerts = conn.execute(
            "SELECT COUNT(*) FROM alerts WHERE kind = 'site_failed' AND closed_at IS NULL"
        ).fetchone()[0]
        assert site_alerts == 2
    finally:
        conn.close()


def test_rerunning_the_demo_starts_over_and_it_refuses_a_foreign_folder(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "thesis.docx").write_text("precious")
    proc = subprocess.run(
        [sys.executable, "-m", "monitor", "demo", "--dir", str(folder)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 1
    assert "not made by `monitor demo`" in proc.stderr
    assert (folder / "thesis.docx").read_text() == "precious"
