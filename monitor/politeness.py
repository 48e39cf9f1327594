"""Politeness towards platforms: a request-rate cap per source (or per feed host).

Requests are spaced so that no window of one second holds more than
`rate_per_s` starts (a pacing limiter, not a bursty token bucket: platforms
such as Weibo answer bursts with HTTP 418).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class Pacer:
    """Lets callers start at most `rate_per_s` times a second, evenly spaced."""

    def __init__(self, rate_per_s: float, clock: Callable[[], float] = time.monotonic):
        self.interval = 1.0 / rate_per_s
        self._clock = clock
        self._next = 0.0

    async def wait(self) -> None:
        # No lock: nothing awaits between reading and moving `_next`.
        now = self._clock()
        start = max(now, self._next)
        self._next = start + self.interval
        delay = start - now
        if delay > 0:
            await asyncio.sleep(delay)
