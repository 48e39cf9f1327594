"""Weibo checks that reuse the timeline container a recent profile call named.

Against the simulator over a real socket, with a fixed clock: a second check of
an account goes straight to its timeline (one request, not two) for
`weibo.profile_every_days` after the profile call, and anything but a page of
posts or a failed request sends it back through the profile, so no verdict rests
on a timeline read without the profile's word when it matters.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from adapters.base import AdapterContext, CheckResult, CheckTarget
from adapters.weibo import WeiboAdapter
from monitor.checks.fetch import Checker
from monitor.models import Outcome, Platform
from monitor.settings import SecretLookup, Settings
from monitor.simulator import Scenario, SimAccount, SimulatorServer
from monitor.store import AccountChange, ImportRecord, Store

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2025, 3, 15, 10, 30, tzinfo=SH)


def clock() -> datetime:
    return NOW


def weibo(uid: str, name: str, days: list[int], **extra: Any) -> SimAccount:
    return SimAccount(
        platform="weibo",
        account_id=uid,
        name=name,
        unit="汉阴县测试局",
        region="汉阴县",
        posts=[NOW - timedelta(days=d, hours=3) for d in days],
        **extra,
    )


ACTIVE = weibo("2000000001", "汉阴发布", [1, 3, 9], container_prefix="230413")
SILENT = weibo("2000000002", "汉阴县某局", [50, 70], container_prefix="107603")
PINNED = weibo("2000000003", "汉阴置顶", [400, 2, 5], pinned=0, pinned_marker="isTop")
GONE = weibo("2000000004", "已注销的号", [2], exists=False)
NEVER_POSTED = weibo("2000000005", "从未发布", [], statuses_count=0)
STORM = weibo("2000000006", "被限流的号", [2], fault="rate_limit")
SCENARIO = Scenario(accounts=[ACTIVE, SILENT, PINNED, GONE, NEVER_POSTED, STORM])


@pytest.fixture(scope="module")
def server(no_monitor_env: None) -> Iterator[SimulatorServer]:
    srv = SimulatorServer(SCENARIO, port=0, clock=clock)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def settings(url: str, **weibo: Any) -> Settings:
    return Settings(weibo={"base_url": url, **weibo}, network={"allow_private_addresses": True})


def target(acc: SimAccount, state: dict[str, Any] | None = None) -> CheckTarget:
    return CheckTarget(
        id=1, platform=Platform.WEIBO, account_id=acc.account_id, name=acc.name, state=state or {}
    )


def check(
    server: SimulatorServer, acc: SimAccount, state: dict[str, Any] | None = None, **weibo: Any
) -> tuple[CheckResult, int]:
    """One check through a real httpx client: its result, and the requests it made."""

    async def go() -> CheckResult:
        async with httpx.AsyncClient() as http:
            ctx = AdapterContext(
                http=http,
                settings=settings(server.url, **weibo),
                secrets=SecretLookup(),
                clock=clock,
            )
            return await WeiboAdapter().check(target(acc, state), ctx)

    before = server.stats["requests"]
    result = asyncio.run(go())
    return result, server.stats["requests"] - before


def kept(acc: SimAccount, **changes: Any) -> dict[str, Any]:
    """The state a first (profile-reading) check of `acc` leaves, with `changes`."""
    return {
        "container": f"{acc.container_prefix or '107603'}{acc.account_id}",
        "profile_at": (NOW - timedelta(days=1)).isoformat(),
        "profile": {"screen_name": acc.name, "verified_type": 1},
    } | changes


def test_a_first_check_reads_the_profile_and_keeps_the_container_it_named(server):
    result, requests = check(server, ACTIVE)
    assert requests == 2
    assert result.observation.outcome is Outcome.OK
    assert result.state["container"] == "230413" + ACTIVE.account_id
    assert datetime.fromisoformat(result.state["profile_at"]) == NOW
    assert result.state["profile"]["screen_name"] == ACTIVE.name


@pytest.mark.parametrize("acc", [ACTIVE, PINNED], ids=["active", "pinned"])
def test_the_next_check_reads_only_the_timeline_and_sees_what_the_full_check_saw(server, acc):
    first, _ = check(server, acc)
    second, requests = check(server, acc, first.state)
    assert requests == 1
    a, b = first.observation, second.observation
    assert b.outcome is Outcome.OK
    assert (b.latest_post_at, b.post_id, b.post_url) == (a.latest_post_at, a.post_id, a.post_url)
    assert b.profile == a.profile  # from the posts' own `user`, not the profile call
    assert second.state == first.state  # unchanged: nothing to write
    assert f"container {first.state['container']} as named by the profile read at" in (
        b.detail or ""
    )


def test_old_posts_from_a_kept_container_are_judged_only_with_a_fresh_profile(server):
    # 50 days silent: a zombie verdict names the unit, so the profile is asked again;
    # it names the same container, so the page already read is used, not fetched twice.
    first, _ = check(server, SILENT)
    second, requests = check(server, SILENT, kept(SILENT))
    assert requests == 2
    a, b = first.observation, second.observation
    assert b.outcome is Outcome.OK
    assert (b.latest_post_at, b.post_id) == (a.latest_post_at, a.post_id)
    assert "as named by the profile read at" not in (b.detail or "")
    assert second.state == first.state  # the profile read now, at NOW


def test_a_kept_container_showing_old_posts_of_a_deleted_account_is_not_a_zombie():
    # The simulator empties a deleted account's timeline; a platform might not.
    old_post = (NOW - timedelta(days=90)).strftime("%a %b %d %H:%M:%S +0800 %Y")
    page = {
        "ok": 1,
        "data": {
            "cards": [
                {"card_type": 9, "mblog": {"id": "42", "created_at": old_post, "text": "旧闻"}}
            ]
        },
    }
    seen: list[str] = []

    def platform(request: httpx.Request) -> httpx.Response:
        seen.append("timeline" if "containerid" in request.url.params else "profile")
        if "containerid" in request.url.params:
            return httpx.Response(200, json=page)
        return httpx.Response(200, json={"ok": 0, "msg": "用户不存在"})

    result = check_with(platform, GONE, kept(GONE))
    assert seen == ["timeline", "profile"]
    assert result.observation.outcome is Outcome.NOT_FOUND
    assert result.state == {}


def test_an_unexpected_answer_from_a_kept_container_goes_back_through_the_profile(server):
    seen: list[str] = []
    forward = httpx.Client(base_url=server.url)

    def platform(request: httpx.Request) -> httpx.Response:
        if "containerid" in request.url.params and not seen:
            seen.append("odd timeline")
            return httpx.Response(200, json={"ok": 1, "data": {"cardlistInfo": {}}})
        seen.append("profile" if "containerid" not in request.url.params else "timeline")
        real = forward.get(request.url.raw_path.decode())
        return httpx.Response(real.status_code, content=real.content, headers=real.headers)

    try:
        result = check_with(platform, ACTIVE, kept(ACTIVE, container="230413" + ACTIVE.account_id))
    finally:
        forward.close()
    assert seen == ["odd timeline", "profile", "timeline"]
    assert result.observation.outcome is Outcome.OK


def check_with(platform: Any, acc: SimAccount, state: dict[str, Any], **weibo: Any) -> CheckResult:
    """One check against a scripted platform (httpx.MockTransport)."""

    async def go() -> CheckResult:
        transport = httpx.MockTransport(platform)
        async with httpx.AsyncClient(transport=transport) as http:
            ctx = AdapterContext(
                http=http,
                settings=settings("https://m.weibo.cn", **weibo),
                secrets=SecretLookup(),
                clock=clock,
            )
            return await WeiboAdapter().check(target(acc, state), ctx)

    return asyncio.run(go())


def test_the_profile_fields_come_fresh_from_the_posts_not_from_the_kept_state(server):
    state = kept(ACTIVE, container="230413" + ACTIVE.account_id, profile={"screen_name": "旧名"})
    result, requests = check(server, ACTIVE, state)
    assert requests == 1
    assert result.observation.profile is not None
    assert result.observation.profile["screen_name"] == ACTIVE.name


def test_profile_every_days_zero_reads_the_profile_on_every_check(server):
    first, _ = check(server, ACTIVE)
    second, requests = check(server, ACTIVE, first.state, profile_every_days=0)
    assert requests == 2
    assert second.observation.latest_post_at == first.observation.latest_post_at


@pytest.mark.parametrize(
    "read_at",
    [
        NOW - timedelta(days=7),  # exactly the default 7 days: due again
        NOW + timedelta(minutes=5),  # from the future (clock moved back): not trusted
        "not a time",
        (NOW - timedelta(days=1)).replace(tzinfo=None),  # naive
    ],
    ids=["7-days-old", "future", "garbage", "naive"],
)
def test_a_kept_container_is_used_only_within_the_days_since_its_profile_call(server, read_at):
    at = read_at.isoformat() if isinstance(read_at, datetime) else read_at
    state = kept(ACTIVE, container="230413" + ACTIVE.account_id, profile_at=at)
    result, requests = check(server, ACTIVE, state)
    assert requests == 2
    assert result.observation.outcome is Outcome.OK
    assert datetime.fromisoformat(result.state["profile_at"]) == NOW


def test_six_days_and_a_bit_after_the_profile_call_the_kept_container_still_answers(server):
    at = (NOW - timedelta(days=6, hours=23)).isoformat()
    state = kept(ACTIVE, container="230413" + ACTIVE.account_id, profile_at=at)
    result, requests = check(server, ACTIVE, state)
    assert requests == 1
    assert result.state == state


def test_a_moved_container_sends_the_check_back_through_the_profile(server):
    # The kept container is not the account's any more: the simulator has nothing there.
    state = kept(ACTIVE, container="107603" + ACTIVE.account_id)
    result, requests = check(server, ACTIVE, state)
    assert requests == 3  # the stale timeline, the profile, the right timeline
    assert result.observation.outcome is Outcome.OK
    assert result.state["container"] == "230413" + ACTIVE.account_id


def test_a_deleted_account_is_found_missing_through_the_profile_not_called_empty(server):
    result, requests = check(server, GONE, kept(GONE))
    assert requests == 2  # its timeline looks empty; the profile says 用户不存在
    assert result.observation.outcome is Outcome.NOT_FOUND
    assert result.state == {}  # evidence other than posts drops the kept container


def test_an_empty_timeline_is_judged_only_with_the_profile_read_in_the_same_check(server):
    result, requests = check(server, NEVER_POSTED, kept(NEVER_POSTED))
    assert requests == 3
    assert result.observation.outcome is Outcome.NO_CONTENT
    assert "statuses_count is 0" in (result.observation.detail or "")
    assert result.state == {}


def test_a_rate_limited_timeline_is_a_failed_check_at_once_and_keeps_the_state(server):
    state = kept(STORM)
    result, requests = check(server, STORM, state)
    assert requests == 1  # no profile call into a rate limit
    assert result.observation.outcome is Outcome.RATE_LIMITED
    assert result.observation.latest_post_at is None
    assert result.state == state


def test_through_the_checker_a_recheck_uses_the_container_stored_in_sqlite(server, tmp_path):
    with Store.open(tmp_path / "monitor.db") as store:
        _check_twice(server, store)


def _check_twice(server: SimulatorServer, store: Store) -> None:
    change = AccountChange(
        identity=f"weibo:id:{ACTIVE.account_id}",
        platform=Platform.WEIBO,
        account_id=ACTIVE.account_id,
        unit=ACTIVE.unit,
        fields={"name": ACTIVE.name, "region": ACTIVE.region, "status": "operating"},
    )
    store.apply_import(ImportRecord("roster.csv", "long", NOW - timedelta(days=1), None), [change])
    [account] = store.accounts_at(NOW)

    async def twice() -> list[int]:
        spent = []
        async with Checker(store, settings(server.url), clock=clock) as checker:
            for _ in range(2):
                before = server.stats["requests"]
                report = await checker.check(account)
                assert report.observation is not None
                assert report.observation.outcome is Outcome.OK
                spent.append(server.stats["requests"] - before)
        return spent

    assert asyncio.run(twice()) == [2, 1]
    saved = store.source_state(account.id)
    assert saved is not None and saved.state["container"] == "230413" + ACTIVE.account_id
