"""Benchmark: a sweep of simulated government websites (simulator in its own process).

Usage: python bench/bench_sites.py [--sites 50] [--latency-ms 20] [--concurrent 4]
       python bench/bench_sites.py --judge-year [--sites 50]

Generates `--sites` websites (monitor.simulator.sites: 7 columns each, links, the
profiles' mix of stale, empty, broken and failing pages), serves them with
`monitor simulate --scenario`, imports both rosters, then runs one sweep
(`monitor.checks.sites.check_sites`: homepage, columns, depth-2 link check) and
prints pages fetched per site and time per site as a Markdown table.

`--judge-year` instead measures judging (`Store.site_evidence`, what `monitor sites
status` and the report read) over a year of stored fetches: every day a homepage,
7 columns, 20 probes, a link sweep with 5 broken links, per site.

All simulated sites share the simulator's one host, which stands for 50 hosts: the
per-host rate (`sites.rate_per_s`, 2 by default) is lifted for the run, so the
figures are the monitor's own cost. At the default rate a site's sweep takes at least
pages / 2 seconds, whatever the monitor does.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def wait_for(path: Path, proc: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            sys.exit(f"simulator did not become ready: {proc.stderr.read() if proc.stderr else ''}")
        time.sleep(0.1)


def judge_year(count: int) -> None:
    """Time judging `count` sites from a year of stored fetches."""
    from datetime import UTC, datetime, timedelta

    from monitor.models import ColumnKind, SiteTarget
    from monitor.store import ColumnEntry, SiteEntry, SiteObservation, Store

    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as tmp, Store.open(Path(tmp) / "m.db") as store:
        codes = [f"6100{i:06d}" for i in range(count)]
        store.import_sites(
            file="s", now=now, entries=[SiteEntry(c, c, f"http://h/{c}/", "u", "r") for c in codes]
        )
        store.import_columns(
            file="c",
            now=now,
            entries=[
                ColumnEntry(c, f"c{j}", f"http://h/{c}/c{j}", ColumnKind.NEWS)
                for c in codes
                for j in range(7)
            ],
        )
        columns = store.site_columns()
        rows: list[SiteObservation] = []
        for day in range(365):
            at = now - timedelta(days=day)
            for site, cs in columns.items():

                def obs(target: SiteTarget, site: int = site, **kw: object) -> SiteObservation:
                    return SiteObservation(site=site, target=target, url="u", **kw)  # type: ignore[arg-type]

                rows.append(
                    obs(SiteTarget.HOMEPAGE, observed_at=at, ok=True, reachable=True, items=3)
                )
                rows += [
                    obs(SiteTarget.COLUMN, observed_at=at, ok=True, column_id=c.id, items=3)
                    for c in cs
                ]
                rows += [
                    obs(
                        SiteTarget.PROBE,
                        observed_at=at - timedelta(minutes=72 * k),
                        ok=True,
                        reachable=True,
                    )
                    for k in range(20)
                ]
                sweep = f"{day}-{site}"
                rows.append(obs(SiteTarget.LINK, observed_at=at, ok=True, sweep=sweep))
                rows += [
                    obs(SiteTarget.LINK, observed_at=at, ok=False, sweep=sweep) for _ in range(5)
                ]
        store.add_site_observations(rows)
        ids = [s.id for s in store.sites()]
        times = []
        for _ in range(5):
            start = time.perf_counter()
            store.site_evidence(
                ids, now, since=now - timedelta(days=3), probes_since=now - timedelta(days=6)
            )
            times.append(time.perf_counter() - start)
    print(f"{count} sites, {len(rows):,} stored fetches (a year): site_evidence "
          f"median {statistics.median(times) * 1000:.0f} ms of 5 runs")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sites", type=int, default=50)
    parser.add_argument("--latency-ms", type=float, default=20)
    parser.add_argument("--concurrent", type=int, default=4)
    parser.add_argument("--judge-year", action="store_true")
    args = parser.parse_args()
    if args.judge_year:
        judge_year(args.sites)
        return

    from monitor.checks.sites import check_sites
    from monitor.roster.sites import read_columns, read_sites
    from monitor.settings import Settings
    from monitor.simulator import Scenario, own_network
    from monitor.simulator.sites import generate_sites, write_columns_roster, write_sites_roster
    from monitor.store import Store

    today = date.today()
    sites = generate_sites(args.sites, today, seed=1)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        Scenario(sites=sites, generated_for=today).save(work / "sites.json")
        ready = work / "sim.env"
        env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
        sim = subprocess.Popen(
            [sys.executable, "-m", "monitor", "simulate", "--scenario", str(work / "sites.json"),
             "--latency-ms", str(args.latency_ms), "--ready-file", str(ready)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
        )  # fmt: skip
        try:
            wait_for(ready, sim)
            url = next(
                line.partition("=")[2]
                for line in ready.read_text().splitlines()
                if line.startswith("MONITOR_WEIBO__BASE_URL=")
            )
            base = url.split("/", 3)
            base_url = f"{base[0]}//{base[2]}"
            write_sites_roster(sites, work / "sites.csv", base_url)
            write_columns_roster(sites, work / "cols.csv", base_url)
            settings = Settings(
                network={"allowed_networks": [own_network(base_url)]},
                sites={"rate_per_s": 100_000, "concurrent_sites": args.concurrent},
            )
            with Store.open(work / "m.db") as store:
                from monitor.dates import utcnow

                store.import_sites(
                    file="sites.csv",
                    now=utcnow(),
                    entries=[e for _, e in read_sites(work / "sites.csv").entries],
                )
                store.import_columns(
                    file="cols.csv",
                    now=utcnow(),
                    entries=[e for _, e in read_columns(work / "cols.csv").entries],
                )
                cpu0 = resource.getrusage(resource.RUSAGE_SELF)
                start = time.perf_counter()
                sweep = asyncio.run(check_sites(store, settings))
                wall = time.perf_counter() - start
                cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        finally:
            sim.terminate()
            sim.wait(10)
    pages = list(sweep.pages.values())
    seconds = list(sweep.seconds.values())
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    total = sum(pages)
    print(f"{args.sites} sites, latency {args.latency_ms:g} ms, {args.concurrent} sites at a time")
    print()
    print("| measure | value |")
    print("|---|---|")
    print(
        f"| pages fetched per site (mean / min / max) | {statistics.mean(pages):.0f} / {min(pages)} / {max(pages)} |"
    )
    print(
        f"| time per site (mean / median / max) | {statistics.mean(seconds):.2f} s / {statistics.median(seconds):.2f} s / {max(seconds):.2f} s |"
    )
    print(f"| whole sweep | {wall:.1f} s ({total} pages, {total / wall:.0f} pages/s) |")
    print(f"| monitor CPU per page | {cpu / total * 1000:.2f} ms |")
    print(f"| failed fetches / broken links found | {sweep.failed} / {sweep.broken} |")


if __name__ == "__main__":
    main()
