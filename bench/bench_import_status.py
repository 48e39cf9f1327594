"""Benchmark: import a generated N-account roster, then `monitor status --json ACCOUNT`.

Usage: python bench/bench_import_status.py [--accounts 100000] [--runs 5]
Prints a Markdown table for BENCHMARKS.md. Targets: import < 60 s, one-account status < 0.5 s.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from monitor.simulator.names import REGIONS

PLATFORMS = ["微博", "微信", "抖音", "头条"]


def write_roster(path: Path, n: int) -> None:
    """A long-form roster of n accounts over n/4 units (UTF-8 with BOM, as Excel writes it)."""
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["类别", "主办单位", "平台", "账号名称", "账号ID", "状态"])
        for i in range(n):
            region = REGIONS[(i // 4) % len(REGIONS)]
            unit = f"{region}第{i // 4}单位"
            w.writerow([region, unit, PLATFORMS[i % 4], f"账号{i}", f"{1000000000 + i}", "运行"])


def run(cmd: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return elapsed, proc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    monitor = [sys.executable, "-m", "monitor"]
    with tempfile.TemporaryDirectory() as tmp:
        roster = Path(tmp) / "roster.csv"
        env = {**os.environ, "MONITOR_DB": str(Path(tmp) / "bench.db")}
        write_roster(roster, args.accounts)
        import_s, proc = run([*monitor, "import", str(roster)], env)
        print(proc.stdout.strip(), file=sys.stderr)
        reimport_s, _ = run([*monitor, "import", str(roster)], env)
        queries = [
            f"weibo:{1000000000 + i}"
            for i in range(0, args.accounts, max(1, args.accounts // args.runs))
        ]
        times = []
        for q in queries[: args.runs]:
            t, proc = run([*monitor, "status", "--json", q], env)
            assert '"id"' in proc.stdout
            times.append(t)
        size_mb = (Path(tmp) / "bench.db").stat().st_size / 1e6
    print(f"| step ({args.accounts:,} accounts) | time | per account | target |")
    print("|---|---|---|---|")
    print(
        f"| `monitor import` (first) | {import_s:.1f} s | {import_s / args.accounts * 1e6:.0f} µs | < 60 s |"
    )
    print(
        f"| `monitor import` (again, unchanged) | {reimport_s:.1f} s | {reimport_s / args.accounts * 1e6:.0f} µs | |"
    )
    print(
        f"| `monitor status --json ACCOUNT` (median of {len(times)}, whole process) | "
        f"{statistics.median(times):.2f} s | | < 0.5 s |"
    )
    print(
        f"\nDatabase size: {size_mb:.0f} MB. Python {sys.version.split()[0]}, {os.cpu_count()} cores."
    )


if __name__ == "__main__":
    main()
