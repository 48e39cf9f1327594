"""Shared pieces for tests that run the monitor against a simulated city.

- `truth`: what a perfect check of a scenario account could conclude today;
- `point_monitor_at`: the environment that sends the CLI to an in-process simulator;
- `start_simulator_process`: `monitor simulate` as its own process, and its env lines;
- `weibo_accounts`: a row of plain Weibo accounts; `clean_monitor_env`: no MONITOR_* leaks in;
- `serving`: a scenario served in process, its roster written, the monitor pointed at it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from monitor.classify import Windows, classify
from monitor.dates import zone
from monitor.models import Observation, Outcome, Platform, RosterFacts, State
from monitor.simulator import SimulatorServer, env_lines, write_roster
from monitor.simulator.roster import roster_platform
from monitor.simulator.scenario import SimAccount
from monitor.simulator.wechat import is_mass

SH = zone("Asia/Shanghai")


class _SimState:
    """Just enough of the simulator's account state for `is_mass()`."""

    def __init__(self, account: SimAccount):
        self.account = account


def truth(account: SimAccount, now: datetime) -> set[State]:
    """The verdicts a perfect check of this account could give at `now` (default policy)."""
    today = now.astimezone(SH).date()
    facts = RosterFacts(Platform(roster_platform(account)))

    def judge(outcome: Outcome, latest: datetime | None = None) -> State:
        obs = Observation(
            account=1, observed_at=now, source="truth", outcome=outcome, latest_post_at=latest
        )
        return classify(facts, obs, Windows(), today, SH).state

    if not account.exists:
        return {judge(Outcome.NOT_FOUND)}
    served = [p for p in account.posts if p <= now]
    if not served:
        return {judge(Outcome.NO_CONTENT)}
    states = {judge(Outcome.OK, max(served))}
    if account.platform == "wechat":
        # 群发 (datacube) statistics appear the next day: a mass post of today is not
        # visible yet, so the previous one may be what the platform shows.
        visible = [
            p
            for p in served
            if not (p.astimezone(SH).date() == today and is_mass(_SimState(account), p))  # type: ignore[arg-type]
        ]
        states.add(judge(Outcome.OK, max(visible)) if visible else State.SUSPENDED)
    return states


def point_monitor_at(
    monkeypatch: Any, url: str, scenario: Any, db: Path, *, timeout_s: str, **extra: str
) -> None:
    """Clear every MONITOR_* variable, then send the monitor to the simulator at `url`.

    Politeness limits are raised to what the simulator tolerates; `extra` adds more
    variables (names without the MONITOR_ prefix).
    """
    for key in list(os.environ):
        if key.startswith("MONITOR_"):
            monkeypatch.delenv(key)
    for line in env_lines(url, scenario.wechat_secret):
        key, _, value = line.partition("=")
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("MONITOR_DB", str(db))
    # Timeout faults hold the connection: do not wait the default 20 s for them.
    monkeypatch.setenv("MONITOR_HTTP__TIMEOUT_S", timeout_s)
    for source in ("WEIBO", "WECHAT_API", "FEED"):
        monkeypatch.setenv(f"MONITOR_LIMITS__{source}__RATE_PER_S", "1000")
        monkeypatch.setenv(f"MONITOR_LIMITS__{source}__MAX_CONCURRENT", "20")
    for key, value in extra.items():
        monkeypatch.setenv(f"MONITOR_{key}", value)


@contextmanager
def serving(
    scenario: Any, tmp_path: Path, monkeypatch: Any, *, seed: int = 0, timeout_s: str = "5"
) -> Iterator[tuple[SimulatorServer, Path]]:
    """Serve `scenario` in process; yield the server and its roster (`tmp_path/city.csv`).

    The monitor's env points at the server and at `tmp_path/m.db`.
    """
    server = SimulatorServer(scenario, seed=seed)
    url = server.start()
    try:
        roster = tmp_path / "city.csv"
        write_roster(scenario, roster, url)
        point_monitor_at(monkeypatch, url, scenario, tmp_path / "m.db", timeout_s=timeout_s)
        yield server, roster
    finally:
        server.stop()


def start_simulator_process(
    scenario: Path, ready: Path, *, cwd: Path, env: dict[str, str], stderr: Any = subprocess.DEVNULL
) -> subprocess.Popen:
    """`python -m monitor simulate --scenario ... --ready-file ...` in the background."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "monitor",
            "simulate",
            "--scenario",
            str(scenario),
            "--ready-file",
            str(ready),
        ],
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=stderr,
        text=True,
    )


def read_ready(path: Path, proc: subprocess.Popen, seconds: float = 30) -> dict[str, str]:
    """The simulator's env lines, once its ready file appears."""
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the simulator never became ready"
        time.sleep(0.05)
    lines = path.read_text(encoding="utf-8").splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line)


def weibo_accounts(
    count: int,
    *,
    first_id: int,
    last_post: Callable[[int], datetime],
    unit: Callable[[int], str] = lambda i: f"单位{i}",
    region: str = "市直部门",
) -> list[SimAccount]:
    """`count` Weibo accounts with one post each, numbered from `first_id`."""
    return [
        SimAccount(
            platform="weibo",
            account_id=str(first_id + i),
            name=f"账号{i}",
            unit=unit(i),
            region=region,
            posts=[last_post(i)],
        )
        for i in range(count)
    ]


def clean_monitor_env(monkeypatch: Any) -> None:
    """Drop MONITOR_* variables, so a test's settings are only what it sets."""
    for key in [k for k in os.environ if k.startswith("MONITOR_")]:
        monkeypatch.delenv(key)
