"""Benchmark: `monitor check --all` over a simulated city (simulator in its own process).

Usage: python bench/bench_check.py [--accounts 5000] [--latency-ms 50]
Prints checks per second and CPU milliseconds per check (the monitor process
only), as a Markdown table for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path


def wait_for(path: Path, proc: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            sys.exit(f"simulator did not become ready: {proc.stderr.read() if proc.stderr else ''}")
        time.sleep(0.1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=5000)
    parser.add_argument("--latency-ms", type=float, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=50)
    args = parser.parse_args()
    monitor = [sys.executable, "-m", "monitor"]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        ready = work / "sim.env"
        sim = subprocess.Popen(
            [
                *monitor,
                "simulate",
                "--generate",
                str(args.accounts),
                "--seed",
                str(args.seed),
                "--latency-ms",
                str(args.latency_ms),
                "--roster-out",
                str(work / "city.csv"),
                "--ready-file",
                str(ready),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            wait_for(ready, sim)
            env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
            for line in ready.read_text().splitlines():
                key, _, value = line.partition("=")
                env[key] = value
            env["MONITOR_DB"] = str(work / "m.db")
            env["MONITOR_HTTP__TIMEOUT_S"] = "5"
            for source in ("WEIBO", "WECHAT_API", "FEED"):
                env[f"MONITOR_LIMITS__{source}__MAX_CONCURRENT"] = str(args.concurrency)
            subprocess.run(
                [*monitor, "import", str(work / "city.csv")],
                env=env,
                check=True,
                capture_output=True,
            )
            rows = []
            for sweep in ("first", "second"):
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                start = time.perf_counter()
                proc = subprocess.run(
                    [*monitor, "check", "--all", "--json"],
                    env=env,
                    capture_output=True,
                    text=True,
                    check=False,
                )
                wall = time.perf_counter() - start
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                if proc.returncode != 0:
                    sys.exit(proc.stderr[-3000:])
                reports = json.loads(proc.stdout)
                cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
                rows.append((sweep, len(reports), wall, cpu, after.ru_maxrss))
        finally:
            sim.terminate()
            sim.wait(10)
    outcomes = Counter(r["outcome"] for r in reports)
    by_platform: Counter[str] = Counter(r["platform"] for r in reports)
    print(
        f"Command: `python bench/bench_check.py --accounts {args.accounts} "
        f"--latency-ms {args.latency_ms:g}`\n"
    )
    print(
        "| sweep | accounts | latency | wall | checks/s | CPU ms per check | peak RSS (max so far) |"
    )
    print("|---|---|---|---|---|---|---|")
    for sweep, n, wall, cpu, rss in rows:
        print(
            f"| {sweep} | {n:,} | {args.latency_ms:g} ms | {wall:.1f} s | {n / wall:.0f} | "
            f"{cpu / n * 1000:.1f} | {rss / 1024:.0f} MB |"
        )
    print(
        f"\nOutcomes (second sweep): {dict(outcomes)}; platforms: {dict(by_platform)}; "
        f"per-source concurrency {args.concurrency}; {os.cpu_count()} cores. The first sweep "
        "includes each WeChat account's first datacube scan (back to the suspended window); "
        "later sweeps scan only new days."
    )


if __name__ == "__main__":
    main()
