"""The scenario indexed for serving: accounts by key, posts sorted, live fault overrides."""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from monitor.simulator.scenario import Scenario, SimAccount

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """Now, aware, in UTC."""
    return datetime.now(UTC)


@dataclass(slots=True)
class AccountState:
    """One account ready to serve: posts ascending by time, the pinned one apart."""

    account: SimAccount
    posts: list[datetime] = field(default_factory=list)
    stamps: list[float] = field(default_factory=list)
    pinned: datetime | None = None
    fault: str | None = None

    @classmethod
    def build(cls, account: SimAccount) -> AccountState:
        pinned = account.posts[account.pinned] if account.pinned is not None else None
        others = list(account.posts)
        if account.pinned is not None:
            del others[account.pinned]
        others.sort()
        return cls(account, others, [p.timestamp() for p in others], pinned, account.fault)

    def add_post(self, when: datetime) -> None:
        """Add a post (live, for tests of an account coming back)."""
        i = bisect.bisect_right(self.stamps, when.timestamp())
        self.posts.insert(i, when)
        self.stamps.insert(i, when.timestamp())

    def served(self, now: datetime) -> list[datetime]:
        """Unpinned posts at or before `now`, newest first: future posts are never served."""
        i = bisect.bisect_right(self.stamps, now.timestamp())
        return self.posts[:i][::-1]

    def served_pinned(self, now: datetime) -> datetime | None:
        """The pinned post, if it is not in the future."""
        if self.pinned is not None and self.pinned <= now:
            return self.pinned
        return None

    def served_count(self, now: datetime) -> int:
        """How many posts (pinned included) are visible at `now`."""
        n = bisect.bisect_right(self.stamps, now.timestamp())
        return n + (1 if self.served_pinned(now) is not None else 0)


class World:
    """Everything the protocol handlers read; knobs may change while serving."""

    def __init__(self, scenario: Scenario, clock: Clock, seed: int) -> None:
        self.scenario = scenario
        self.clock = clock
        self.seed = seed
        self.accounts: dict[tuple[str, str], AccountState] = {}
        self.by_appid: dict[str, AccountState] = {}
        for acc in scenario.accounts:
            state = AccountState.build(acc)
            self.accounts[acc.key] = state
            if acc.platform == "wechat":
                self.by_appid[acc.effective_appid] = state
        # access_token -> (appid, expiry as time.monotonic())
        self.tokens: dict[str, tuple[str, float]] = {}
        self.tokens_issued = 0
        # appid -> its current stable_token (kept apart from /cgi-bin/token's)
        self.stable_tokens: dict[str, str] = {}
        # The visitor system: tids handed out, cookies (SUB values) valid now, and a count.
        self.visitor_tids: set[str] = set()
        self.visitor_subs: set[str] = set()
        self.visitor_issued = 0
        # Encoded answers that depend only on the served posts (see weibo._cached_timeline).
        self.cache: dict[tuple[object, ...], bytes] = {}
        # Government websites by 网站标识码, and how often each homepage was asked for.
        self.sites = {site.site_code: site for site in scenario.sites}
        self.homepage_requests: dict[str, int] = {}

    def now(self) -> datetime:
        """The simulator's clock (aware)."""
        moment = self.clock()
        if moment.tzinfo is None:
            raise ValueError("simulator clock must return an aware datetime")
        return moment

    def get(self, platform: str, account_id: str) -> AccountState | None:
        """The account, or None when the scenario does not list it."""
        return self.accounts.get((platform, account_id))
