"""Benchmark: requests per WeChat check, for a first check and for a daily one.

The WeChat accounts of a generated city (no faults, none deleted) are checked
through the checker against the simulator (in process, loopback): once with no
adapter state (the first check after an import: each account's datacube scan
walks back to its newest post or the suspension window), then again one day later
with the state kept (the daily check: the newest days only). Requests are counted
by the simulator, per path, and divided by the number of checks. A check's token
call is counted too: each sweep here is a new checker, and a daemon's token is
older than its 2-hour lifetime by the next day anyway.

The script imports the tree it sits in, so a copy in an older checkout measures
that version with the same city.

Usage: python bench/bench_wechat_requests.py [--accounts 2000] [--seed 1]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.checks.fetch import Checker, CheckReport  # noqa: E402
from monitor.cli import main as cli  # noqa: E402
from monitor.settings import SecretLookup, Settings  # noqa: E402
from monitor.simulator import SimulatorServer, generate_city, write_roster  # noqa: E402
from monitor.simulator.ready import SECRET_ENV  # noqa: E402
from monitor.store import Store  # noqa: E402


async def check_all(
    db: Path, settings: Settings, secrets: SecretLookup, at: datetime
) -> list[CheckReport]:
    """Check every account once, in one checker session, at the moment `at`."""
    with Store.open(db) as store:
        accounts = store.accounts_at(at)
        async with Checker(store, settings, secrets, clock=lambda: at) as checker:
            return await checker.check_many(accounts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=2000, help="size of the generated city")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    city = generate_city(args.accounts, seed=args.seed)
    wechat = [a for a in city.accounts if a.platform == "wechat" and a.exists and not a.fault]
    city = city.model_copy(update={"accounts": wechat})
    now = [datetime.now(UTC)]
    server = SimulatorServer(city, clock=lambda: now[0], seed=args.seed)
    url = server.start()
    fast = {"rate_per_s": 10_000.0, "max_concurrent": 32}
    settings = Settings(
        wechat={"api_base_url": url, "worker_threads": 32},
        network={"allow_private_addresses": True},
        limits={"wechat_api": fast},
    )
    secrets = SecretLookup({SECRET_ENV: city.wechat_secret})
    rows = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            roster, db = Path(tmp) / "city.csv", Path(tmp) / "m.db"
            write_roster(city, roster, url)
            os.environ["MONITOR_DB"] = str(db)
            if cli(["import", str(roster)]) != 0:
                sys.exit("import failed")
            for sweep in ("first check", "daily check (next day)"):
                server.reset_stats()
                reports = asyncio.run(check_all(db, settings, secrets, now[0]))
                rows.append((sweep, len(reports), server.stats, reports))
                now[0] += timedelta(days=1)
    finally:
        server.stop()
    print(
        f"{len(wechat)} WeChat accounts of a generated city of {args.accounts} (seed {args.seed})"
    )
    print()
    paths = sorted({p for _, _, stats, _ in rows for p in stats["by_path"]})
    print(
        "| check | checks | requests per check | " + " | ".join(paths) + " | outcomes | verdicts |"
    )
    print("|---|---|---|" + "---|" * len(paths) + "---|---|")
    for sweep, checks, stats, reports in rows:
        per_path = [f"{stats['by_path'].get(p, 0) / checks:.2f}" for p in paths]
        outcomes = Counter(r.observation.outcome.value for r in reports if r.observation)
        verdicts = Counter(r.verdict.state.value for r in reports if r.verdict)
        print(
            f"| {sweep} | {checks} | {stats['requests'] / checks:.2f} | "
            + " | ".join(per_path)
            + f" | {_counts(outcomes)} | {_counts(verdicts)} |"
        )


def _counts(counter: Counter[str]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counter.items()))


if __name__ == "__main__":
    main()
