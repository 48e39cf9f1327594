"""Politeness: requests are paced per source, Weibo apart from feeds even on one host."""

from __future__ import annotations

import asyncio
import time

import httpx

from adapters._http import HttpxGetter
from monitor.checks.fetch import PacedGetter
from monitor.checks.pacing import Pacer
from monitor.settings import Settings


def test_weibo_api_paths_and_feeds_on_the_same_host_are_paced_separately():
    settings = Settings(
        weibo={"base_url": "http://127.0.0.1:9"}, wechat={"api_base_url": "http://127.0.0.1:9"}
    )
    client = httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(200)))
    paced = PacedGetter(HttpxGetter(client), settings)

    async def go() -> None:
        for url in (
            "http://127.0.0.1:9/api/container/getIndex?type=uid&value=1",
            "http://127.0.0.1:9/feed/a.xml",
            "http://rss.example.org/feed/b.xml",
        ):
            got = await paced.get(url, headers=None, timeout=5, max_bytes=1000)
            assert got.status == 200  # type: ignore[union-attr]
        await paced.aclose()

    asyncio.run(go())
    assert paced.requests == {"weibo": 1, "feed:127.0.0.1:9": 1, "feed:rss.example.org": 1}


def test_starts_are_never_closer_than_the_interval_and_ride_on_nudges():
    fake_now = [0.0]
    # A slack this large means the pacer's own timer never fires in this test: every
    # start after the first is let go by a nudge (the process being awake anyway).
    pacer = Pacer(4.0, clock=lambda: fake_now[0], slack=100.0)
    started: list[tuple[int, float]] = []

    async def worker(i: int) -> None:
        await pacer.wait()
        started.append((i, fake_now[0]))

    async def go() -> None:
        tasks = [asyncio.create_task(worker(i)) for i in range(3)]
        await asyncio.sleep(0)
        for moment in (0.1, 0.25, 0.3, 0.49, 0.5, 0.74, 0.9):
            fake_now[0] = moment
            pacer.nudge()
            await asyncio.sleep(0)
            await asyncio.sleep(0)
        await asyncio.gather(*tasks)

    asyncio.run(go())
    # The first goes at once; a nudge before a start is due lets nothing go.
    assert started == [(0, 0.0), (1, 0.25), (2, 0.5)]


def test_without_nudges_the_timer_starts_waiters_at_most_slack_late():
    pacer = Pacer(50.0, slack=0.004)  # 20 ms apart, at most 4 ms late

    async def go() -> float:
        began = time.monotonic()
        await asyncio.gather(*(pacer.wait() for _ in range(4)))
        return time.monotonic() - began

    took = asyncio.run(asyncio.wait_for(go(), timeout=10))
    assert took >= 3 * 0.020  # four starts need three intervals between them


def test_a_cancelled_waiter_gives_its_turn_to_the_next():
    fake_now = [0.0]
    pacer = Pacer(4.0, clock=lambda: fake_now[0], slack=100.0)
    started: list[int] = []

    async def worker(i: int) -> None:
        await pacer.wait()
        started.append(i)

    async def go() -> None:
        tasks = [asyncio.create_task(worker(i)) for i in range(3)]
        await asyncio.sleep(0)
        tasks[1].cancel()
        await asyncio.sleep(0)
        fake_now[0] = 0.25
        pacer.nudge()
        await asyncio.gather(*tasks, return_exceptions=True)

    asyncio.run(go())
    assert started == [0, 2]
