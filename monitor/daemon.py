"""`monitor run`: the sweep loop, the daily jobs and the outbox, on APScheduler 3.

The daemon only schedules: ticks, claims, workers, signals and jobs. What a check
means (verdicts, alerts, schedule, backoff, outbox) is the check library's
(`monitor.checks`), which every other caller uses too. This is the only module
that imports APScheduler. Every job is a plain method that reads the time from an
injected clock, so tests drive weeks in seconds:

    sweep()        check the accounts whose next check is due (every tick)
    deliver()      send due outbox rows (every tick)
    reclassify()   judge every account as of today, open/close alerts (daily)
    digest()       one message per unit listing its open problems (daily, optional)
    monthly_report()  last month's report files (monthly)
    case_review()  re-check cases due today, remind units of cases due tomorrow (daily)
    site_jobs()    websites: the daily sweep at sites.sweep_at, and availability probes
                   sites.probes_per_day times a day (every tick checks whether one is due);
                   then unit alerts follow the websites' verdicts (不合格)

The schedule lives in the database (`schedule.next_check_at`), so a restart
resumes where it stopped. Checks are claimed with a conditional UPDATE (a few
at a time) before they start, and written with their schedule, alerts and outbox
rows in one transaction per batch of finished checks (`Checker.check_deferred`:
up to 50 checks or one second; a failed check closes the batch at once). kill -9
loses at most the checks in flight or finished in the last second; claims of a
dead process are released at the next start, so those are checked again.

SIGTERM/SIGINT only set a flag: workers take no new check, in-flight checks get
`shutdown_grace_s` to finish and be written, then the rest is cancelled.

Scale out (`queue.broker_url` set, docs/scale-out.md): the sweep claims due checks
the same way but sends them, a small batch of one source per task, to fetch
workers through Celery (monitor.checks.remote), and records their results here: the
database keeps one writer. A sweep ends when every check it sent has a result.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import secrets as _secrets
import signal
import socket
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from adapters import source_for
from adapters.netguard import UrlGuard
from monitor.checks import cases, notify
from monitor.checks.backoff import health_key
from monitor.checks.fetch import Checker
from monitor.checks.record import CheckReport, SourceTally, catch_up, judge_sweep, reclassify
from monitor.checks.site_alerts import follow_site_verdicts
from monitor.checks.sites import check_sites, probe_sites, site_verdicts
from monitor.checks.timing import interval_for
from monitor.dates import parse_time_of_day, utcnow
from monitor.models import AccountView
from monitor.output_paths import OutputRefused
from monitor.settings import SecretLookup, Settings
from monitor.store import Store

if TYPE_CHECKING:
    from monitor.checks.remote import RemoteChecks

log = logging.getLogger(__name__)

CHECK_CLAIM = timedelta(minutes=15)  # far longer than any check (HTTP timeouts are seconds)
CLAIM_BATCH = 16
# A check sent to a fetch worker may wait in the queue behind many others and be
# delivered again after queue.redeliver_after_s; its claim outlasts all that (the
# coordinator releases it when the result is recorded or given up).
REMOTE_CLAIM = timedelta(hours=6)


# -- claims ---------------------------------------------------------------------------------


def owner_alive(owner: str, me: str) -> bool:
    """Whether the process that claimed checks as `owner` may still be running."""
    host, _, rest = owner.partition(":")
    pid_text, _, _token = rest.partition(":")
    if owner == me:
        return True
    if host != socket.gethostname() or not pid_text.isdigit():
        return True  # another machine's: its claims expire on their own
    pid = int(pid_text)
    if pid == os.getpid():
        return False  # an earlier daemon of this very process, finished or cancelled
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# -- what a sweep did -----------------------------------------------------------------------


@dataclass(slots=True)
class SweepSummary:
    """One sweep: due accounts, checks run, outcomes, what was deferred."""

    due: int = 0
    checked: int = 0
    ok: int = 0
    failed: Counter[str] = field(default_factory=Counter)
    no_source: int = 0
    deferred: int = 0
    stopped: bool = False
    duration_s: float = 0.0
    requests: dict[str, int] = field(default_factory=dict)
    by_source: dict[str, SourceTally] = field(default_factory=dict)
    # Scale out: checks whose results came from each fetch worker (None: no workers).
    workers: dict[str, int] | None = None

    def tally(self, report: CheckReport) -> None:
        obs = report.observation
        if obs is None or report.source is None:
            return
        self.checked += 1
        if obs.is_evidence:
            self.ok += 1
        else:
            self.failed[obs.outcome.value] += 1
        self.by_source.setdefault(report.source, SourceTally()).add(report)

    def record(self) -> dict[str, Any]:
        """The structured log line's fields."""
        out = {
            "event": "sweep",
            "due": self.due,
            "checked": self.checked,
            "ok": self.ok,
            "failed": dict(sorted(self.failed.items())),
            "no_source": self.no_source,
            "deferred": self.deferred,
            "stopped": self.stopped,
            "duration_s": round(self.duration_s, 3),
            "requests": self.requests,
        }
        if self.workers is not None:
            out["workers"] = self.workers
        return out


# -- the daemon --------------------------------------------------------------------------------


class Daemon:
    """Checks, alerts and notifications for one database. Use as an async context manager."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        secrets: SecretLookup | None = None,
        *,
        clock: Callable[[], datetime] = utcnow,
        transport: httpx.AsyncBaseTransport | None = None,
        sender: notify.Sender | None = None,
        rng: random.Random | None = None,
    ):
        self.store = store
        self.settings = settings
        self.tz = settings.tz
        self.clock = clock
        self.rng = rng or random.Random()
        self.sender = sender or notify.AppriseSender(judge=UrlGuard(settings).peer_reason)
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{_secrets.token_hex(4)}"
        self.transport = transport
        self.checker = Checker(
            store, settings, secrets, clock=clock, transport=transport, rng=self.rng
        )
        self._stopping = False
        self._stop_event: asyncio.Event | None = None
        self._paused: dict[str, datetime] = {}
        self._set_aside = 0
        self._tasks: dict[str, asyncio.Task[Any]] = {}
        self._requests_before: Counter[str] = Counter()
        # Set when queue.broker_url is: checks then run on fetch workers.
        self.remote: RemoteChecks | None = None

    async def __aenter__(self) -> Daemon:
        _short_circuit_missing_sniffio()
        self._stop_event = asyncio.Event()
        if self._stopping:
            self._stop_event.set()
        await self.checker.__aenter__()
        if self.settings.queue.broker_url is not None:
            # Imported here: Celery is loaded only by those who scale out.
            from monitor.checks.remote import RemoteChecks

            self.remote = RemoteChecks(
                self.store, self.settings, owner=self.owner, clock=self.clock, rng=self.rng
            )
        self.release_stale_claims()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.checker.__aexit__(*exc)

    # -- stopping ----------------------------------------------------------------------

    @property
    def stopping(self) -> bool:
        return self._stopping

    def stop(self) -> None:
        """Stop taking work (what SIGTERM/SIGINT do); in-flight checks finish."""
        if not self._stopping:
            log.info("stop requested: finishing in-flight checks")
        self._stopping = True
        if self._stop_event is not None:
            self._stop_event.set()

    def install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, self.stop)

    def release_stale_claims(self) -> int:
        """Give back checks claimed by a process that died (kill -9) so they run now."""
        released = 0
        for owner in self.store.claim_owners():
            if not owner_alive(owner, self.owner):
                released += self.store.release_claims(owner)
        with self.store.transaction():
            # Checks a dead coordinator sent: a late result of theirs is never recorded.
            for sender in self.store.open_sent_senders():
                if not owner_alive(sender, self.owner):
                    self.store.abandon_sent_checks(sender, self.clock())
        if released:
            log.info("released %d check(s) claimed by a process that is gone", released)
        return released

    # -- sweep ------------------------------------------------------------------------------

    async def sweep(self) -> SweepSummary:
        """Check every due account within each source's limits; write as each one ends."""
        started = time.monotonic()
        summary = SweepSummary()
        now = self.clock()
        with self.store.transaction():
            # A long sweep must not look like a dead daemon to `monitor healthcheck`.
            self.store.beat("daemon:sweep_started", now)
        self.store.ensure_schedule(now)
        due = self.store.due_accounts(now)
        summary.due = len(due)
        views = self.store.accounts_at(now, ids=due) if due else []
        seen = {v.id for v in views}
        queues: dict[str, deque[AccountView]] = {}
        with self.store.transaction():
            for account_id in due:
                if account_id not in seen:  # retired: look again after a normal interval
                    self.store.record_schedule(
                        account_id,
                        now=now,
                        outcome=None,
                        next_check_at=now + timedelta(hours=self.settings.schedule.interval_h),
                    )
            for view in views:
                source = source_for(view)
                if source is None:
                    summary.no_source += 1
                    self.store.record_schedule(
                        view.id,
                        now=now,
                        outcome=None,
                        next_check_at=now + interval_for(self.settings, view),
                    )
                    continue
                queues.setdefault(source, deque()).append(view)
        self._paused = self.store.paused_sources(now)
        if self.remote is not None:
            await self._send_and_record(self.remote, queues, summary)
        else:
            workers = []
            for source, queue in queues.items():
                if self._resting(source):
                    continue  # resting: its accounts stay due
                limit = self.settings.limits.for_source(source)
                for _ in range(min(limit.max_concurrent, len(queue))):
                    workers.append(asyncio.create_task(self._worker(source, queue, summary)))
            await self._finish(workers, summary)
        try:
            for report in self.checker.flush():
                summary.tally(report)
        except Exception:
            log.exception("the last checks of the sweep failed to record")
        # Left due: a source or host resting, or a stop.
        summary.deferred = sum(len(q) for q in queues.values()) + self._set_aside
        self._set_aside = 0
        self._judge_sources(summary)
        requests = self.checker.requests
        summary.requests = {k: v - self._requests_before.get(k, 0) for k, v in requests.items()}
        self._requests_before = requests
        summary.duration_s = time.monotonic() - started
        with self.store.transaction():
            self.store.beat("daemon", self.clock(), summary.record())
        log.info("sweep %s", json.dumps(summary.record(), ensure_ascii=False))
        return summary

    async def _finish(self, workers: list[asyncio.Task[Any]], summary: SweepSummary) -> None:
        """Wait for the workers; after a stop request give them the grace, then cancel."""
        if not workers:
            return
        assert self._stop_event is not None, "use Daemon as an async context manager"
        stop = asyncio.create_task(self._stop_event.wait())
        try:
            pending = set(workers)
            while pending and not stop.done():
                _, pending = await asyncio.wait(pending | {stop}, return_when="FIRST_COMPLETED")
                pending.discard(stop)
            if pending:
                summary.stopped = True
                grace = self.settings.schedule.shutdown_grace_s
                _, pending = await asyncio.wait(pending, timeout=grace)
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
                if pending:
                    log.warning("cancelled %d check(s) still running after the grace", len(pending))
        finally:
            stop.cancel()
        summary.stopped = summary.stopped or self._stopping

    def _resting(self, key: str) -> bool:
        """Whether a source (or one feed host) is paused by backoff now."""
        until = self._paused.get(key)
        return until is not None and until > self.clock()

    def _take(
        self, source: str, queue: deque[AccountView], size: int = CLAIM_BATCH
    ) -> list[AccountView]:
        """Up to `size` accounts to claim; those of a resting feed host are set aside."""
        batch: list[AccountView] = []
        while queue and len(batch) < size:
            account = queue.popleft()
            if self._resting(health_key(source, account)):
                self._set_aside += 1  # stays due: checked once its host rests no more
            else:
                batch.append(account)
        return batch

    async def _worker(self, source: str, queue: deque[AccountView], summary: SweepSummary) -> None:
        claimed: deque[AccountView] = deque()
        try:
            while not self._stopping:
                if self._resting(source):
                    return  # the source is resting; the rest stay due
                if not claimed:
                    if not queue:
                        return
                    # Claims are taken a few at a time: one write instead of one per check.
                    batch = self._take(source, queue)
                    if not batch:
                        continue
                    now = self.clock()
                    ours = self.store.claim_checks(
                        [a.id for a in batch], self.owner, now, now + CHECK_CLAIM
                    )
                    claimed.extend(a for a in batch if a.id in ours)  # others: checked meanwhile
                    self.checker.read_ahead([a.id for a in claimed])
                    continue
                account = claimed.popleft()
                try:
                    reports = await self.checker.check_deferred(account)
                except Exception:
                    log.exception("check of account %s (or its batch) failed to record", account.id)
                    continue
                for report in reports:
                    summary.tally(report)
                if reports:  # a batch was recorded: it may have paused a source or host
                    self._paused = self.store.paused_sources(self.clock())
        finally:
            if claimed:
                # Claimed but never started (a stop or a pause): due again at once, and
                # counted with the sweep's deferred accounts.
                self.store.release_claims(self.owner, [a.id for a in claimed])
                self.checker.drop_read_ahead([a.id for a in claimed])
                queue.extendleft(reversed(claimed))

    async def _send_and_record(
        self, remote: RemoteChecks, queues: dict[str, deque[AccountView]], summary: SweepSummary
    ) -> None:
        """Scale out: claim and send batches (a window per source), record results as they come."""
        from monitor.checks.remote import BrokerUnavailable

        size = self.settings.queue.batch_size
        window = self.settings.queue.max_in_flight
        stop_by: float | None = None
        before = Counter(remote.by_worker)
        sending = True
        while True:
            if sending and not self._stopping:
                for source, queue in queues.items():
                    while queue and remote.in_flight(source) < window and not self._resting(source):
                        batch = self._take(source, queue, size)
                        if not batch:
                            continue
                        now = self.clock()
                        ours = self.store.claim_checks(
                            [a.id for a in batch], self.owner, now, now + REMOTE_CLAIM
                        )
                        claimed = [a for a in batch if a.id in ours]  # others: checked meanwhile
                        if not claimed:
                            continue
                        try:
                            await remote.send(source, claimed)
                        except BrokerUnavailable as exc:
                            log.error("%s: sending stops for this sweep; the rest stay due", exc)
                            queue.extendleft(reversed(claimed))  # counted as deferred
                            sending = False
                            break
                    if not sending:
                        break
            if not remote.pending:
                break
            if self._stopping:
                summary.stopped = True
                if stop_by is None:
                    stop_by = time.monotonic() + self.settings.schedule.shutdown_grace_s
                elif time.monotonic() >= stop_by:
                    log.warning("gave up %d task(s) still out after the grace", remote.pending)
                    remote.abandon_all()
                    break
            reports = await remote.collect()
            for report in reports:
                summary.tally(report)
            if reports:  # recorded: may have paused a source or host
                self._paused = self.store.paused_sources(self.clock())
        summary.workers = dict(sorted((remote.by_worker - before).items()))

    def _judge_sources(self, summary: SweepSummary) -> None:
        judge_sweep(self.store, self.settings, summary.by_source, self.clock())

    # -- daily and monthly jobs -----------------------------------------------------------

    def reclassify(self) -> dict[str, Any]:
        """Judge every account as of today so verdicts age without new observations."""
        return reclassify(self.store, self.settings, self.clock())

    def digest(self) -> int:
        """Queue today's digest per unit (once a day); the number of outbox rows written."""
        now = self.clock()
        written = notify.enqueue_digests(self.store, self.settings, now, self.tz)
        with self.store.transaction():
            day = now.astimezone(self.tz).date().isoformat()
            self.store.beat("job:digest", now, {"day": day, "rows": written})
        return written

    def monthly_report(self) -> list[Path]:
        """Write last month's report (monitor.reports); [] when that module is not there."""
        try:
            from monitor import reports  # another issue's module: imported only when used
        except ImportError as exc:
            log.warning("monthly report skipped: monitor.reports unavailable (%s)", exc)
            return []
        now = self.clock()
        month = reports.previous_month(now.astimezone(self.tz).date())
        cfg = self.settings.reports
        try:
            paths = reports.write_monthly_report(
                self.store, self.settings, month, Path(cfg.folder), list(cfg.formats)
            )
        except OutputRefused as exc:
            log.error("monthly_report %s refused: %s", month, exc)
            return []
        with self.store.transaction():
            self.store.beat("job:monthly_report", now, {"month": month})
        log.info(
            "monthly_report %s",
            json.dumps(
                {"event": "monthly_report", "month": month, "files": [str(p) for p in paths]}
            ),
        )
        return paths

    async def case_review(self) -> dict[str, Any]:
        """Re-check (复查) cases due today and remind units of cases due tomorrow (daily)."""
        now = self.clock()
        day = now.astimezone(self.tz).date()
        reviewed = await cases.review_due(
            self.store, self.settings, day, secrets=self.checker.secrets, clock=self.clock,
            transport=self.transport,
        )  # fmt: skip
        reminded = cases.remind_due(self.store, self.settings, day, self.clock())
        out = {
            "day": day.isoformat(),
            "reviewed": sum(1 for r in reviewed if r.status is not None),
            "reminded": len(reminded),
        }
        with self.store.transaction():
            self.store.beat("job:case_review", self.clock(), out)
        log.info("case_review %s", json.dumps({"event": "case_review", **out}))
        return out

    def _probe_due(self) -> bool:
        per_day = self.settings.sites.probes_per_day
        if per_day <= 0:
            return False
        beat = self.store.heartbeat("job:site_probe")
        return beat is None or self.clock() - beat[0] >= timedelta(days=1) / per_day

    async def site_jobs(self) -> dict[str, Any]:
        """The websites' daily sweep and availability probes, whichever is due."""
        out: dict[str, Any] = {}
        if self._stopping or not self.store.sites():
            return out
        if self._daily_due("job:site_sweep", self.settings.sites.sweep_at):
            sweep = await check_sites(
                self.store, self.settings, transport=self.transport, clock=self.clock
            )
            now = self.clock()
            out["sweep"] = {"sites": sweep.sites, "failed": sweep.failed, "broken": sweep.broken}
            with self.store.transaction():
                self.store.beat(
                    "job:site_sweep", now, {"day": now.astimezone(self.tz).date().isoformat()}
                )
        if self._probe_due():
            found = await probe_sites(
                self.store, self.settings, transport=self.transport, clock=self.clock
            )
            out["probes"] = len(found)
            with self.store.transaction():
                self.store.beat("job:site_probe", self.clock(), {"sites": len(found)})
        if out:
            now = self.clock()
            statuses = site_verdicts(self.store, self.settings, now.astimezone(self.tz).date())
            out["alerts"] = follow_site_verdicts(self.store, self.settings, statuses, now)
        return out

    async def deliver(self) -> notify.DeliverySummary:
        """Send every due outbox row (in batches) unless stopping."""
        total = notify.DeliverySummary()
        while not self._stopping:
            batch = await notify.deliver_due(
                self.store,
                self.settings,
                self.sender,
                self.clock(),
                limit=100,
                stopping=lambda: self._stopping,
            )
            total.delivered += batch.delivered
            total.failed += batch.failed
            total.abandoned += batch.abandoned
            total.errors += batch.errors
            if batch.delivered + batch.failed + batch.abandoned < 100:
                break
        return total

    # -- run modes ------------------------------------------------------------------------------

    async def run_once(self) -> dict[str, Any]:
        """Every due check, the reclassification, the digest if due, pending deliveries."""
        out: dict[str, Any] = {}
        sweep = await self.sweep()
        out["sweep"] = sweep.record()
        if self._stopping:
            return out
        out["reclassify"] = self.reclassify()
        sites = await self.site_jobs()
        if sites:
            out["sites"] = sites
        if self.settings.notify.digest and self._daily_due(
            "job:digest", self.settings.notify.digest_at
        ):
            out["digest"] = self.digest()
        delivered = await self.deliver()
        out["deliveries"] = {
            "delivered": delivered.delivered,
            "failed": delivered.failed,
            "abandoned": delivered.abandoned,
        }
        return out

    def _daily_due(self, job: str, at: str) -> bool:
        """True when today's run of a daily job is past its time and has not happened."""
        now = self.clock().astimezone(self.tz)
        h, m = parse_time_of_day(at)
        if (now.hour, now.minute) < (h, m):
            return False
        beat = self.store.heartbeat(job)
        return beat is None or beat[1].get("day") != now.date().isoformat()

    def _monthly_due(self) -> bool:
        cfg = self.settings.reports
        now = self.clock().astimezone(self.tz)
        h, m = parse_time_of_day(cfg.monthly_at)
        if (now.day, now.hour, now.minute) < (cfg.monthly_day, h, m):
            return False
        beat = self.store.heartbeat("job:monthly_report")
        try:
            from monitor.reports import previous_month
        except ImportError:
            return False
        return beat is None or beat[1].get("month") != previous_month(now.date())

    def _spawn(self, name: str, factory: Callable[[], Any]) -> None:
        """Start a job unless the same job is still running (ticks never pile up)."""
        running = self._tasks.get(name)
        if running is not None and not running.done():
            return
        if self._stopping:
            return

        async def job() -> None:
            try:
                result = factory()
                if asyncio.iscoroutine(result):
                    await result
            except Exception:
                log.exception("job %s failed; it runs again at its next time", name)

        self._tasks[name] = asyncio.get_running_loop().create_task(job(), name=name)

    async def _tick(self) -> None:
        self._spawn("sweep", self.sweep)
        self._spawn("sites", self.site_jobs)
        self._spawn("deliver", self.deliver)

    def _catch_up(self) -> None:
        """Run the daily/monthly jobs a stopped daemon missed today."""
        if self._daily_due("job:reclassify", self.settings.schedule.reclassify_at):
            self._spawn("reclassify", self.reclassify)
        else:
            # Stored verdicts that no longer hold (an upgrade, a new policy) are judged
            # now rather than at the next daily run.
            self._spawn("catch_up", lambda: catch_up(self.store, self.settings, self.clock()))
        if self.settings.notify.digest and self._daily_due(
            "job:digest", self.settings.notify.digest_at
        ):
            self._spawn("digest", self.digest)
        if self._monthly_due():
            self._spawn("monthly_report", self.monthly_report)
        if self._daily_due("job:case_review", self.settings.rectify.review_at):
            self._spawn("case_review", self.case_review)

    async def serve(self) -> None:
        """Run until stop(): a tick every tick_s, the daily and monthly jobs on their times."""
        from apscheduler.schedulers.asyncio import AsyncIOScheduler
        from apscheduler.triggers.cron import CronTrigger
        from apscheduler.triggers.interval import IntervalTrigger

        assert self._stop_event is not None, "use Daemon as an async context manager"
        sched = self.settings.schedule
        scheduler = AsyncIOScheduler(timezone=self.tz)
        common = {"max_instances": 1, "coalesce": True, "misfire_grace_time": 3600}
        scheduler.add_job(
            self._tick,
            IntervalTrigger(seconds=sched.tick_s, timezone=self.tz),
            id="tick",
            next_run_time=datetime.now(self.tz),
            **common,
        )
        h, m = parse_time_of_day(sched.reclassify_at)
        scheduler.add_job(
            self._spawn,
            CronTrigger(hour=h, minute=m, timezone=self.tz),
            args=["reclassify", self.reclassify],
            id="reclassify",
            **common,
        )
        if self.settings.notify.digest:
            h, m = parse_time_of_day(self.settings.notify.digest_at)
            scheduler.add_job(
                self._spawn,
                CronTrigger(hour=h, minute=m, timezone=self.tz),
                args=["digest", self.digest],
                id="digest",
                **common,
            )
        h, m = parse_time_of_day(self.settings.rectify.review_at)
        scheduler.add_job(
            self._spawn,
            CronTrigger(hour=h, minute=m, timezone=self.tz),
            args=["case_review", self.case_review],
            id="case_review",
            **common,
        )
        cfg = self.settings.reports
        h, m = parse_time_of_day(cfg.monthly_at)
        scheduler.add_job(
            self._spawn,
            CronTrigger(day=cfg.monthly_day, hour=h, minute=m, timezone=self.tz),
            args=["monthly_report", self.monthly_report],
            id="monthly_report",
            **common,
        )
        scheduler.start()
        log.info("daemon started: tick %gs, owner %s", sched.tick_s, self.owner)
        try:
            self._catch_up()
            await self._stop_event.wait()
        finally:
            scheduler.shutdown(wait=False)
            running = [t for t in self._tasks.values() if not t.done()]
            if running:
                # A sweep gives its checks the grace itself; this bounds everything else.
                _, pending = await asyncio.wait(running, timeout=sched.shutdown_grace_s + 1)
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
        log.info("daemon stopped")


def _short_circuit_missing_sniffio() -> None:
    """Make `import sniffio` fail fast when it is not installed.

    httpcore tries that import on every connection-pool lock; a failed import is
    not cached, so each try scans sys.path: a third of a sweep's CPU. A None entry
    in sys.modules makes the same ImportError immediate.
    """
    import importlib.util
    import sys

    if "sniffio" not in sys.modules and importlib.util.find_spec("sniffio") is None:
        sys.modules["sniffio"] = None  # type: ignore[assignment]
