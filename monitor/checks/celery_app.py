"""The Celery application that carries checks to fetch workers (docs/scale-out.md).

One task, `monitor.fetch_batch`: a small batch of accounts of one source in, what
each check saw out (monitor.checks.wire). Delivery is at least once: a task is
acknowledged only when it finished (`acks_late`), a worker that dies loses nothing
(`reject_on_worker_lost`; Redis delivers an unacknowledged task again after
`queue.redeliver_after_s`, its visibility timeout), and the coordinator records each
check id once. Celery's own tools (`celery inspect`, Flower) work on this app.
"""

from __future__ import annotations

from typing import Any

from celery import Celery

from monitor.settings import Settings

FETCH_TASK = "monitor.fetch_batch"
FETCH_QUEUE = "monitor.fetch"
# Results are read and deleted by the coordinator as they arrive; any left behind
# (a coordinator that stopped) expire after a day.
RESULT_EXPIRES_S = 86_400


def make_app(settings: Settings) -> Celery:
    """The Celery app on `queue.broker_url` (broker and result backend both in Redis)."""
    url = settings.queue.broker_url
    if url is None:
        raise ValueError("queue.broker_url is not set (MONITOR_QUEUE__BROKER_URL)")
    redeliver = settings.queue.redeliver_after_s
    app = Celery("monitor", broker=url, backend=url, set_as_current=False)
    transport: dict[str, Any] = {
        "visibility_timeout": redeliver,
        # Look for tasks of dead workers often enough that they come back about
        # `redeliver_after_s` after they were taken, not up to 100 s later.
        "unacked_restore_interval": max(1, min(10, int(redeliver / 4))),
        "unacked_restore_throttle": 1,
    }
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_default_queue=FETCH_QUEUE,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_transport_options=transport,
        result_backend_transport_options=transport,
        result_expires=RESULT_EXPIRES_S,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        task_track_started=False,
        # Results are JSON documents of observations; keep them out of the worker log.
        worker_redirect_stdouts=False,
    )
    return app
