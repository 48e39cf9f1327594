"""Politeness: requests are paced per source, Weibo apart from feeds even on one host."""

from __future__ import annotations

import asyncio

import httpx

from adapters._http import HttpxGetter
from monitor.checks import PacedGetter
from monitor.politeness import Pacer
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
