"""Politeness: requests are paced per source, Weibo apart from feeds even on one host."""

from __future__ import annotations

import asyncio

import httpx

from monitor.checks import PacedTransport
from monitor.politeness import Pacer
from monitor.settings import Settings


def test_weibo_api_paths_and_feeds_on_the_same_host_are_paced_separately():
    settings = Settings(
        weibo={"base_url": "http://127.0.0.1:9"}, wechat={"api_base_url": "http://127.0.0.1:9"}
    )
    paced = PacedTransport(httpx.MockTransport(lambda r: httpx.Response(200)), settings)

    async def go() -> None:
        async with httpx.AsyncClient(transport=paced) as client:
            await client.get("http://127.0.0.1:9/api/container/getIndex?type=uid&value=1")
            await client.get("http://127.0.0.1:9/feed/a.xml")
            await client.get("http://rss.example.org/feed/b.xml")

    asyncio.run(go())
    assert paced.requests == {"weibo": 1, "feed:127.0.0.1:9": 1, "feed:rss.example.org": 1}


def test_a_pacer_spaces_starts_by_its_interval():
    fake_now = [100.0]
    slept: list[float] = []
    pacer = Pacer(4.0, clock=lambda: fake_now[0])

    async def fake_sleep(delay: float) -> None:
        slept.append(delay)

    async def go() -> None:
        original = asyncio.sleep
        asyncio.sleep = fake_sleep  # type: ignore[assignment]
        try:
            for _ in range(3):
                await pacer.wait()
        finally:
            asyncio.sleep = original  # type: ignore[assignment]

    asyncio.run(go())
    # Starts at t, t+0.25, t+0.5: never more than 4 in any second.
    assert slept == [0.25, 0.5]
