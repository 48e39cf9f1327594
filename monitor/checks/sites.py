"""Checking government websites: a sweep fetches pages and stores what they showed;
`site_verdicts` judges any date from the stored fetches (`monitor.site_rules`).

A sweep of one site: the homepage, then every confirmed column's listing page, each
read for its newest dated list item. Every fetch is stored, failed ones included
(ok = 0 with the reason): a failed fetch is a failed check, never "not updated".
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx

from adapters.site_page import read_page
from monitor.checks.site_fetch import PageFetch, SiteFetcher
from monitor.dates import end_of_day, local_date, start_of_day, utcnow
from monitor.durations import Duration
from monitor.messages import Message, message
from monitor.models import MessageCode, SiteTarget
from monitor.roster.sites import guess_kind
from monitor.settings import Settings, SiteSettings
from monitor.site_rules import AVAILABILITY_DAYS, SiteJudgement, judge_site
from monitor.store import ColumnEntry, ColumnRow, SiteObservation, SiteRow, Store


class PageGetter(Protocol):
    """What a sweep fetches pages through (`SiteFetcher`, or a counter around it)."""

    async def get(self, url: str, *, method: str = "GET") -> PageFetch: ...


class _Counted:
    """A fetcher that counts the pages fetched through it (one site's share of a sweep)."""

    def __init__(self, fetcher: PageGetter):
        self.fetcher = fetcher
        self.count = 0

    async def get(self, url: str, *, method: str = "GET") -> PageFetch:
        self.count += 1
        return await self.fetcher.get(url, method=method)


@dataclass(slots=True)
class SiteSweep:
    """What a sweep did: sites checked, pages fetched and seconds taken (per site), failed
    fetches and broken links. A page is one GET or HEAD (redirects and robots.txt apart)."""

    sites: int = 0
    pages: dict[int, int] = field(default_factory=dict)
    failed: int = 0
    broken: int = 0
    seconds: dict[int, float] = field(default_factory=dict)


def coded(detail: Message | None) -> dict[str, Any]:
    """A fetch's detail as a site observation stores it: English text, code, parameters."""
    if detail is None:
        return {"detail": None}
    return {"detail": str(detail), "detail_code": detail.code, "detail_params": detail.params}


def _observation(
    site: SiteRow,
    target: SiteTarget,
    got: PageFetch,
    at: datetime,
    today: date,
    *,
    column: ColumnRow | None = None,
) -> tuple[SiteObservation, list[str]]:
    obs = SiteObservation(
        site=site.id,
        target=target,
        url=got.url,
        observed_at=at,
        ok=got.ok,
        reachable=got.reachable,
        column_id=column.id if column else None,
        status=got.status,
        **coded(got.detail),
    )
    links: list[str] = []
    if got.ok:
        base = got.final_url or got.url
        page = read_page(got.text, base, today, (column.date_selector if column else "") or None)
        obs.items = len(page.items)
        links = page.links
        newest = page.newest
        if newest is not None:
            obs.newest_date, obs.newest_title, obs.newest_url = newest.day, newest.title, newest.url
    return obs, links


def same_site(site_url: str, url: str) -> bool:
    """Whether `url` is on the site: same scheme and host, under the homepage's folder."""
    home, other = urlsplit(site_url), urlsplit(url)
    folder = home.path.rsplit("/", 1)[0] + "/"
    return (home.scheme, home.netloc.lower()) == (other.scheme, other.netloc.lower()) and (
        other.path or "/"
    ).startswith(folder)


async def _check_link(fetcher: PageGetter, url: str, *, head: bool) -> PageFetch:
    # HEAD first; servers that refuse it (405, 501) or answer it wrongly get a GET.
    if head:
        got = await fetcher.get(url, method="HEAD")
        if got.status not in (405, 501):
            return got
    return await fetcher.get(url)


async def crawl_links(
    fetcher: PageGetter,
    site: SiteRow,
    fetched: dict[str, tuple[PageFetch, list[str]]],
    settings: Settings,
    clock: Callable[[], datetime],
) -> list[SiteObservation]:
    """Check every link on the homepage and column pages, and on same-site pages they link
    to (depth 2), each once, at most `sites.max_pages` URLs in all; a failed link is
    tried again once before it counts. Returns the broken links and one sweep marker."""
    sweep = uuid.uuid4().hex
    budget = settings.sites.max_pages - len(fetched)
    results: dict[str, PageFetch] = {url: got for url, (got, _) in fetched.items()}
    found_on: dict[str, str] = {}
    level: list[tuple[str, str]] = [
        (link, page) for page, (_, links) in fetched.items() for link in links
    ]
    for depth in (1, 2):
        following: list[tuple[str, str]] = []
        for link, page in level:
            found_on.setdefault(link, page)
            if link in results:
                continue
            if budget <= 0:
                break
            budget -= 1
            parse = depth == 1 and same_site(site.url, link)
            got = await _check_link(fetcher, link, head=not parse)
            results[link] = got
            if parse and got.ok:
                read = read_page(got.text, got.final_url or link, local_date(clock(), settings.tz))
                following += [(child, link) for child in read.links]
        level = following
    out = []
    for link, page in found_on.items():
        first = results.get(link)
        if first is None or first.ok or first.reachable is None or link == site.url:
            # unchecked (budget), fine, not attempted (robots, the guard), or the
            # homepage itself, whose failures are the availability check's
            continue
        again = await _check_link(fetcher, link, head=False)
        if again.ok or again.reachable is None:
            continue
        out.append(
            SiteObservation(
                site=site.id,
                target=SiteTarget.LINK,
                url=link,
                page=page,
                sweep=sweep,
                observed_at=clock(),
                ok=False,
                reachable=again.reachable,
                status=again.status,
                **coded(again.detail),
            )
        )
    out.append(
        SiteObservation(
            site=site.id,
            target=SiteTarget.LINK,
            url=site.url,
            sweep=sweep,
            observed_at=clock(),
            ok=True,
            items=len(results),
            **coded(message(MessageCode.SITE_LINKS_CHECKED, checked=len(results), broken=len(out))),
        )
    )
    return out


async def sweep_site(
    fetcher: PageGetter,
    site: SiteRow,
    columns: Sequence[ColumnRow],
    settings: Settings,
    clock: Callable[[], datetime] = utcnow,
    *,
    links: bool = True,
) -> list[SiteObservation]:
    """Fetch a site's homepage and columns (then check its links); the observations to store."""
    out = []
    fetched: dict[str, tuple[PageFetch, list[str]]] = {}
    targets: list[tuple[SiteTarget, ColumnRow | None, str]] = [
        (SiteTarget.HOMEPAGE, None, site.url)
    ]
    targets += [(SiteTarget.COLUMN, column, column.url) for column in columns]
    for target, column, url in targets:
        got = await fetcher.get(url)
        at = clock()
        obs, page_links = _observation(
            site, target, got, at, local_date(at, settings.tz), column=column
        )
        out.append(obs)
        fetched.setdefault(url, (got, page_links))
    if links:
        out += await crawl_links(fetcher, site, fetched, settings, clock)
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
                counted = _Counted(fetcher)
                observations = await sweep_site(
                    counted, site, columns.get(site.id, []), settings, clock
                )
                store.add_site_observations(observations)
                result.pages[site.id] = counted.count
                result.failed += sum(
                    1 for o in observations if not o.ok and o.target is not SiteTarget.LINK
                )
                result.broken += sum(
                    1 for o in observations if not o.ok and o.target is SiteTarget.LINK
                )
                result.seconds[site.id] = loop.time() - started

        await asyncio.gather(*(one(site) for site in chosen))
    return result


async def probe_sites(
    store: Store,
    settings: Settings,
    sites: Sequence[SiteRow] | None = None,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> dict[int, bool | None]:
    """Fetch every homepage once (an availability probe) and store the outcomes.

    Returns each site's `reachable` (None: not attempted, e.g. robots.txt).
    """
    chosen = list(sites) if sites is not None else store.sites()
    slots = asyncio.Semaphore(settings.sites.concurrent_sites)
    found: list[SiteObservation] = []

    async with SiteFetcher(settings, transport=transport) as fetcher:

        async def one(site: SiteRow) -> None:
            async with slots:
                got = await fetcher.get(site.url)
            found.append(
                SiteObservation(
                    site=site.id,
                    target=SiteTarget.PROBE,
                    url=site.url,
                    observed_at=clock(),
                    ok=got.ok,
                    reachable=got.reachable,
                    status=got.status,
                    **coded(got.detail),
                )
            )

        await asyncio.gather(*(one(site) for site in chosen))
    store.add_site_observations(found)
    return {o.site: o.reachable for o in found}


async def discover_columns(
    store: Store,
    settings: Settings,
    sites: Sequence[SiteRow] | None = None,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> dict[int, list[ColumnEntry]]:
    """Columns proposed from each homepage's navigation, typed by name; stored as proposals.

    A proposal is never checked until accepted (`Store.accept_proposed_columns`); a
    column already listed keeps its name and type. A homepage that cannot be read
    proposes nothing.
    """
    chosen = list(sites) if sites is not None else store.sites()
    found: dict[int, list[ColumnEntry]] = {}
    async with SiteFetcher(settings, transport=transport) as fetcher:
        for site in chosen:
            got = await fetcher.get(site.url)
            if not got.ok:
                found[site.id] = []
                continue
            page = read_page(got.text, got.final_url or got.url, local_date(clock(), settings.tz))
            seen: dict[str, ColumnEntry] = {}
            for text, url in page.nav:
                name = " ".join(text.split())
                if not name or url in seen or url.rstrip("/") == site.url.rstrip("/"):
                    continue
                if same_site(site.url, url):
                    seen[url] = ColumnEntry(site.site_code, name, url, guess_kind(name))
            found[site.id] = list(seen.values())
    entries = [entry for proposals in found.values() for entry in proposals]
    if entries:
        store.import_columns(
            file="monitor sites discover", now=clock(), entries=entries, proposed=True
        )
    return found


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
    return site_statuses(
        store, settings.sites, settings.policy.evidence_max_age, settings.tz, as_of, sites
    )


def site_statuses(
    store: Store,
    rules: SiteSettings,
    evidence_max_age: Duration,
    tz: tzinfo,
    as_of: date,
    sites: Sequence[SiteRow] | None = None,
) -> list[SiteStatus]:
    """`site_verdicts` with the rules given one by one (reports pass their own policy)."""
    chosen = list(sites) if sites is not None else store.sites()
    at = end_of_day(as_of, tz)
    since = start_of_day(evidence_max_age.before(as_of), tz)
    probes_since = start_of_day(as_of - timedelta(days=AVAILABILITY_DAYS - 1), tz)
    ids = [s.id for s in chosen]
    evidence = store.site_evidence(ids, at, since=since, probes_since=probes_since)
    columns = store.site_columns(ids)
    return [
        SiteStatus(
            site,
            columns.get(site.id, []),
            judge_site(evidence[site.id], columns.get(site.id, []), rules, as_of),
        )
        for site in chosen
    ]
