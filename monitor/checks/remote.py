"""The coordinator's side of scale out: checks sent as tasks, results recorded once.

    send(source, accounts)   claims are the caller's; one task of one source, a check
                             id per account, noted in `sent_checks` before it leaves
    collect()                results that arrived -> `record` (one transaction), each
                             check id closed first: a check run twice lands once

The coordinator is the only writer of the database; workers only observe. A task
that failed by its retry policy leaves its accounts due (claims released). When no
result at all came for `GIVE_UP_AFTER` x `queue.redeliver_after_s` (no worker is
running), the open checks are given up the same way rather than waited on forever.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from celery import Celery

from monitor.checks.celery_app import FETCH_QUEUE, FETCH_TASK, make_app
from monitor.checks.record import CheckReport, Seen, record
from monitor.checks.timing import interval_for
from monitor.checks.wire import account_payload, seen_from, state_payload
from monitor.models import AccountView
from monitor.settings import Settings
from monitor.store import SentCheck, Store
from monitor.store.sent_checks import FAILED, RECORDED

log = logging.getLogger(__name__)

GIVE_UP_AFTER = 3
# How long `collect` waits between looks at the result backend: short after a result
# came, growing while none does (each look is one MGET of every task out; a sweep's
# end is noticed within POLL_MAX_S).
POLL_MIN_S = 0.1
POLL_MAX_S = 1.0
POLL_GROWTH = 1.5


class BrokerUnavailable(Exception):
    """A task could not be sent (Redis unreachable); its accounts stay due."""


@dataclass(slots=True)
class _Task:
    source: str
    checks: dict[str, AccountView] = field(default_factory=dict)


class RemoteChecks:
    """Checks run by fetch workers, recorded here."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        owner: str,
        clock: Callable[[], datetime],
        rng: random.Random | None = None,
        app: Celery | None = None,
    ):
        self.store = store
        self.settings = settings
        self.owner = owner
        self.clock = clock
        self.rng = rng or random.Random()
        self.app = app or make_app(settings)
        self._tasks: dict[str, _Task] = {}
        self._by_source: Counter[str] = Counter()
        self._last_progress = time.monotonic()
        self._poll_s = POLL_MIN_S
        # Per worker: checks recorded and the tasks they came in (for the sweep log).
        self.by_worker: Counter[str] = Counter()

    @property
    def pending(self) -> int:
        """Tasks sent whose result has not been handled yet."""
        return len(self._tasks)

    def in_flight(self, source: str) -> int:
        """Tasks of one source sent and not yet answered."""
        return self._by_source[source]

    async def send(self, source: str, accounts: Sequence[AccountView]) -> str:
        """Send one task checking `accounts` (claimed by the caller) with `source`; its id."""
        states = self.store.source_states([a.id for a in accounts])
        task_id = uuid.uuid4().hex
        task = _Task(source, {uuid.uuid4().hex: a for a in accounts})
        now = self.clock()
        with self.store.transaction():
            self.store.add_sent_checks(
                [
                    SentCheck(check_id, a.id, source, task_id, self.owner, now)
                    for check_id, a in task.checks.items()
                ]
            )
        payload = {
            "source": source,
            "checks": [
                {
                    "check_id": check_id,
                    "account": account_payload(a),
                    "state": state_payload(states.get(a.id)),
                }
                for check_id, a in task.checks.items()
            ],
        }
        if not self._tasks:
            self._last_progress = time.monotonic()  # waiting starts now, not at the last result
        try:
            await asyncio.to_thread(
                self.app.send_task, FETCH_TASK, args=[payload], task_id=task_id, queue=FETCH_QUEUE
            )
        except Exception as exc:
            # The broker is unreachable: these accounts stay due, nothing is left claimed.
            with self.store.transaction():
                self.store.end_sent_checks(list(task.checks), FAILED, self.clock())
                self.store.release_claims(self.owner, [a.id for a in task.checks.values()])
            raise BrokerUnavailable(f"cannot send a task: {type(exc).__name__}") from exc
        self._tasks[task_id] = task
        self._by_source[source] += 1
        return task_id

    async def collect(self) -> list[CheckReport]:
        """Record the results that arrived (waiting a moment when none has); their reports."""
        if not self._tasks:
            return []
        try:
            ready = await asyncio.to_thread(self._ready, list(self._tasks))
        except Exception as exc:  # Redis away for a moment: look again (or give up, below)
            log.warning("cannot read results: %s", type(exc).__name__)
            ready = []
        if not ready:
            give_up = GIVE_UP_AFTER * self.settings.queue.redeliver_after_s
            if time.monotonic() - self._last_progress > give_up:
                log.warning(
                    "no result from any fetch worker for %.0f s: %d task(s) given up, "
                    "their accounts stay due",
                    give_up,
                    len(self._tasks),
                )
                self.abandon_all()
            else:
                await asyncio.sleep(self._poll_s)
                self._poll_s = min(POLL_MAX_S, self._poll_s * POLL_GROWTH)
            return []
        self._last_progress = time.monotonic()
        self._poll_s = POLL_MIN_S
        seen: list[tuple[str, Seen]] = []
        unrun: list[tuple[str, AccountView]] = []
        failed: list[tuple[str, AccountView]] = []
        for task_id, meta in ready:
            task = self._take(task_id)
            result = meta.get("result") if meta.get("status") == "SUCCESS" else None
            if not isinstance(result, dict):
                log.warning("fetch task %s failed: %s", task_id, _failure(meta))
                failed += task.checks.items()
                continue
            self.by_worker[str(result.get("worker", "?"))] += len(task.checks)
            answered = set()
            for item in result.get("results", []):
                check_id = str(item.get("check_id"))
                account = task.checks.get(check_id)
                if account is None:
                    continue
                if "seen" not in item:
                    unrun.append((check_id, account))
                    answered.add(check_id)
                    continue
                try:
                    seen.append((check_id, seen_from(item["seen"], account)))
                except (KeyError, TypeError, ValueError) as exc:  # another version's answer
                    log.warning("unreadable result for check %s: %s", check_id, exc)
                    continue  # counted failed below: the account stays due
                answered.add(check_id)
            failed += [(c, a) for c, a in task.checks.items() if c not in answered]
        reports = self._record(seen, unrun, failed)
        try:
            await asyncio.to_thread(self._forget, [task_id for task_id, _ in ready])
        except Exception as exc:  # left behind, they expire after a day
            log.warning("cannot delete results: %s", type(exc).__name__)
        return reports

    def abandon_all(self) -> None:
        """Give up every check still out: closed as abandoned, its account due again."""
        accounts = [a for task in self._tasks.values() for a in task.checks.values()]
        with self.store.transaction():
            self.store.abandon_sent_checks(self.owner, self.clock())
            self.store.release_claims(self.owner, [a.id for a in accounts])
        self._tasks.clear()
        self._by_source.clear()

    # -- inside ------------------------------------------------------------------------

    def _take(self, task_id: str) -> _Task:
        task = self._tasks.pop(task_id)
        self._by_source[task.source] -= 1
        return task

    def _ready(self, task_ids: list[str]) -> list[tuple[str, dict[str, Any]]]:
        # One MGET for every task out; interval 0 and one iteration: look, never wait.
        backend = self.app.backend
        return list(backend.get_many(task_ids, interval=0, max_iterations=1))

    def _forget(self, task_ids: list[str]) -> None:
        # One DEL for the lot (Celery's forget() is one round trip per task).
        backend = self.app.backend
        backend.client.delete(*(backend.get_key_for_task(t) for t in task_ids))

    def _record(
        self,
        seen: list[tuple[str, Seen]],
        unrun: list[tuple[str, AccountView]],
        failed: list[tuple[str, AccountView]],
    ) -> list[CheckReport]:
        now = self.clock()
        reports: list[CheckReport] = []
        with self.store.transaction():
            fresh = self.store.end_sent_checks([c for c, _ in seen], RECORDED, now)
            chosen = [(c, s) for c, s in seen if c in fresh]
            if len(chosen) < len(seen):
                log.info("%d check(s) ran twice; recorded once", len(seen) - len(chosen))
            reports = record(
                self.store, self.settings, [s for _, s in chosen], now=now, rng=self.rng
            )
            self.store.link_sent_observations(
                {
                    c: r.observation.id
                    for (c, _), r in zip(chosen, reports, strict=True)
                    if r.observation is not None and r.observation.id is not None
                }
            )
            # No source where the worker runs (another version): look again after an interval.
            for account in (
                a for c, a in unrun if c in self.store.end_sent_checks([c], FAILED, now)
            ):
                self.store.record_schedule(
                    account.id,
                    now=now,
                    outcome=None,
                    next_check_at=now + interval_for(self.settings, account),
                )
            gone = self.store.end_sent_checks([c for c, _ in failed], FAILED, now)
            self.store.release_claims(self.owner, [a.id for c, a in failed if c in gone])
        return reports


def _failure(meta: dict[str, Any]) -> str:
    result = meta.get("result")
    if isinstance(result, dict):
        return (
            f"{meta.get('status')}: {result.get('exc_type', '')} {result.get('exc_message', '')}"[
                :300
            ]
        )
    return str(meta.get("status"))
