"""Politeness towards platforms: a concurrency cap and a request-rate cap per source.

Requests are spaced so that no window of one second holds more than
`rate_per_s` starts (a pacing limiter, not a bursty token bucket: platforms
such as Weibo answer bursts with HTTP 418).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager


class Pacer:
    """Lets callers start at most `rate_per_s` times a second, evenly spaced."""

    def __init__(self, rate_per_s: float, clock: Callable[[], float] = time.monotonic):
        self.interval = 1.0 / rate_per_s
        self._clock = clock
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        async with self._lock:
            now = self._clock()
            start = max(now, self._next)
            self._next = start + self.interval
        delay = start - now
        if delay > 0:
            await asyncio.sleep(delay)


class SourceGate:
    """One source's (or one host's) limits: a semaphore for concurrency and a pacer for rate."""

    def __init__(self, max_concurrent: int, rate_per_s: float):
        self._slots = asyncio.Semaphore(max_concurrent)
        self._pacer = Pacer(rate_per_s)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        async with self._slots:
            await self._pacer.wait()
            yield


class Gates:
    """Gates by key (a source name, or `feed:<host>` for feeds), created on first use."""

    def __init__(self, limits: object):
        self._limits = limits
        self._gates: dict[str, SourceGate] = {}

    def get(self, source: str, host: str | None = None) -> SourceGate:
        key = f"{source}:{host}" if host else source
        gate = self._gates.get(key)
        if gate is None:
            limit = self._limits.for_source(source)  # type: ignore[attr-defined]
            gate = self._gates[key] = SourceGate(limit.max_concurrent, limit.rate_per_s)
        return gate
