"""A fetch worker: runs checks for a coordinator and never opens the database.

Celery runs `monitor.fetch_batch` tasks in a few threads (`--concurrency`); every
task hands its batch to one asyncio loop of this process, where one store-less
`Checker` observes the accounts: one HTTP client (bound to `http.source_address`),
one set of pacers. So the `limits.*` settings hold per worker, that is per egress
address, however many tasks run at once. What each check saw goes back as the
task's result (monitor.checks.wire); the coordinator records it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

from celery import Celery

from monitor.checks.celery_app import FETCH_TASK, make_app
from monitor.checks.fetch import Checker
from monitor.checks.record import CheckReport
from monitor.checks.wire import account_from, seen_payload, state_from
from monitor.settings import SecretLookup, Settings

log = logging.getLogger(__name__)

# A task that failed for want of something other than a platform's answer (a
# broken payload, a bug) is tried this many more times, then reported failed.
TASK_RETRIES = 2
TASK_RETRY_DELAY_S = 5
# A worker exists to use its address's budget: its pacers may be only 2% of an
# interval late (at worst 0.98 of the limit), at the price of a timer wakeup per
# request, where the single process trades 10% for fewer wakeups (PACING_SLACK).
WORKER_PACING_SLACK = 0.02


class FetchWorker:
    """One process's checker, shared by the threads Celery runs tasks in."""

    def __init__(self, settings: Settings, secrets: SecretLookup | None = None, *, name: str):
        self.settings = settings
        self.name = name
        self._checker = Checker(None, settings, secrets, pacing_slack=WORKER_PACING_SLACK)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fetch", daemon=True)

    def start(self) -> None:
        """Start the loop and open the HTTP client."""
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._checker.__aenter__(), self._loop).result()

    def close(self) -> None:
        """Close the HTTP client and stop the loop."""
        if not self._thread.is_alive():
            return
        future = asyncio.run_coroutine_threadsafe(
            self._checker.__aexit__(None, None, None), self._loop
        )
        try:
            future.result(timeout=10)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    def run_batch(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Observe a task's accounts (from any thread); what each check saw."""
        return asyncio.run_coroutine_threadsafe(self._run(payload), self._loop).result()

    async def _run(self, payload: dict[str, Any]) -> dict[str, Any]:
        checks = [
            (str(c["check_id"]), account_from(c["account"]), state_from(c.get("state")))
            for c in payload["checks"]
        ]
        # The coordinator read each account's adapter state: the worker has no database.
        self._checker.hand_states({account.id: state for _, account, state in checks})
        results = await asyncio.gather(*(self._one(cid, account) for cid, account, _ in checks))
        return {"worker": self.name, "results": list(results)}

    async def _one(self, check_id: str, account: Any) -> dict[str, Any]:
        seen = await self._checker.observe(account)
        if isinstance(seen, CheckReport):  # nothing could run (no source here)
            return {"check_id": check_id, "note": seen.note}
        return {"check_id": check_id, "seen": seen_payload(seen)}


def register_fetch_task(app: Celery, worker: FetchWorker) -> None:
    """Make `app` run fetch tasks with `worker`."""

    @app.task(  # type: ignore[untyped-decorator, unused-ignore]
        name=FETCH_TASK,
        autoretry_for=(Exception,),
        max_retries=TASK_RETRIES,
        default_retry_delay=TASK_RETRY_DELAY_S,
    )
    def fetch_batch(payload: dict[str, Any]) -> dict[str, Any]:
        return worker.run_batch(payload)


def run_worker(
    settings: Settings,
    secrets: SecretLookup | None,
    *,
    concurrency: int,
    hostname: str,
    loglevel: str = "INFO",
) -> int:
    """Run a Celery worker for fetch tasks until it is told to stop; its exit code."""
    app = make_app(settings)
    worker = FetchWorker(settings, secrets, name=hostname)
    register_fetch_task(app, worker)
    worker.start()
    try:
        celery_worker = app.Worker(
            hostname=hostname,
            pool_cls="threads",
            concurrency=concurrency,
            loglevel=loglevel,
            without_gossip=True,
            without_mingle=True,
            quiet=True,
        )
        celery_worker.start()
        return int(getattr(celery_worker, "exitcode", 0) or 0)
    finally:
        worker.close()
