"""Benchmark scale out: the same simulated city swept by 1, 2 and 3 fetch workers.

Each worker is a `monitor worker --source-address 127.0.0.N` process; the simulator
limits every client address to `--rate` requests/s (`rate_limit_per_client_s`, HTTP
418 over it) and each worker paces Weibo at that same rate. A private redis-server
carries the tasks; the coordinator is `monitor run --once` with queue.broker_url,
into a fresh database each time. Figures per number of workers:

- wall: the coordinator process from start to exit; sweep: its sweep's `duration_s`
- achieved rate per address / limit: requests the simulator saw from that address /
  sweep seconds / limit (target >= 0.9 for each address)
- speed-up: sweep seconds with 1 worker / sweep seconds with N (target >= 0.9 x N)
- refusals: requests over the per-client limit (target 0)
- coordinator CPU per recorded check: user+sys of `monitor run --once` (os.wait4) /
  observations recorded, with its start-up, and beyond the fixed cost of a
  `monitor run --once` of the same coordinator with nothing due

Usage:
    python bench/bench_scale_out.py --accounts 300 --rate 10 --latency-ms 20
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
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from scale_out_procs import base_env, redis_server, start_workers, stop_worker  # noqa: E402

from monitor.simulator import (  # noqa: E402
    Scenario,
    SimulatorServer,
    env_lines,
    write_roster,
)

ADDRESSES = ["127.0.0.2", "127.0.0.3", "127.0.0.4"]


def city(n: int, rate: float, latency_ms: float) -> Scenario:
    """The sweep benchmark's n Weibo accounts, each client address limited to `rate`/s."""
    from bench_sweep import city as weibo_city  # this folder is on sys.path when run

    return weibo_city(n).model_copy(
        update={"latency_ms": latency_ms, "rate_limit_per_client_s": rate}
    )


def sweep_once(
    workers: int,
    args: argparse.Namespace,
    server: SimulatorServer,
    scenario: Scenario,
    roster: Path,
    redis_url: str,
    folder: Path,
) -> dict[str, object]:
    db = folder / f"m{workers}.db"
    env = base_env(
        dict(line.split("=", 1) for line in env_lines(server.url, scenario.wechat_secret))
    )
    env |= {
        "MONITOR_DB": str(db),
        "MONITOR_QUEUE__BROKER_URL": redis_url,
        "MONITOR_QUEUE__BATCH_SIZE": str(args.batch_size),
        "MONITOR_LIMITS__WEIBO__RATE_PER_S": str(args.rate),
        "MONITOR_LIMITS__WEIBO__MAX_CONCURRENT": "4",
        "MONITOR_SCHEDULE__JITTER_S": "0",
    }
    subprocess.run(
        [sys.executable, "-m", "monitor", "import", str(roster)],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    procs = start_workers(env, ADDRESSES[:workers], folder, concurrency=args.concurrency)
    server.reset_stats()
    try:
        started = time.monotonic()
        run = subprocess.Popen(
            [sys.executable, "-m", "monitor", "run", "--once"],
            env=env,
            cwd=folder,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert run.stderr is not None
        err = run.stderr.read()
        _, status, usage = os.wait4(run.pid, 0)
        wall = time.monotonic() - started
    finally:
        for proc in procs:
            stop_worker(proc)
    if status != 0:
        raise SystemExit(f"monitor run --once failed:\n{err}")
    sweep = next(
        json.loads(line.split(" sweep ", 1)[1]) for line in err.splitlines() if " sweep {" in line
    )
    stats = server.stats
    conn = sqlite3.connect(db)
    recorded = conn.execute("SELECT COUNT(*) FROM observations").fetchone()[0]
    ok = conn.execute("SELECT COUNT(*) FROM observations WHERE outcome = 'ok'").fetchone()[0]
    conn.close()
    seconds = sweep["duration_s"]
    per_address = {
        a: round(stats["by_client"].get(a, 0) / seconds / args.rate, 3) for a in ADDRESSES[:workers]
    }
    cpu = usage.ru_utime + usage.ru_stime
    return {
        "workers": workers,
        "accounts": len(scenario.accounts),
        "recorded": recorded,
        "ok": ok,
        "wall_s": round(wall, 2),
        "sweep_s": seconds,
        "requests": stats["requests"],
        "refusals": stats["over_limit"],
        "rate_per_address_over_limit": per_address,
        "coordinator_cpu_s": round(cpu, 2),
        "coordinator_cpu_ms_per_check": round(1000 * cpu / max(recorded, 1), 2),
    }


def idle_cpu(db: Path, redis_url: str, folder: Path) -> float:
    """CPU seconds of a coordinator's `monitor run --once` with nothing due (its fixed cost)."""
    env = base_env({"MONITOR_DB": str(db), "MONITOR_QUEUE__BROKER_URL": redis_url})
    run = subprocess.Popen(
        [sys.executable, "-m", "monitor", "run", "--once"],
        env=env,
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(run.pid, 0)
    if status != 0:
        raise SystemExit("the idle monitor run --once failed")
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=300)
    parser.add_argument("--rate", type=float, default=10.0, help="requests/s per client address")
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 3])
    args = parser.parse_args()
    scenario = city(args.accounts, args.rate, args.latency_ms)
    with tempfile.TemporaryDirectory(prefix="bench-scale-out-") as tmp:
        folder = Path(tmp)
        with SimulatorServer(scenario) as server, redis_server(folder / "redis") as redis_url:
            roster = folder / "city.csv"
            write_roster(scenario, roster, server.url)
            results = [
                sweep_once(n, args, server, scenario, roster, redis_url, folder)
                for n in args.workers
            ]
            fixed = idle_cpu(folder / f"m{args.workers[-1]}.db", redis_url, folder)
    base = next((r["sweep_s"] for r in results if r["workers"] == 1), None)
    for r in results:
        beyond = float(r["coordinator_cpu_s"]) - fixed  # type: ignore[arg-type]
        r["coordinator_fixed_cpu_s"] = round(fixed, 2)
        r["coordinator_cpu_ms_per_check_beyond_fixed"] = round(
            1000 * beyond / max(int(r["recorded"]), 1),  # type: ignore[call-overload]
            2,
        )
        if base:
            r["speed_up"] = round(float(base) / float(r["sweep_s"]), 2)  # type: ignore[arg-type]
        print(json.dumps(r, ensure_ascii=False))


if __name__ == "__main__":
    main()
