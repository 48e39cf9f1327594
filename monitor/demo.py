"""`monitor demo`: the whole product on a simulated city, offline, in one command.

A fresh working folder, a generated city served by the simulator on a free
loopback port, the roster imported, one full sweep, the summary and problem
table printed, the month's report written. A few government websites come with
the city: their rosters imported, one sweep, their verdicts printed and in the
report. Nothing keeps running afterwards.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adapters import source_names
from monitor.checks.fetch import Checker, CheckReport
from monitor.checks.site_alerts import follow_site_verdicts
from monitor.checks.sites import SiteStatus, check_sites, site_verdicts
from monitor.checks.verdicts import AccountVerdict, verdicts_at
from monitor.dates import today, utcnow
from monitor.output_paths import OutputRefused, check_folder
from monitor.roster import read_roster
from monitor.roster.apply import apply_plan, plan_import
from monitor.roster.sites import read_columns, read_sites
from monitor.settings import SecretLookup, Settings
from monitor.simulator.ready import own_network
from monitor.store import Store

MARKER = ".monitor-demo"
DEMO_ACCOUNTS = 420
DEMO_SEED = 2020
# Websites in the demo: the first profiles of monitor.simulator.sites (合格, stale
# columns, an empty column, five overdue columns, a silent homepage, a broken link).
DEMO_SITES = 6


class DemoError(Exception):
    """The demo cannot run (e.g. the folder holds something else)."""


@dataclass(slots=True)
class DemoResult:
    folder: Path
    database: Path
    roster: Path
    accounts: int
    checks: list[CheckReport]
    verdicts: list[AccountVerdict]
    reports: list[Path] = field(default_factory=list)
    seconds: float = 0.0
    sites: list[SiteStatus] = field(default_factory=list)


def prepare_folder(folder: Path, *, mkdir: bool = False) -> None:
    """Empty the demo folder, refusing to touch a folder the demo did not make.

    The folder itself is the demo's to create; its parent must exist unless `mkdir`.
    """
    try:
        check_folder(folder.parent, mkdir=mkdir)
    except OutputRefused as exc:
        raise DemoError(str(exc)) from exc
    try:
        _empty_folder(folder)
    except OSError as exc:
        raise DemoError(f"cannot use {folder} as the demo folder: {exc.strerror or exc}") from exc


def _empty_folder(folder: Path) -> None:
    if folder.exists():
        if not folder.is_dir():
            raise DemoError(f"{folder} exists and is not a folder")
        if any(folder.iterdir()) and not (folder / MARKER).exists():
            raise DemoError(
                f"{folder} is not empty and was not made by `monitor demo`; "
                "choose another folder with --dir"
            )
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    (folder / MARKER).write_text("made by `monitor demo`; re-running it empties this folder\n")


def demo_settings(base_url: str, database: Path) -> Settings:
    """Settings pointing at the simulator, with limits it tolerates (so the sweep takes seconds)."""
    limits = {"max_concurrent": 50, "rate_per_s": 500.0}
    return Settings(
        database=str(database),
        weibo={"base_url": base_url},
        wechat={"api_base_url": base_url, "worker_threads": 32},
        network={"allowed_networks": [own_network(base_url)]},
        http={"timeout_s": 3.0},
        limits=dict.fromkeys(source_names(), limits),
        reports={"folder": str(database.parent / "reports")},
        sites={"rate_per_s": 500.0, "concurrent_sites": 6},
    )


def run_demo(
    folder: Path,
    *,
    accounts: int = DEMO_ACCOUNTS,
    seed: int = DEMO_SEED,
    formats: tuple[str, ...] = ("xlsx", "html", "md"),
    mkdir: bool = False,
    on_roster: Callable[[int], Any] | None = None,
    on_check: Callable[[CheckReport], Any] | None = None,
) -> DemoResult:
    """Run the demo in `folder` (emptied first); returns what it did."""
    from monitor import simulator as sim

    started = time.perf_counter()
    prepare_folder(folder, mkdir=mkdir)
    city = demo_city(accounts, seed)
    city.save(folder / "scenario.json")
    database = folder / "monitor.db"
    roster_path = folder / "roster.csv"
    with sim.SimulatorServer(city, seed=seed) as server:
        url = server.url
        sim.write_roster(city, roster_path, url)
        settings = demo_settings(url, database)
        secrets = SecretLookup({sim.SECRET_ENV: city.wechat_secret})
        with Store.open(database) as store:
            roster = read_roster(roster_path)
            if roster.problems:
                raise DemoError(f"generated roster has problems: {roster.problems[0]}")
            plan = plan_import(store, roster.entries)
            apply_plan(
                store,
                plan,
                file=str(roster_path),
                form=roster.form,
                now=utcnow(),
                settings=settings,
            )
            if on_roster is not None:
                on_roster(len(roster.entries))
            views = store.accounts_at(utcnow())

            async def sweep() -> list[CheckReport]:
                async with Checker(store, settings, secrets) as checker:
                    return await checker.check_many(views, progress=on_check)

            checks = asyncio.run(sweep())
            day = today(settings.tz)
            sites = _sites(store, settings, city.sites, folder, url)
            verdicts = verdicts_at(store, day, settings.policy, settings.tz)
            reports = write_reports(store, settings, day, folder / "reports", formats)
    return DemoResult(
        folder=folder,
        database=database,
        roster=roster_path,
        accounts=len(views),
        checks=checks,
        verdicts=verdicts,
        reports=reports,
        seconds=time.perf_counter() - started,
        sites=sites,
    )


def _sites(
    store: Store, settings: Settings, sites: list[Any], folder: Path, url: str
) -> list[SiteStatus]:
    """The demo's websites: both rosters written and imported, one sweep, alerts followed."""
    from monitor.simulator.sites import write_columns_roster, write_sites_roster

    write_sites_roster(sites, folder / "sites.csv", url)
    write_columns_roster(sites, folder / "site_columns.csv", url)
    read = read_sites(folder / "sites.csv")
    columns = read_columns(folder / "site_columns.csv")
    if read.problems or columns.problems:
        raise DemoError(
            f"generated site rosters have problems: {(read.problems + columns.problems)[0]}"
        )
    now = utcnow()
    store.import_sites(file="sites.csv", now=now, entries=[e for _, e in read.entries])
    store.import_columns(file="site_columns.csv", now=now, entries=[e for _, e in columns.entries])
    asyncio.run(check_sites(store, settings))
    now = utcnow()
    statuses = site_verdicts(store, settings, today(settings.tz, now))
    follow_site_verdicts(store, settings, statuses, now)
    return statuses


def settings_zone() -> Any:
    """The zone the demo's settings use (its websites are generated for today there)."""
    return Settings().tz


def demo_city(accounts: int, seed: int) -> Any:
    """A generated city plus what a newcomer should see handled: a blocked account, a flaky source."""
    from monitor import simulator as sim
    from monitor.simulator.sites import generate_sites

    city = sim.generate_city(accounts, seed=seed)
    city.sites = generate_sites(DEMO_SITES, today(settings_zone()), seed=seed)
    healthy_weibo = [
        a for a in city.accounts if a.platform == "weibo" and a.exists and a.posts and not a.fault
    ]
    if healthy_weibo:
        healthy_weibo[0].fault = "login_wall"  # Weibo wants a login: blocked, not silent
    # A flaky source: now and then an answer is an HTTP 500 (a WeChat check makes
    # several calls, so keep it low enough that most accounts still get a verdict).
    return city.model_copy(update={"error_rate": 0.001})


def write_reports(
    store: Store, settings: Settings, day: Any, folder: Path, formats: tuple[str, ...]
) -> list[Path]:
    """This month's report in each format (the reports package writes them)."""
    from monitor.reports import write_monthly_report

    folder.mkdir(parents=True, exist_ok=True)
    return write_monthly_report(store, settings, f"{day:%Y-%m}", folder, list(formats))
