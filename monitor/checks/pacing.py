"""Politeness towards platforms: a request-rate cap per source (or per feed host).

Consecutive starts are never closer than 1/rate_per_s, so no window of one second
holds more than `rate_per_s` of them (a pacing limiter, not a bursty token bucket:
platforms such as Weibo answer bursts with HTTP 418).

Timer slack: a start that is due may go up to `slack` seconds late. When the process
is awake anyway in that time (a response arriving: `nudge()`), the start goes then,
which spares a wakeup of its own; otherwise the pacer's timer lets it go at the end
of the slack. Starts are only ever late, never early, so the cap holds; the achieved
rate is at worst rate_per_s * interval / (interval + slack).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable


class Pacer:
    """Lets callers start at most `rate_per_s` times a second, in arrival order."""

    def __init__(
        self,
        rate_per_s: float,
        clock: Callable[[], float] = time.monotonic,
        *,
        slack: float = 0.0,
    ):
        self.interval = 1.0 / rate_per_s
        self.slack = slack
        self._clock = clock
        self._last = -math.inf  # when the latest start was let go
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_key: tuple[asyncio.AbstractEventLoop, float] | None = None

    async def wait(self) -> None:
        """Return when this caller may start."""
        now = self._clock()
        self._drop_cancelled()
        if not self._waiters and now - self._last >= self.interval:
            self._last = now
            return
        turn = asyncio.get_running_loop().create_future()
        self._waiters.append(turn)
        self._arm(now)
        try:
            await turn
        finally:
            if turn.cancelled():
                self._arm(self._clock())  # the next in line may now be the head

    def nudge(self) -> None:
        """The process is awake: let the next caller go if its start is due."""
        if self._waiters:
            self._release(self._clock())

    def _release(self, now: float) -> None:
        self._drop_cancelled()
        if self._waiters and now - self._last >= self.interval:
            self._last = now
            self._waiters.popleft().set_result(None)
        self._arm(now)

    def _drop_cancelled(self) -> None:
        while self._waiters and self._waiters[0].done():
            self._waiters.popleft()

    def _arm(self, now: float) -> None:
        """Keep one timer for the head waiter, at its due time plus the slack."""
        self._drop_cancelled()
        if not self._waiters:
            self._cancel_timer()
            return
        loop = asyncio.get_running_loop()
        due = self._last + self.interval + self.slack
        if self._timer is not None and self._timer_key == (loop, due):
            return
        self._cancel_timer()
        self._timer_key = (loop, due)
        self._timer = loop.call_later(max(0.0, due - now), self._on_timer)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = None
        self._timer_key = None

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_key = None
        self._release(self._clock())
