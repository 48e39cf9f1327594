"""Checking government websites: a sweep fetches pages and stores what they showed;
`site_verdicts` judges any date from the stored fetches (`monitor.site_rules`).

A sweep of one site: the homepage, then every confirmed column's listing page, each
read for its newest dated list item. Every fetch is stored, failed ones included
(ok = 0 with the reason): a failed fetch is a failed check, never "not updated".
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import httpx

from adapters.site_page import read_page
from monitor.checks.site_fetch import PageFetch, SiteFetcher
from monitor.dates import end_of_day, local_date, start_of_day, utcnow
from monitor.models import SiteTarget
from monitor.settings import Settings
from monitor.site_rules import AVAILABILITY_DAYS, SiteJudgement, judge_site
from monitor.store import ColumnRow, SiteObservation, SiteRow, Store


@dataclass(slots=True)
class SiteSweep:
    """What a sweep did: sites checked, pages fetched (per site) and failed fetches."""

    sites: int = 0
    pages: dict[int, int] = field(default_factory=dict)
    failed: int = 0
    seconds: dict[int, float] = field(default_factory=dict)


def _observation(
    site: SiteRow,
    target: SiteTarget,
    got: PageFetch,
    at: datetime,
    today: date,
    *,
    column: ColumnRow | None = None,
) -> SiteObservation:
    obs = SiteObservation(
        site=site.id,
        target=target,
        url=got.url,
        observed_at=at,
        ok=got.ok,
        reachable=got.reachable,
        column_id=column.id if column else None,
        status=got.status,
        detail=got.detail,
    )
    if got.ok:
        page = read_page(got.text, got.url, today, (column.date_selector if column else "") or None)
        obs.items = len(page.items)
        newest = page.newest
        if newest is not None:
            obs.newest_date, obs.newest_title, obs.newest_url = newest.day, newest.title, newest.url
    return obs


async def sweep_site(
    fetcher: SiteFetcher,
    site: SiteRow,
    columns: Sequence[ColumnRow],
    settings: Settings,
    clock: Callable[[], datetime] = utcnow,
) -> list[SiteObservation]:
    """Fetch a site's homepage and columns; the observations to store."""
    out = []
    got = await fetcher.get(site.url)
    at = clock()
    out.append(_observation(site, SiteTarget.HOMEPAGE, got, at, local_date(at, settings.tz)))
    for column in columns:
        got = await fetcher.get(column.url)
        at = clock()
        today = local_date(at, settings.tz)
        out.append(_observation(site, SiteTarget.COLUMN, got, at, today, column=column))
    return out


async def check_sites(
    store: Store,
    settings: Settings,
    sites: Sequence[SiteRow] | None = None,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> SiteSweep:
    """Sweep websites (default: every site in the roster), storing each site's fetches."""
    chosen = list(sites) if sites is not None else store.sites()
    columns = store.site_columns([s.id for s in chosen])
    result = SiteSweep(sites=len(chosen))
    slots = asyncio.Semaphore(settings.sites.concurrent_sites)
    loop = asyncio.get_running_loop()

    async with SiteFetcher(settings, transport=transport) as fetcher:

        async def one(site: SiteRow) -> None:
            async with slots:
                started = loop.time()
                observations = await sweep_site(
                    fetcher, site, columns.get(site.id, []), settings, clock
                )
                store.add_site_observations(observations)
                result.pages[site.id] = len(observations)
                result.failed += sum(1 for o in observations if not o.ok)
                result.seconds[site.id] = loop.time() - started

        await asyncio.gather(*(one(site) for site in chosen))
    return result


@dataclass(frozen=True, slots=True)
class SiteStatus:
    """A website, its columns and its judgement at a date."""

    site: SiteRow
    columns: list[ColumnRow]
    judgement: SiteJudgement


def site_verdicts(
    store: Store, settings: Settings, as_of: date, sites: Sequence[SiteRow] | None = None
) -> list[SiteStatus]:
    """Every website's verdict at `as_of`, judged from the fetches stored by then.

    Evidence older than `policy.evidence_max_age` before `as_of` is not used (as for
    accounts); availability counts the homepage fetches and probes of the last 7 days.
    """
    chosen = list(sites) if sites is not None else store.sites()
    tz = settings.tz
    at = end_of_day(as_of, tz)
    since = start_of_day(settings.policy.evidence_max_age.before(as_of), tz)
    probes_since = start_of_day(as_of - timedelta(days=AVAILABILITY_DAYS - 1), tz)
    ids = [s.id for s in chosen]
    evidence = store.site_evidence(ids, at, since=since, probes_since=probes_since)
    columns = store.site_columns(ids)
    return [
        SiteStatus(
            site,
            columns.get(site.id, []),
            judge_site(evidence[site.id], columns.get(site.id, []), settings.sites, as_of),
        )
        for site in chosen
    ]
