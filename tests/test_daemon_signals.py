"""`python -m monitor run` as a subprocess against a slow simulator: SIGTERM and kill -9."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from simulated_city import clean_monitor_env, weibo_accounts

from monitor.cli import main
from monitor.simulator import Scenario, SimulatorServer, env_lines, write_roster
from monitor.store import Store

ACCOUNTS = 40
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def slow_city(tmp_path, monkeypatch):
    """40 weibo accounts behind 150 ms of latency, paced at 10 requests/s: a ~8 s sweep."""
    clean_monitor_env(monkeypatch)
    now = datetime.now(UTC)
    scenario = Scenario(
        accounts=weibo_accounts(
            ACCOUNTS,
            first_id=10_000,
            last_post=lambda i: now - timedelta(days=1 + i),
            unit=lambda i: f"单位{i % 7}",
        ),
        latency_ms=150,
    )
    server = SimulatorServer(scenario)
    url = server.start()
    roster = tmp_path / "roster.csv"
    write_roster(scenario, roster, url)
    db = tmp_path / "m.db"
    assert main(["--db", str(db), "import", str(roster)]) == 0
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    for line in env_lines(url, scenario.wechat_secret):
        key, _, value = line.partition("=")
        env[key] = value
    env |= {
        "MONITOR_DB": str(db),
        "MONITOR_LIMITS__WEIBO__RATE_PER_S": "10",
        "MONITOR_LIMITS__WEIBO__MAX_CONCURRENT": "2",
        "MONITOR_SCHEDULE__SHUTDOWN_GRACE_S": "3",
        "MONITOR_HTTP__TIMEOUT_S": "5",
        "PYTHONPATH": str(ROOT),
    }
    yield db, env
    server.stop()


def start_run(env: dict[str, str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "monitor", "run", "--once"],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def observations(db: Path) -> int:
    conn = sqlite3.connect(db, timeout=30)
    try:
        return conn.execute("SELECT COUNT(*) FROM observations").fetchone()[0]
    except sqlite3.OperationalError:
        return 0
    finally:
        conn.close()


def wait_for_observations(db: Path, proc: subprocess.Popen, at_least: int) -> None:
    deadline = time.monotonic() + 30
    while observations(db) < at_least:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the sweep never got going"
        time.sleep(0.05)


def assert_consistent(db: Path) -> None:
    """Every stored check is fully written: schedule moved, nothing left claimed."""
    with Store.open(db) as store:
        assert store.integrity_check() == "ok"
        rows = {r.account: r for r in store.schedule_rows()}
        checked = {r[0] for r in store.conn.execute("SELECT DISTINCT account FROM observations")}
        for account in checked:
            row = rows[account]
            assert row.last_checked_at is not None, (
                f"account {account}: observation without schedule"
            )
        dupes = store.conn.execute(
            "SELECT account, kind, COUNT(*) FROM alerts WHERE closed_at IS NULL "
            "GROUP BY account, kind HAVING COUNT(*) > 1"
        ).fetchall()
        assert dupes == []


def test_sigterm_mid_sweep_exits_0_within_the_grace_with_no_half_written_rows(slow_city, tmp_path):
    db, env = slow_city
    proc = start_run(env, tmp_path)
    wait_for_observations(db, proc, 5)
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=30)
    took = time.monotonic() - sent
    assert proc.returncode == 0, err
    assert took < 3 + 2, f"took {took:.1f}s to stop"
    assert '"stopped": true' in err
    done = observations(db)
    assert 5 <= done < ACCOUNTS
    assert_consistent(db)
    with Store.open(db) as store:
        assert all(r.claimed_by is None for r in store.schedule_rows())


def test_kill_9_mid_sweep_then_a_restart_checks_every_account(slow_city, tmp_path):
    db, env = slow_city
    proc = start_run(env, tmp_path)
    wait_for_observations(db, proc, 5)
    proc.kill()
    proc.wait(timeout=10)  # reaped: its pid is gone, so its claims are released
    assert_consistent(db)
    faster = env | {
        "MONITOR_LIMITS__WEIBO__RATE_PER_S": "200",
        "MONITOR_LIMITS__WEIBO__MAX_CONCURRENT": "20",
    }
    proc = start_run(faster, tmp_path)
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert_consistent(db)
    with Store.open(db) as store:
        checked = {r[0] for r in store.conn.execute("SELECT DISTINCT account FROM observations")}
        accounts = {v.id for v in store.accounts_at(datetime.now(UTC))}
        assert checked == accounts
        assert all(r.claimed_by is None for r in store.schedule_rows())
        # Each account was checked once or, if in flight at the kill, twice: never more.
        per_account = store.conn.execute(
            "SELECT MAX(n) FROM (SELECT COUNT(*) AS n FROM observations GROUP BY account)"
        ).fetchone()[0]
        assert per_account <= 2
