"""Benchmark one sweep of `monitor run --once` over a simulated city of Weibo accounts.

The simulator runs as its own process (`monitor simulate --scenario ... --ready-file`)
with per-request latency and a Weibo rate limit; the monitor paces Weibo at that
same limit. Figures:

- achieved rate / limit: Weibo requests the sweep sent / sweep seconds / limit (target >= 0.9)
- requests over the limit: the simulator answers each with HTTP 418, which ends that
  check as `rate_limited`, so it is the number of rate_limited observations (target 0)
- CPU ms per check: user+sys of the `monitor run --once` process / checks (target <= 1);
  also the same beyond the fixed cost of a `monitor run --once` with nothing due
- peak RSS of that process (target <= 200 MB)

With `--steady` the measured sweep is the daily one: every account was checked
before (that first sweep runs unmeasured against an unlimited simulator), so
Weibo checks reuse the timeline container their profile call named.

Usage:
    python bench/bench_sweep.py --accounts 10000 --rate 20 --latency-ms 50 --concurrency 4
    python bench/bench_sweep.py --accounts 10000 --rate 20 --latency-ms 50 --concurrency 4 --steady
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.simulator import Scenario, SimAccount, write_roster  # noqa: E402


def city(n: int) -> Scenario:
    """n Weibo accounts, last posts spread over 60 days (some zombies, a few suspended)."""
    now = datetime.now(UTC)
    return Scenario(
        accounts=[
            SimAccount(
                platform="weibo",
                account_id=str(1_000_000_000 + i),
                name=f"政务微博{i}",
                unit=f"单位{i // 4}",
                region=("市直部门", "汉滨区", "汉阴县", "石泉县")[i % 4],
                posts=[now - timedelta(days=1 + (i * 7) % 60, hours=i % 12)],
            )
            for i in range(n)
        ]
    )


def wait_ready(path: Path, proc: subprocess.Popen, timeout: float = 120) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            raise SystemExit(f"simulator exited: {proc.communicate()}")
        if time.monotonic() > deadline:
            raise SystemExit("simulator never became ready")
        time.sleep(0.1)
    env = {}
    for line in path.read_text().splitlines():
        key, _, value = line.partition("=")
        env[key] = value
    return env


MONITOR = [sys.executable, "-m", "monitor"]


@contextmanager
def simulator(
    scenario: Path, ready: Path, env: dict[str, str], latency_ms: float, rate: float | None
) -> Iterator[dict[str, str]]:
    """`monitor simulate` as its own process; the MONITOR_* variables that point at it."""
    ready.unlink(missing_ok=True)
    limit = ["--rate-limit", str(rate)] if rate is not None else []
    sim = subprocess.Popen(
        [
            *MONITOR,
            "simulate",
            "--scenario",
            str(scenario),
            "--ready-file",
            str(ready),
            "--latency-ms",
            str(latency_ms),
            *limit,
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield wait_ready(ready, sim)
    finally:
        sim.terminate()
        sim.wait(30)


def rate_limited(db: Path) -> int:
    """Observations the simulator's over-limit answers (HTTP 418) ended as rate_limited."""
    if not db.exists():
        return 0
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT COUNT(*) FROM observations WHERE outcome = 'rate_limited'"
        ).fetchone()[0]


def make_all_due(db: Path) -> None:
    """Every account due now: the next sweep is a daily sweep over the whole city."""
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE schedule SET next_check_at = '2000-01-01T00:00:00.000000+00:00'")
    conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=20.0, help="Weibo limit, requests/s")
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--concurrency", type=int, default=4, help="Weibo max_concurrent")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument(
        "--steady",
        action="store_true",
        help="measure the second sweep (every account due again), not the first",
    )
    args = parser.parse_args()

    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-sweep-"))
    work.mkdir(parents=True, exist_ok=True)
    scenario = city(args.accounts)
    scenario_file, ready, roster, db = (
        work / "scenario.json",
        work / "ready.env",
        work / "roster.csv",
        work / "bench.db",
    )
    scenario.save(scenario_file)
    for old in (ready, db):
        old.unlink(missing_ok=True)
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    base_env["PYTHONPATH"] = str(ROOT)
    if args.steady:
        # The first sweep is not measured: run it against an unlimited simulator.
        warm = base_env | {
            "MONITOR_DB": str(db),
            "MONITOR_LIMITS__WEIBO__RATE_PER_S": "2000",
            "MONITOR_LIMITS__WEIBO__MAX_CONCURRENT": "16",
        }
        with simulator(scenario_file, ready, base_env, latency_ms=0, rate=None) as sim_env:
            write_roster(scenario, roster, sim_env["MONITOR_WEIBO__BASE_URL"])
            for step in (["import", str(roster)], ["run", "--once"]):
                subprocess.run(
                    [*MONITOR, *step], env=warm | sim_env, check=True, capture_output=True
                )
        make_all_due(db)
    with simulator(scenario_file, ready, base_env, args.latency_ms, args.rate) as sim_env:
        env = base_env | sim_env
        env |= {
            "MONITOR_DB": str(db),
            "MONITOR_LIMITS__WEIBO__RATE_PER_S": str(args.rate),
            "MONITOR_LIMITS__WEIBO__MAX_CONCURRENT": str(args.concurrency),
        }
        if not args.steady:
            write_roster(scenario, roster, env["MONITOR_WEIBO__BASE_URL"])
            subprocess.run(
                [*MONITOR, "import", str(roster)], env=env, check=True, capture_output=True
            )
        over_before = rate_limited(db)
        started = time.monotonic()
        run = subprocess.Popen(
            [*MONITOR, "run", "--once"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        assert run.stderr is not None
        log = run.stderr.read().decode("utf-8", "replace")
        _, status, usage = os.wait4(run.pid, 0)
        wall = time.monotonic() - started
        if status != 0:
            raise SystemExit(f"monitor run --once failed ({status}):\n{log[-3000:]}")
        # The same command with nothing due: the fixed cost (interpreter, imports, setup).
        idle = subprocess.Popen(
            [*MONITOR, "run", "--once"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _, _, idle_usage = os.wait4(idle.pid, 0)

    sweep = next(
        json.loads(line.split("sweep ", 1)[1]) for line in log.splitlines() if " sweep {" in line
    )
    over = rate_limited(db) - over_before
    requests = sweep["requests"].get("weibo", 0)
    cpu_s = usage.ru_utime + usage.ru_stime
    fixed_s = idle_usage.ru_utime + idle_usage.ru_stime
    result = {
        "accounts": args.accounts,
        "sweep": "steady (second)" if args.steady else "first",
        "limit_per_s": args.rate,
        "latency_ms": args.latency_ms,
        "concurrency": args.concurrency,
        "checked": sweep["checked"],
        "ok": sweep["ok"],
        "failed": sweep["failed"],
        "weibo_requests": requests,
        "sweep_s": sweep["duration_s"],
        "process_wall_s": round(wall, 1),
        "achieved_rate_per_s": round(requests / sweep["duration_s"], 2),
        "achieved_fraction_of_limit": round(requests / sweep["duration_s"] / args.rate, 3),
        "requests_over_limit": over,
        "cpu_ms_per_check": round(cpu_s * 1000 / max(1, sweep["checked"]), 3),
        "cpu_s_total": round(cpu_s, 2),
        "cpu_s_user": round(usage.ru_utime, 2),
        "cpu_s_sys": round(usage.ru_stime, 2),
        "cpu_s_fixed": round(fixed_s, 2),
        "cpu_ms_per_check_beyond_fixed": round(
            (cpu_s - fixed_s) * 1000 / max(1, sweep["checked"]), 3
        ),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
    }
    print(json.dumps(result, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
