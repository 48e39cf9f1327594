"""Benchmark: `monitor report` over N accounts with a year of observations each.

Usage: python bench/bench_report.py [--accounts 100000] [--cadence-days 1] [--db PATH]
Generates the database directly (Store.apply_import for the roster, one raw
executemany transaction for the observations), unless --db names an existing
file, then times `monitor report --format csv` and `--format xlsx` as separate
processes with their peak RSS (os.wait4). Prints a Markdown table.
Targets: CSV <= 5 s, XLSX <= 30 s, memory <= 500 MB.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from monitor.dates import to_db
from monitor.models import Platform
from monitor.simulator.names import REGIONS
from monitor.store import AccountChange, ImportRecord, Store

PLATFORMS = [Platform.WEIBO, Platform.WECHAT, Platform.DOUYIN, Platform.TOUTIAO]
AS_OF = date(2020, 2, 29)
CHECK_HOUR_UTC = 2  # 10:00 in Asia/Shanghai


def roster(n: int) -> list[AccountChange]:
    out = []
    for i in range(n):
        region = REGIONS[(i // 40) % len(REGIONS)]
        p = PLATFORMS[i % 4]
        out.append(
            AccountChange(
                identity=f"{p.value}:id:{1_000_000_000 + i}",
                platform=p,
                account_id=str(1_000_000_000 + i),
                unit=f"{region}第{i // 4}单位",
                fields={"name": f"账号{i}", "region": region, "status": "operating"},
                roster_order=i,
            )
        )
    return out


def generate(path: Path, n: int, days: int, cadence: int) -> int:
    """The roster and `days` days of checks every `cadence` days per account; rows written."""
    with Store.open(path) as store:
        store.apply_import(
            ImportRecord("bench.csv", "long", datetime(2019, 1, 1, tzinfo=UTC), None), roster(n)
        )
        conn = store.conn
        # One big transaction without a WAL copy of every page; back to WAL afterwards.
        conn.execute("PRAGMA journal_mode = DELETE")
        conn.execute("PRAGMA synchronous = OFF")
        first = AS_OF - timedelta(days=days - 1)
        day_list = [first + timedelta(days=k) for k in range(0, days, cadence)]
        stamps = [
            to_db(datetime(d.year, d.month, d.day, CHECK_HOUR_UTC, tzinfo=UTC)) for d in day_list
        ]
        recorded = to_db(datetime(2020, 3, 1, tzinfo=UTC))
        start = datetime(first.year, first.month, first.day, 1, tzinfo=UTC)
        posts = [to_db(start + timedelta(days=k)) for k in range(days)]  # posted 09:00 local

        def rows():
            for account in range(1, n + 1):
                kind = account % 20
                # Posting interval: most post every few days; some went silent mid-year.
                every = 1 + account % 7
                silent_from = len(day_list) - 1 - (40 + account % 200) if kind < 4 else None
                for k, stamp in enumerate(stamps):
                    if kind == 19:  # 5%: never posted
                        yield (account, stamp, "weibo", "no_content", 1, None, recorded)
                        continue
                    if kind == 18 and k >= len(stamps) - 5:  # 5%: checks failing lately
                        yield (account, stamp, "weibo", "transient", 0, None, recorded)
                        continue
                    last = k * cadence - (k * cadence) % every
                    if silent_from is not None and k > silent_from:
                        last = silent_from * cadence - (silent_from * cadence) % every
                    yield (account, stamp, "weibo", "ok", 1, posts[last], recorded)

        conn.execute("BEGIN")
        cur = conn.executemany(
            "INSERT INTO observations (account, observed_at, source, outcome, evidence, "
            "latest_post_at, recorded_at) VALUES (?,?,?,?,?,?,?)",
            rows(),
        )
        conn.execute("COMMIT")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("ANALYZE")
        return cur.rowcount


def timed(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{' '.join(cmd)} failed")
    return elapsed, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=366)
    parser.add_argument("--cadence-days", type=int, default=1)
    parser.add_argument("--db", help="reuse (or create and keep) this database file")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-report-"))
    db = Path(args.db) if args.db else tmp / "bench.db"
    gen_s = 0.0
    rows = None
    if not db.exists():
        print(f"free disk: {shutil.disk_usage(db.parent).free / 1e9:.0f} GB", file=sys.stderr)
        start = time.perf_counter()
        rows = generate(db, args.accounts, args.days, args.cadence_days)
        gen_s = time.perf_counter() - start
        print(f"generated {rows:,} observations in {gen_s:.0f} s", file=sys.stderr)
    env = {**os.environ, "MONITOR_DB": str(db)}
    env.pop("MONITOR_CONFIG", None)
    results = []
    for fmt in ("csv", "xlsx"):
        cmd = [sys.executable, "-m", "monitor", "report", "--month", "2020-02",
               "--format", fmt, "-o", str(tmp / f"report.{fmt}")]  # fmt: skip
        seconds, rss = timed(cmd, env, Path(__file__).resolve().parent.parent)
        size = (tmp / f"report.{fmt}").stat().st_size / 1e6
        results.append((fmt, " ".join(["monitor", *cmd[3:]]), seconds, rss, size))
    db_mb = db.stat().st_size / 1e6
    print(
        f"| `{r'monitor report'}` ({args.accounts:,} accounts) | time | peak RSS | output | target |"
    )
    print("|---|---|---|---|---|")
    targets = {"csv": "<= 5 s, <= 500 MB", "xlsx": "<= 30 s, <= 500 MB"}
    for fmt, cmd, seconds, rss, size in results:
        print(f"| `{cmd}` | {seconds:.1f} s | {rss:.0f} MB | {size:.1f} MB | {targets[fmt]} |")
    print(
        f"\nDatabase: {db_mb:,.0f} MB, observations every {args.cadence_days} day(s) over "
        f"{args.days} days"
        + (f" ({rows:,} rows, generated in {gen_s:.0f} s)" if rows else "")
        + f". Python {sys.version.split()[0]}, {os.cpu_count()} cores."
    )
    if not args.db:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
