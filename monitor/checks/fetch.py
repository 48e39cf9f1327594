"""Checking accounts: account -> adapter (paced) -> what it saw -> `record`.

`Checker` owns the shared HTTP getter (httpx, guarded at connect time; tests inject
a transport at the same seam) and the politeness gates; it checks one account or many
concurrently, and records through `monitor.checks.record`, so schedule, verdicts,
alerts and outbox rows land with each check or not at all. A check never raises for
what a platform does: even an adapter bug becomes a recorded `parse_error`, never a
silence verdict. `observe()` alone (no recording) is what a fetch worker runs: its
Checker has no store (`store=None`) and is handed each account's adapter state
(`hand_states`) by the coordinator, which keeps the database to itself.

wechatpy does not go through the getter, so `wechat_api` is paced once per check
(`rate_per_s` checks a second) instead of per request.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta, tzinfo
from typing import Any
from urllib.parse import urlsplit

import httpx

from adapters import (
    NO_SOURCE_REASON,
    UnknownSourceError,
    choose_source,
    close_adapters,
    get_adapter,
    manifests,
    source_urls,
)
from adapters._http import Fetched, FetchFailure, HttpGetter
from adapters.base import AdapterContext, CheckTarget
from adapters.netguard import UrlGuard
from adapters.transport import http_client
from monitor.checks.pacing import Pacer
from monitor.checks.record import CheckReport, Seen, record
from monitor.checks.verdicts import verdicts_at, windows_of
from monitor.classify import thresholds
from monitor.dates import EARLIEST_DATE, local_date, utcnow
from monitor.messages import render
from monitor.models import AccountView, MessageCode, Observation, Outcome, Verdict
from monitor.settings import SecretLookup, Settings
from monitor.store import SourceState, Store

log = logging.getLogger(__name__)


# Deferred checks (the daemon's) are written in batches: one transaction for up to this
# many checks or this many seconds, so the writing runs once for many checks.
RECORD_BATCH = 50
RECORD_BATCH_S = 1.0


def state_key(target: CheckTarget) -> str:
    """What an adapter's state is gathered from; when the roster changes it, start afresh."""
    return "|".join((target.account_id, target.feed_url.strip(), target.appid))


def warning_boundary(settings: Settings, now: datetime) -> date:
    """The classifier's warning boundary today: a post before it means warning or worse."""
    today = now.astimezone(settings.tz).date()
    return thresholds(windows_of(settings.policy), today).warning_before


# A paced start may be this fraction of its interval late, to ride on a wakeup the
# process takes anyway (see monitor.politeness): at worst 1/1.1 = 0.91 of the limit.
PACING_SLACK = 0.1


class PacedGetter:
    """Spaces GETs per source (and per host for feeds) before they leave."""

    def __init__(self, inner: HttpGetter, settings: Settings, *, slack: float = PACING_SLACK):
        self._inner = inner
        self._settings = settings
        self._slack = slack
        self._pacers: dict[str, Pacer] = {}
        # Requests started per pacing key ("weibo", "feed:<host>"), for the sweep log.
        self.requests: Counter[str] = Counter()
        # A source's own URLs (its manifest's origins: Weibo's API and visitor paths)
        # are paced as that source; anything else (feeds, even on the same host as with
        # the simulator) per host. Sources paced per check (wechatpy) never come here.
        self._prefixes = tuple(
            (prefix, source)
            for prefix, source in source_urls(settings)
            if manifests()[source].paced_per == "request"
        )
        # Everything else is paced per host, with the limits of the source that
        # fetches from many hosts (feeds).
        self._per_host = next(
            (m.name for m in manifests().values() if m.backoff_by == "host"), "feed"
        )

    def _key(self, url: str) -> tuple[str, str | None]:
        for prefix, source in self._prefixes:
            if url.startswith(prefix):
                return source, source
        try:
            parts = urlsplit(url)
            host = parts.hostname or ""
            port = parts.port
        except ValueError:
            return f"{self._per_host}:?", None
        host = f"{host}:{port}" if port else host
        return f"{self._per_host}:{host}", None

    def _pacer(self, key: str, source: str | None) -> Pacer:
        pacer = self._pacers.get(key)
        if pacer is None:
            limit = self._settings.limits.for_source(source or self._per_host)
            pacer = self._pacers[key] = Pacer(
                limit.rate_per_s, slack=self._slack / limit.rate_per_s
            )
        return pacer

    async def get(
        self, url: str, *, headers: dict[str, str] | None, timeout: float, max_bytes: int
    ) -> Fetched | FetchFailure:
        """Wait for the URL's pacer, then GET through the inner getter."""
        await self._start(url)
        got = await self._inner.get(url, headers=headers, timeout=timeout, max_bytes=max_bytes)
        self._nudge()
        return got

    async def post_form(
        self,
        url: str,
        form: dict[str, str],
        *,
        headers: dict[str, str] | None,
        timeout: float,
        max_bytes: int,
    ) -> Fetched | FetchFailure:
        """Wait for the URL's pacer, then POST the form through the inner getter."""
        await self._start(url)
        got = await self._inner.post_form(
            url, form, headers=headers, timeout=timeout, max_bytes=max_bytes
        )
        self._nudge()
        return got

    async def _start(self, url: str) -> None:
        key, source = self._key(url)
        await self._pacer(key, source).wait()
        self.requests[key] += 1

    def _nudge(self) -> None:
        # Awake for this answer anyway: a start that is due now goes without a timer wakeup.
        for pacer in self._pacers.values():
            pacer.nudge()

    async def aclose(self) -> None:
        await self._inner.aclose()


class _CountingPacer(Pacer):
    """A pacer that counts its starts (for the sweep log)."""

    def __init__(self, rate_per_s: float):
        super().__init__(rate_per_s)
        self.starts = 0

    async def wait(self) -> None:
        await super().wait()
        self.starts += 1


_NOT_READ: Any = object()


class Checker:
    """Checks accounts through their adapters and stores what they saw.

    Use as an async context manager: it opens the shared HTTP client and closes
    it (and the adapters' worker threads) afterwards.
    """

    def __init__(
        self,
        store: Store | None,
        settings: Settings,
        secrets: SecretLookup | None = None,
        *,
        clock: Callable[[], datetime] = utcnow,
        transport: httpx.AsyncBaseTransport | None = None,
        rng: random.Random | None = None,
        pacing_slack: float = PACING_SLACK,
    ):
        self._store = store
        self._pacing_slack = pacing_slack
        self.settings = settings
        self.secrets = secrets or SecretLookup()
        self.clock = clock
        self._transport = transport
        self._http: PacedGetter | None = None
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._check_pacers: dict[str, Pacer] = {}
        self.rng = rng or random.Random()
        self._pending: list[Seen] = []
        self._pending_since = 0.0
        self._guard = UrlGuard(settings)
        # Adapter states read ahead for accounts about to be checked (None: has none).
        self._states: dict[int, SourceState | None] = {}

    async def __aenter__(self) -> Checker:
        http = self.settings.http
        getter = http_client(
            timeout_s=http.timeout_s,
            user_agent=http.user_agent,
            judge=self._guard.peer_reason,
            transport=self._transport,
            local_address=http.source_address,
        )
        self._http = PacedGetter(getter, self.settings, slack=self._pacing_slack)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._http is not None:
            await self._http.aclose()
        close_adapters()

    @property
    def store(self) -> Store:
        """The database; a fetch worker's Checker has none and only observes."""
        assert self._store is not None, "a fetch worker's Checker only observes"
        return self._store

    @property
    def requests(self) -> Counter[str]:
        """Requests started so far, per pacing key (wechat_api counts checks)."""
        out: Counter[str] = Counter(self._http.requests if self._http else {})
        for source, pacer in self._check_pacers.items():
            out[source] += getattr(pacer, "starts", 0)
        return out

    def _context(self) -> AdapterContext:
        assert self._http is not None, "use Checker as an async context manager"
        return AdapterContext(
            http=self._http,
            settings=self.settings,
            secrets=self.secrets,
            clock=self.clock,
            url_guard=self._guard,
            warning_before=warning_boundary(self.settings, self.clock()),
        )

    def _check_pacer(self, source: str) -> Pacer:
        pacer = self._check_pacers.get(source)
        if pacer is None:
            limit = self.settings.limits.for_source(source)
            pacer = self._check_pacers[source] = _CountingPacer(limit.rate_per_s)
        return pacer

    def _slot(self, source: str) -> asyncio.Semaphore:
        slot = self._slots.get(source)
        if slot is None:
            limit = self.settings.limits.for_source(source)
            slot = self._slots[source] = asyncio.Semaphore(limit.max_concurrent)
        return slot

    def read_ahead(self, accounts: Sequence[int]) -> None:
        """Read the adapter states of accounts about to be checked, in one query.

        Only checks of those accounts change them, and a check here takes its copy
        first. A check by another process in between leaves the copy one check
        older: every adapter's state is a consistent snapshot (validators, a kept
        container, scan progress), so that costs requests, never a wrong answer.
        """
        found = self.store.source_states(accounts)
        for account in accounts:
            self._states[account] = found.get(account)

    def hand_states(self, states: dict[int, SourceState | None]) -> None:
        """Take adapter states read elsewhere (a fetch worker's, from its task)."""
        self._states.update(states)

    def drop_read_ahead(self, accounts: Sequence[int]) -> None:
        """Forget states read ahead for accounts that will not be checked now after all."""
        for account in accounts:
            self._states.pop(account, None)

    async def check(self, account: AccountView) -> CheckReport:
        """Check one account now, store the observation (and adapter state), return the verdict."""
        seen = await self.observe(account)
        if isinstance(seen, CheckReport):
            return seen
        return self._record([seen])[0]

    async def check_deferred(self, account: AccountView) -> list[CheckReport]:
        """Check one account; its result joins a batch written later in one transaction.

        Returns the reports of the batch when this check closed it (else nothing yet):
        a batch closes at `RECORD_BATCH` checks, `RECORD_BATCH_S` after its first one,
        or at once on a failed check, so a rate-limit storm is seen as promptly as before.
        Call `flush()` when done. A batch's checks all land together or not at all.
        """
        seen = await self.observe(account)
        if isinstance(seen, CheckReport):
            return [seen]
        if not self._pending:
            self._pending_since = time.monotonic()
        self._pending.append(seen)
        if (
            len(self._pending) >= RECORD_BATCH
            or not seen.observation.is_evidence
            or time.monotonic() - self._pending_since >= RECORD_BATCH_S
        ):
            return self.flush()
        return []

    def flush(self) -> list[CheckReport]:
        """Write the checks `check_deferred` holds; their reports."""
        pending, self._pending = self._pending, []
        return self._record(pending) if pending else []

    async def observe(self, account: AccountView) -> Seen | CheckReport:
        """Run the account's adapter: what it saw (not recorded), or a report when nothing could run."""
        ahead = self._states.pop(account.id, _NOT_READ)
        source = choose_source(
            account.platform.value,
            account.source,
            account.account_id,
            account.feed_url,
            account.appid,
            account.secret_env,
        )
        if source is None:
            return CheckReport(account, None, None, self._verdict(account.id), NO_SOURCE_REASON)
        try:
            adapter = get_adapter(source)
        except UnknownSourceError as exc:
            return CheckReport(account, source, None, self._verdict(account.id), str(exc))
        target = CheckTarget(
            id=account.id,
            platform=account.platform,
            account_id=account.account_id,
            name=account.name,
            feed_url=account.feed_url,
            appid=account.appid
            or (account.account_id if account.platform.value == "wechat" else ""),
            secret_env=account.secret_env,
        )
        key = state_key(target)
        saved = self.store.source_state(account.id) if ahead is _NOT_READ else ahead
        # A state gathered from another source, feed URL or AppID (the roster
        # changed) must not answer for this one: a 304 would repeat another
        # feed's post, a datacube scan another account's progress.
        if saved is not None and saved.source == source and saved.key in (key, ""):
            target = replace(target, state=saved.state)
        async with self._slot(source):
            if manifests()[source].paced_per == "check":
                await self._check_pacer(source).wait()
            try:
                result = await adapter.check(target, self._context())
                observation, state = result.observation, result.state
            except Exception as exc:  # an adapter bug must not look like silence
                log.exception("adapter %s failed on account %s", source, account.id)
                params = {"error_type": type(exc).__name__, "error": str(exc)[:400]}
                observation = Observation(
                    account=account.id,
                    observed_at=self.clock(),
                    source=source,
                    outcome=Outcome.PARSE_ERROR,
                    detail=render(MessageCode.ADAPTER_ERROR, params, "en")[:500],
                    detail_code=MessageCode.ADAPTER_ERROR,
                    detail_params=params,
                )
                state = target.state
        if observation.account != account.id:
            observation = replace(observation, account=account.id)
        implausible = implausible_post(observation, self.settings.tz)
        if implausible is not None:
            observation, state = implausible, target.state
        if observation.detail_code and not observation.detail:
            # Adapters give a code only; the English text is kept for the JSON `detail`.
            detail = render(observation.detail_code, observation.detail_params, "en")
            observation = replace(observation, detail=detail)
        # A state saved before keys were kept gets its key with its next save.
        unchanged = state == target.state and (saved is None or saved.key == key or not state)
        return Seen(account, source, observation, None if unchanged else state, key)

    def _record(self, seen: list[Seen]) -> list[CheckReport]:
        """Record what the checks saw (and all that follows) in one transaction."""
        return record(self.store, self.settings, seen, now=self.clock(), rng=self.rng)

    async def check_many(
        self,
        accounts: Sequence[AccountView],
        *,
        progress: Callable[[CheckReport], Any] | None = None,
    ) -> list[CheckReport]:
        """Check accounts concurrently within each source's limits; reports in input order.

        Checks are recorded in batches, as the daemon's are (one transaction for many),
        so writing stays a small share of the time the checks take.
        """
        done: dict[int, CheckReport] = {}

        def landed(reports: list[CheckReport]) -> None:
            for report in reports:
                done[report.account.id] = report
                if progress is not None:
                    progress(report)

        async def one(account: AccountView) -> None:
            landed(await self.check_deferred(account))

        await asyncio.gather(*(one(a) for a in accounts))
        landed(self.flush())
        return [done[a.id] for a in accounts]

    def _verdict(self, account: int) -> Verdict | None:
        if self._store is None:
            return None  # a fetch worker: the coordinator judges
        return self._verdicts([account]).get(account)

    def _verdicts(self, accounts: list[int]) -> dict[int, Verdict]:
        today_local = self.clock().astimezone(self.settings.tz).date()
        items = verdicts_at(
            self.store, today_local, self.settings.policy, self.settings.tz, ids=accounts
        )
        return {item.account.id: item.verdict for item in items}


async def check_accounts(
    store: Store,
    settings: Settings,
    accounts: Sequence[AccountView],
    *,
    secrets: SecretLookup | None = None,
    progress: Callable[[CheckReport], Any] | None = None,
    clock: Callable[[], datetime] = utcnow,
    transport: httpx.AsyncBaseTransport | None = None,
) -> list[CheckReport]:
    """Check accounts now (CLI, API, demo), recorded as the daemon's checks are.

    The schedule moves on, alerts follow the verdict, a success closes check_failing.
    Claims are neither taken nor released: a daemon running meanwhile keeps its own.
    """
    with store.transaction():
        # Every account gets its place in the schedule (due now), as a daemon start does.
        store.ensure_schedule(clock())
    async with Checker(store, settings, secrets, clock=clock, transport=transport) as checker:
        return await checker.check_many(accounts, progress=progress)


def implausible_post(observation: Observation, tz: tzinfo) -> Observation | None:
    """A failed check in place of an answer whose post date cannot be true (before 2000 or
    after tomorrow): a malformed answer is never evidence, whichever adapter read it."""
    post = observation.latest_post_at
    if post is None:
        return None
    day, latest = local_date(post, tz), local_date(observation.observed_at, tz) + timedelta(days=1)
    if EARLIEST_DATE <= day <= latest:
        return None
    params = {
        "post": day.isoformat(),
        "earliest": EARLIEST_DATE.isoformat(),
        "latest": latest.isoformat(),
    }
    code = MessageCode.POST_DATE_OUT_OF_RANGE
    return replace(
        observation,
        outcome=Outcome.PARSE_ERROR,
        latest_post_at=None,
        post_id=None,
        post_url=None,
        post_title=None,
        detail=render(code, params, "en"),
        detail_code=code,
        detail_params=params,
    )
