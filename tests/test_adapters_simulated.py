"""Every adapter against the simulator over a real socket, for every outcome.

One table (apprise-style conformance tester): each row names a simulated account,
the outcome the real adapter must report through the real HTTP client, and the
newest post the simulator served. One hand-built scenario holds every row's
account; the server runs once for the module on port 0 with a fixed clock, and
the table is checked once, all rows concurrently (the timeout faults cost one
1.5 s wait in total). Nothing here touches the internet.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from zh_check import assert_worded

from adapters.base import AdapterContext, CheckResult, CheckTarget
from adapters.feed import FeedAdapter
from adapters.wechat import WechatApiAdapter
from adapters.weibo import WeiboAdapter
from monitor.checks.fetch import Checker
from monitor.models import FAILED_OUTCOMES, Outcome, Platform, State
from monitor.settings import SecretLookup, Settings
from monitor.simulator import SECRET_ENV, Scenario, SimAccount, SimulatorServer
from monitor.simulator.feeds import feed_path
from monitor.store import AccountChange, ImportRecord, Store

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2025, 3, 15, 10, 30, tzinfo=SH)
TODAY = NOW.date()
TIMEOUT_S = 1.5
WRONG_SECRET_ENV = "SIM_WECHAT_WRONG_SECRET"
TOKEN_PATH = "/cgi-bin/token"


def clock() -> datetime:
    return NOW


def at(day: date | str, hh: int = 9, mm: int = 0, ss: int = 0) -> datetime:
    """A Shanghai wall-clock moment."""
    d = date.fromisoformat(day) if isinstance(day, str) else day
    return datetime.combine(d, time(hh, mm, ss), tzinfo=SH)


def start_of(day: date | str) -> datetime:
    return at(day, 0, 0, 0)


def days_ago(n: int, hh: int = 9, mm: int = 0, ss: int = 0) -> datetime:
    return at(TODAY - timedelta(days=n), hh, mm, ss)


def older_posts(count: int, start_days_ago: int = 5) -> list[datetime]:
    """`count` posts, one every second day, the newest `start_days_ago` days ago."""
    return [days_ago(start_days_ago + 2 * i, 11, 15) for i in range(count)]


def account(platform: str, account_id: str, posts: list[datetime], **extra: Any) -> SimAccount:
    return SimAccount(
        platform=platform,
        account_id=account_id,
        name=f"{platform} {account_id}",
        unit="石泉县测试局",
        region="石泉县",
        posts=posts,
        **extra,
    )


@dataclass(frozen=True)
class Row:
    """One conformance case: an account, and what its check must report."""

    id: str
    account: SimAccount
    outcome: Outcome
    latest: datetime | None = None
    detail: str = ""
    retry_after: float | None = None
    secret_env: str = SECRET_ENV

    @property
    def protocol(self) -> str:
        return self.account.platform


# ---- the scenario, row by row ----------------------------------------------------------

LIVE_ROWS = [
    Row(
        "weibo-old-pinned-post-first",
        account(
            "weibo",
            "1000000001",
            # index 0 is pinned and years old; 14 more so the timeline has two pages,
            # and one in the future that the simulator must not serve yet.
            [
                at("2022-06-01", 8),
                days_ago(1, 18, 20, 5),
                *older_posts(13),
                NOW + timedelta(days=1),
            ],
            pinned=0,
            pinned_marker="title",
        ),
        Outcome.OK,
        days_ago(1, 18, 20, 5),
    ),
    Row(
        "weibo-pinned-by-profile-type-id",
        account(
            "weibo",
            "1000000002",
            [days_ago(2, 7, 45, 30), at("2023-01-09", 10), *older_posts(3)],
            pinned=1,
            pinned_marker="profile_type_id",
        ),
        Outcome.OK,
        days_ago(2, 7, 45, 30),
    ),
    Row(
        "weibo-relative-hours-ago",
        account(
            "weibo",
            "1000000003",
            [
                NOW - timedelta(hours=3),
                at("2024-08-08", 8, 8),
                days_ago(1, 21, 15),
                *older_posts(4),
            ],
            pinned=1,
            pinned_marker="isTop",
            relative_dates=True,
        ),
        Outcome.OK,
        NOW - timedelta(hours=3),
    ),
    Row(
        "weibo-relative-minutes-ago",
        account(
            "weibo",
            "1000000004",
            [NOW - timedelta(minutes=25), *older_posts(2)],
            relative_dates=True,
        ),
        Outcome.OK,
        NOW - timedelta(minutes=25),
    ),
    Row(
        "weibo-relative-yesterday",
        account(
            "weibo",
            "1000000005",
            [at("2023-05-05", 9), days_ago(1, 21, 15), days_ago(9, 8)],
            pinned=0,
            pinned_marker="mblogtype",
            relative_dates=True,
        ),
        Outcome.OK,
        days_ago(1, 21, 15),
    ),
    Row(
        # MM-DD carries no time of day: the adapter can only claim the start of that day.
        "weibo-relative-month-day",
        account(
            "weibo",
            "1000000006",
            [at("2025-03-02", 14, 40), at("2025-01-20", 9)],
            relative_dates=True,
        ),
        Outcome.OK,
        start_of("2025-03-02"),
    ),
    Row(
        "weibo-relative-full-date-last-year",
        account("weibo", "1000000007", [at("2024-12-25", 16, 5)], relative_dates=True),
        Outcome.OK,
        start_of("2024-12-25"),
    ),
    Row("weibo-never-posted", account("weibo", "1000000010", []), Outcome.NO_CONTENT),
    Row(
        "weibo-deleted",
        account("weibo", "1000000011", [days_ago(40)], exists=False),
        Outcome.NOT_FOUND,
    ),
    Row(
        "wechat-freepublish-only",
        account(
            "wechat",
            "wxf0000000000000001",
            # freepublish has today's post: it is exact, to the second.
            [NOW - timedelta(hours=2, minutes=17, seconds=26), days_ago(6, 17, 3, 9)],
            publish="freepublish",
        ),
        Outcome.OK,
        NOW - timedelta(hours=2, minutes=17, seconds=26),
    ),
    Row(
        "wechat-mass-only",
        account(
            "wechat",
            "wxm0000000000000001",
            # datacube covers days up to yesterday: today's 群发 is not visible yet.
            [days_ago(3, 20, 15), NOW - timedelta(hours=2), days_ago(20, 9)],
            publish="mass",
        ),
        Outcome.OK,
        start_of(TODAY - timedelta(days=3)),
    ),
    Row(
        "wechat-mass-only-yesterday",
        account("wechat", "wxm0000000000000002", [days_ago(1, 23, 59, 59)], publish="mass"),
        Outcome.OK,
        start_of(TODAY - timedelta(days=1)),
    ),
    Row(
        "wechat-wrong-secret",
        account("wechat", "wxs0000000000000001", [days_ago(1)], publish="freepublish"),
        Outcome.AUTH_ERROR,
        detail="invalid AppSecret",
        secret_env=WRONG_SECRET_ENV,
    ),
    Row(
        "feed-atom",
        account(
            "feed",
            "atom-bilibili-1",
            [days_ago(1, 22, 0, 1), days_ago(4), NOW + timedelta(hours=1)],
            format="atom",
            platform_label="bilibili",
        ),
        Outcome.OK,
        days_ago(1, 22, 0, 1),
    ),
    Row(
        "feed-rss",
        account(
            "feed",
            "rss-douyin-1",
            [NOW - timedelta(minutes=30, seconds=1), *older_posts(5)],
            format="rss",
            platform_label="douyin",
        ),
        Outcome.OK,
        NOW - timedelta(minutes=30, seconds=1),
    ),
    # Government CMS feeds write Beijing wall time with no zone: 20:15 is 20:15 in
    # Shanghai (read as UTC it would be 04:15 the next day).
    *[
        Row(
            f"feed-{fmt}-zoneless",
            account(
                "feed",
                f"{fmt}-cms-1",
                [days_ago(2, 20, 15, 7), days_ago(9, 8, 30)],
                format=fmt,
                zoneless_dates=True,
            ),
            Outcome.OK,
            days_ago(2, 20, 15, 7),
        )
        for fmt in ("rss", "atom", "json")
    ],
    Row(
        "feed-json",
        account("feed", "json-toutiao-1", [days_ago(3, 7, 45)], format="json"),
        Outcome.OK,
        days_ago(3, 7, 45),
    ),
]

# What each fault must become, per protocol: (outcome, phrase in detail, retry_after).
FAULT_EXPECTATIONS: dict[str, dict[str, tuple[Outcome, str, float | None]]] = {
    "weibo": {
        "timeout": (Outcome.TRANSIENT, "timed out", None),
        "http_500": (Outcome.TRANSIENT, "HTTP 500", None),
        "rate_limit": (Outcome.RATE_LIMITED, "HTTP 418", None),
        "login_wall": (Outcome.BLOCKED, "login", None),
        "malformed": (Outcome.PARSE_ERROR, "bad JSON", None),
    },
    "wechat": {
        "timeout": (Outcome.TRANSIENT, "timed out", None),
        "http_500": (Outcome.TRANSIENT, "HTTP 500", None),
        "rate_limit": (Outcome.RATE_LIMITED, "errcode 45009", None),
        "login_wall": (Outcome.AUTH_ERROR, "IP whitelist", None),
        "malformed": (Outcome.PARSE_ERROR, "not JSON", None),
    },
    "feed": {
        "timeout": (Outcome.TRANSIENT, "timed out", None),
        "http_500": (Outcome.TRANSIENT, "HTTP 500", None),
        "rate_limit": (Outcome.RATE_LIMITED, "HTTP 429", 60.0),
        "login_wall": (Outcome.BLOCKED, "login", None),
        "malformed": (Outcome.PARSE_ERROR, "not well-formed", None),
    },
}
FAULT_IDS = {"weibo": "200000000{}", "wechat": "wxfault00000000000{}", "feed": "fault-{}"}


def _fault_rows() -> list[Row]:
    rows = []
    for protocol, expectations in FAULT_EXPECTATIONS.items():
        for n, (fault, (outcome, phrase, wait)) in enumerate(expectations.items(), start=1):
            acc = account(
                protocol,
                FAULT_IDS[protocol].format(n),
                [days_ago(1, 10), days_ago(8)],
                fault=fault,
            )
            rows.append(Row(f"{protocol}-{fault}", acc, outcome, None, phrase, wait))
    return rows


FAULT_ROWS = _fault_rows()
ROWS = LIVE_ROWS + FAULT_ROWS
BY_ID = {row.id: row for row in ROWS}
# Not in the table: a feed the URL guard must stop before any request is sent.
BLOCKED_FEED = account("feed", "loopback-feed", [days_ago(1)])
SCENARIO = Scenario(accounts=[row.account for row in ROWS] + [BLOCKED_FEED])


def test_the_table_covers_every_fault_of_every_protocol_and_every_outcome_but_restricted():
    faults = {(r.protocol, r.account.fault) for r in ROWS if r.account.fault}
    assert faults == {(p, f) for p in ("weibo", "wechat", "feed") for f in FAULT_EXPECTATIONS[p]}
    # `refused` is our own outbound guard, not a platform answer (tests/test_transport.py).
    assert {r.outcome for r in ROWS} == set(Outcome) - {Outcome.RESTRICTED, Outcome.REFUSED}
    assert {r.protocol for r in ROWS if r.outcome is Outcome.OK} == {"weibo", "wechat", "feed"}


# ---- fixtures ----------------------------------------------------------------------------


class DictSecrets:
    """Secrets by env var name, without touching the environment."""

    def __init__(self, values: dict[str, str]):
        self.values = values

    def get(self, name: str) -> str | None:
        return self.values.get(name)


SECRETS = DictSecrets(
    {SECRET_ENV: SCENARIO.wechat_secret, WRONG_SECRET_ENV: "not-" + SCENARIO.wechat_secret}
)


@pytest.fixture(scope="module")
def server(no_monitor_env: None) -> Iterator[SimulatorServer]:
    srv = SimulatorServer(SCENARIO, port=0, clock=clock, hold_seconds=30)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


# This module's clock (2025-03) predates getarticletotaldetail's data (2025-11-01);
# the simulator serves every day, so the scan may reach back as far as it likes.
DATACUBE_FROM = "2014-12-01"


def settings_for(url: str, **extra: Any) -> Settings:
    return Settings(
        weibo={"base_url": url},
        wechat={"api_base_url": url, "datacube_from": DATACUBE_FROM},
        network={"allow_private_addresses": True},
        http={"timeout_s": TIMEOUT_S},
        **extra,
    )


def target_for(row: Row, url: str, id_: int, state: dict[str, Any] | None = None) -> CheckTarget:
    acc = row.account
    return CheckTarget(
        id=id_,
        platform=Platform(acc.platform),
        account_id=acc.account_id,
        name=acc.name,
        feed_url=f"{url}{feed_path(acc.account_id, acc.format)}" if acc.platform == "feed" else "",
        appid=acc.effective_appid if acc.platform == "wechat" else "",
        secret_env=row.secret_env if acc.platform == "wechat" else "",
        state=state or {},
    )


def new_adapters() -> dict[str, Any]:
    return {"weibo": WeiboAdapter(), "wechat": WechatApiAdapter(), "feed": FeedAdapter()}


def run_checks(
    settings: Settings, jobs: list[tuple[str, CheckTarget]], adapters: dict[str, Any] | None = None
) -> list[CheckResult]:
    """Check (protocol, target) pairs concurrently through one real httpx client."""
    own = adapters is None
    adapters = adapters or new_adapters()

    async def go() -> list[CheckResult]:
        async with httpx.AsyncClient() as http:
            ctx = AdapterContext(http=http, settings=settings, secrets=SECRETS, clock=clock)
            return list(await asyncio.gather(*(adapters[p].check(t, ctx) for p, t in jobs)))

    try:
        return asyncio.run(go())
    finally:
        if own:
            adapters["wechat"].close()


@pytest.fixture(scope="module")
def observed(server: SimulatorServer) -> dict[str, CheckResult]:
    """Every row checked once, all concurrently: row id -> result."""
    jobs = [(row.protocol, target_for(row, server.url, i)) for i, row in enumerate(ROWS, 1)]
    results = run_checks(settings_for(server.url), jobs)
    return {row.id: result for row, result in zip(ROWS, results, strict=True)}


def _ids(rows: list[Row]) -> list[str]:
    return [r.id for r in rows]


FAILED_ROWS = [r for r in ROWS if r.outcome in FAILED_OUTCOMES]
RATE_ROWS = [r for r in ROWS if r.outcome is Outcome.RATE_LIMITED]
PARSE_ROWS = [r for r in ROWS if r.outcome is Outcome.PARSE_ERROR]
DETAIL_ROWS = [r for r in ROWS if r.detail]


# ---- the conformance table ------------------------------------------------------------


@pytest.mark.parametrize("row", ROWS, ids=_ids(ROWS))
def test_each_adapter_reports_the_outcome_and_newest_post_the_simulator_served(row, observed):
    obs = observed[row.id].observation
    assert obs.outcome is row.outcome, obs.detail
    assert obs.latest_post_at == row.latest, obs.detail
    assert obs.observed_at == NOW
    assert obs.source == {"weibo": "weibo", "wechat": "wechat_api", "feed": "feed"}[row.protocol]


@pytest.mark.parametrize("row", ROWS, ids=_ids(ROWS))
def test_every_detail_is_a_code_worded_in_chinese_and_english(row, observed):
    assert_worded(observed[row.id].observation)


@pytest.mark.parametrize("row", FAILED_ROWS, ids=_ids(FAILED_ROWS))
def test_a_failed_check_never_carries_a_latest_post(row, observed):
    obs = observed[row.id].observation
    assert obs.latest_post_at is None
    assert obs.post_id is None and obs.silent_since is None
    assert obs.detail


@pytest.mark.parametrize("row", DETAIL_ROWS, ids=_ids(DETAIL_ROWS))
def test_a_failed_check_says_what_the_platform_did(row, observed):
    assert row.detail in (observed[row.id].observation.detail or "")


@pytest.mark.parametrize("row", RATE_ROWS, ids=_ids(RATE_ROWS))
def test_a_rate_limited_check_carries_the_retry_after_the_platform_gave(row, observed):
    assert observed[row.id].observation.retry_after == row.retry_after


@pytest.mark.parametrize("row", PARSE_ROWS, ids=_ids(PARSE_ROWS))
def test_a_parse_error_quotes_an_excerpt_of_the_body(row, observed):
    detail = observed[row.id].observation.detail or ""
    assert "; body: '" in detail
    excerpt = detail.split("; body: ", 1)[1]
    assert {"weibo": '{"ok":1', "wechat": '{"access_token"', "feed": "<?xml"}[
        row.protocol
    ] in excerpt


def test_the_wechat_ip_whitelist_wall_is_an_auth_error_naming_the_whitelist(observed):
    obs = observed["wechat-login_wall"].observation
    assert obs.outcome is Outcome.AUTH_ERROR
    assert "IP whitelist" in (obs.detail or "") and "40164" in (obs.detail or "")


def test_no_wechat_detail_or_state_holds_the_secret(observed):
    for row in ROWS:
        if row.protocol != "wechat":
            continue
        result = observed[row.id]
        assert SCENARIO.wechat_secret not in (result.observation.detail or "")
        assert SCENARIO.wechat_secret not in repr(result.state)


def test_the_wechat_mass_only_account_was_found_through_the_datacube(observed):
    obs = observed["wechat-mass-only"].observation
    assert "datacube" in (obs.detail or "")
    assert observed["wechat-mass-only"].state["dc_latest"] == (TODAY - timedelta(3)).isoformat()
    assert "freepublish" in (observed["wechat-freepublish-only"].observation.detail or "")


def test_the_pinned_post_is_read_but_never_taken_for_the_latest(observed):
    for row_id in ("weibo-old-pinned-post-first", "weibo-relative-hours-ago"):
        obs = observed[row_id].observation
        assert "1 pinned" in (obs.detail or ""), obs.detail
        assert "latest is pinned" not in (obs.detail or "")


# ---- single scenarios ------------------------------------------------------------------


def test_the_rate_limit_fault_answers_418_429_and_45009_and_is_reported_so(server):
    before = server.stats
    jobs = [(r.protocol, target_for(r, server.url, i)) for i, r in enumerate(RATE_ROWS, 1)]
    results = run_checks(settings_for(server.url), jobs)
    after = server.stats

    def delta(key: str, sub: Any) -> int:
        return after[key].get(sub, 0) - before[key].get(sub, 0)

    assert [r.observation.outcome for r in results] == [Outcome.RATE_LIMITED] * 3
    assert after["requests"] - before["requests"] == 3  # each gives up on its first answer
    assert delta("by_status", 418) == 1  # weibo
    assert delta("by_status", 429) == 1  # feed
    # WeChat says it in a 200 body: the one token call answered errcode 45009.
    assert delta("by_path", TOKEN_PATH) == 1 and delta("by_status", 200) == 1
    assert "45009" in (results[1].observation.detail or "")


def test_a_loopback_feed_is_refused_without_an_allowed_network_and_never_fetched(server):
    # No platform base URLs either: their origins would be exempt from the guard.
    settings = Settings(http={"timeout_s": TIMEOUT_S})
    row = Row("blocked", BLOCKED_FEED, Outcome.REFUSED)
    before = server.stats
    [result] = run_checks(settings, [("feed", target_for(row, server.url, 1))])
    after = server.stats
    assert result.observation.outcome is Outcome.REFUSED
    assert "loopback" in (result.observation.detail or "")
    assert_worded(result.observation)
    assert result.observation.latest_post_at is None
    assert after["requests"] == before["requests"]
    assert after["by_path"].get("/feed/*", 0) == before["by_path"].get("/feed/*", 0)


def test_a_second_feed_check_gets_a_304_and_repeats_the_same_latest_post(server):
    row = BY_ID["feed-rss"]
    settings = settings_for(server.url)
    [first] = run_checks(settings, [("feed", target_for(row, server.url, 1))])
    assert first.observation.outcome is Outcome.OK
    assert first.state.get("etag") and first.state.get("last_modified")
    before = server.stats
    [second] = run_checks(settings, [("feed", target_for(row, server.url, 1, first.state))])
    after = server.stats
    assert after["by_status"].get(304, 0) - before["by_status"].get(304, 0) == 1
    assert second.observation.outcome is Outcome.OK
    assert second.observation.detail == "not modified"
    assert_worded(second.observation)
    assert second.observation.latest_post_at == row.latest == first.observation.latest_post_at
    assert second.observation.post_url == first.observation.post_url
    assert second.state == first.state


def test_a_second_wechat_check_resumes_the_datacube_scan_and_keeps_the_mass_post(server):
    row = BY_ID["wechat-mass-only"]
    settings = settings_for(server.url)
    adapters = new_adapters()
    try:
        [first] = run_checks(settings, [("wechat", target_for(row, server.url, 1))], adapters)
        before = server.stats
        [second] = run_checks(
            settings, [("wechat", target_for(row, server.url, 1, first.state))], adapters
        )
        after = server.stats
    finally:
        adapters["wechat"].close()
    assert second.observation.outcome is Outcome.OK
    assert second.observation.latest_post_at == row.latest
    assert_worded(second.observation)
    # Only the recheck window is scanned again, not the months behind it.
    detail = "/datacube/getarticletotaldetail"
    scanned = after["by_path"].get(detail, 0) - before["by_path"].get(detail, 0)
    assert 1 <= scanned <= 3


def test_stable_token_mode_checks_wechat_accounts_without_touching_cgi_bin_token(server):
    rows = [BY_ID["wechat-mass-only"], BY_ID["wechat-freepublish-only"]]
    settings = Settings(
        wechat={
            "api_base_url": server.url,
            "token_api": "stable_token",
            "datacube_from": DATACUBE_FROM,
        },
        network={"allow_private_addresses": True},
        http={"timeout_s": TIMEOUT_S},
    )
    before = server.stats
    results = run_checks(
        settings, [("wechat", target_for(r, server.url, i)) for i, r in enumerate(rows, 1)]
    )
    after = server.stats
    assert [r.observation.outcome for r in results] == [Outcome.OK, Outcome.OK]
    assert [r.observation.latest_post_at for r in results] == [r.latest for r in rows]
    assert after["by_path"].get(TOKEN_PATH, 0) == before["by_path"].get(TOKEN_PATH, 0)
    stable = "/cgi-bin/stable_token"
    assert after["by_path"].get(stable, 0) - before["by_path"].get(stable, 0) == 2


# ---- the same scenario through Checker and a real SQLite store ---------------------------

CHECKER_ROWS = [
    "weibo-old-pinned-post-first",
    "wechat-freepublish-only",
    "feed-atom",
    "weibo-never-posted",
    "weibo-deleted",
    "feed-http_500",
    "weibo-rate_limit",
    "weibo-login_wall",
    "wechat-login_wall",
    "feed-malformed",
    "wechat-timeout",
]
EVIDENCE_STATES = {
    Outcome.OK: State.ACTIVE,
    Outcome.NO_CONTENT: State.ZOMBIE,
    Outcome.NOT_FOUND: State.CANCELLED,
}


def _import(store: Store, url: str, rows: list[Row]) -> dict[str, int]:
    changes = []
    for order, row in enumerate(rows):
        acc = row.account
        target = target_for(row, url, 0)
        changes.append(
            AccountChange(
                identity=f"{acc.platform}:id:{acc.account_id}",
                platform=Platform(acc.platform),
                account_id=acc.account_id,
                unit=acc.unit,
                roster_order=order,
                fields={
                    "name": acc.name,
                    "region": acc.region,
                    "status": "operating",
                    "feed_url": target.feed_url,
                    "appid": target.appid,
                    "secret_env": target.secret_env,
                },
            )
        )
    record = ImportRecord("simulated.csv", "long", NOW - timedelta(days=1), None)
    store.apply_import(record, changes)
    views = store.accounts_at(NOW)
    return {f"{v.platform.value}:{v.account_id}": v.id for v in views}


def test_checker_stores_each_outcome_and_faulted_accounts_stay_unknown(server, tmp_path):
    rows = [BY_ID[i] for i in CHECKER_ROWS]
    assert {r.outcome for r in rows} == set(Outcome) - {Outcome.RESTRICTED, Outcome.REFUSED}
    fast = {"rate_per_s": 1000.0, "max_concurrent": 20}
    settings = settings_for(server.url, limits={"weibo": fast, "wechat_api": fast, "feed": fast})
    secrets = SecretLookup({SECRET_ENV: SCENARIO.wechat_secret})
    with Store.open(tmp_path / "monitor.db") as store:
        ids = _import(store, server.url, rows)
        accounts = store.accounts_at(NOW)
        assert len(accounts) == len(rows)

        async def go():
            async with Checker(store, settings, secrets, clock=clock) as checker:
                return await checker.check_many(accounts)

        reports = {
            f"{r.account.platform.value}:{r.account.account_id}": r for r in asyncio.run(go())
        }
        for row in rows:
            key = f"{row.protocol}:{row.account.account_id}"
            report = reports[key]
            assert report.observation is not None, (row.id, report.note)
            assert report.observation.outcome is row.outcome, (row.id, report.observation.detail)
            stored = store.observations(ids[key])
            assert [o.outcome for o in stored] == [row.outcome], row.id
            assert stored[0].latest_post_at == row.latest, row.id
            assert report.verdict is not None
            if row.outcome in FAILED_OUTCOMES:
                assert report.verdict.state is State.UNKNOWN, (row.id, report.verdict)
            else:
                assert report.verdict.state is EVIDENCE_STATES[row.outcome], (
                    row.id,
                    report.verdict,
                )


def test_a_malformed_token_answer_never_puts_the_access_token_in_the_detail(observed):
    detail = observed["wechat-malformed"].observation.detail or ""
    assert "body:" in detail
    assert re.search(r'"access_token"\s*:\s*"(?!\*\*\*)[^"\']', detail) is None, detail
