"""generate_city: a deterministic, realistic city of government accounts as a Scenario.

Shares (exact counts, rounded): 1% deleted and 1% never posted (Weibo only),
1% suspended (last post 6-24 months ago), 5% zombie (1-5 months), 2% with a
fault; the rest are active (last post 1-20 days before `today`). Every post is
before `today` starts (Asia/Shanghai by default), so none is ever in the future.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from monitor.simulator.names import (
    CITY_REGION,
    COUNTIES,
    account_name,
    town_unit,
    unit_names,
)
from monitor.simulator.roster import write_roster
from monitor.simulator.scenario import FAULTS, Scenario, SimAccount

__all__ = ["SHARES", "generate_city", "write_roster"]

SHARES = {"deleted": 0.01, "never": 0.01, "suspended": 0.01, "zombie": 0.05, "fault": 0.02}
# Roster platform mix; douyin/toutiao/bilibili are served as RSSHub-style feeds.
PLATFORM_MIX: tuple[tuple[str, float], ...] = (
    ("wechat", 0.45),
    ("weibo", 0.30),
    ("douyin", 0.12),
    ("toutiao", 0.09),
    ("bilibili", 0.04),
)
MAX_POSTS = 12
CITY_SHARE = 0.3


@dataclass(slots=True)
class _Unit:
    region: str
    name: str
    stem: str
    township: bool


def _units(count: int, rng: random.Random) -> list[_Unit]:
    county_share = (1 - CITY_SHARE) / len(COUNTIES)
    weights = [CITY_SHARE] + [county_share] * len(COUNTIES)
    regions = [CITY_REGION, *COUNTIES]
    departments = {r: unit_names(r) for r in regions}
    for lst in departments.values():
        rng.shuffle(lst)
    used: set[str] = set()
    units: list[_Unit] = []
    # Every region gets at least one unit when there are enough of them.
    chosen = regions[:count] + rng.choices(regions, weights, k=max(0, count - len(regions)))
    for region in chosen:
        free = departments[region]
        # City departments only; counties mix departments and townships.
        if free and (region == CITY_REGION or rng.random() < 0.6):
            name, stem = free.pop()
            units.append(_Unit(region, name, stem, False))
        elif region == CITY_REGION:
            name, stem = f"市第{len(used)}直属事业单位", f"安康{len(used)}"
            units.append(_Unit(region, name, stem, False))
        else:
            name, stem = town_unit(region, rng, used)
            units.append(_Unit(region, name, stem, True))
        used.add(units[-1].name)
    return units


def _at(day: date, rng: random.Random, zone: ZoneInfo) -> datetime:
    # Offices post in working hours and evenings, 07:30 to 22:30.
    seconds = rng.randint(7 * 3600 + 1800, 22 * 3600 + 1800)
    return datetime.combine(day, time.min, tzinfo=zone) + timedelta(seconds=seconds)


def _posts(
    today: date, last_days_ago: int, cadence: float, count: int, rng: random.Random, zone: ZoneInfo
) -> list[datetime]:
    """`count` posts, newest first, the newest `last_days_ago` days before today."""
    out: list[datetime] = []
    days_ago = last_days_ago
    for _ in range(count):
        out.append(_at(today - timedelta(days=days_ago), rng, zone))
        days_ago += max(1, round(rng.expovariate(1 / cadence)))
    return out


def _active_posts(today: date, rng: random.Random, zone: ZoneInfo) -> list[datetime]:
    cadence = rng.choices((1.0, 2.5, 7.0, 14.0), (0.35, 0.30, 0.25, 0.10))[0]
    last = 1 + min(19, int(rng.expovariate(1 / cadence)))
    count = rng.randint(2, MAX_POSTS) if cadence < 7 else rng.randint(1, 8)
    return _posts(today, last, cadence, count, rng, zone)


def _ids(rng: random.Random, label: str, used: set[str]) -> str:
    while True:
        if label == "weibo":
            ident = str(rng.randrange(1_000_000_000, 7_999_999_999))
        elif label == "wechat":
            ident = f"wx{rng.getrandbits(64):016x}"
        elif label == "douyin":
            alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
            ident = "MS4wLjABAAAA" + "".join(rng.choice(alphabet) for _ in range(32))
        elif label == "toutiao":
            ident = str(rng.randrange(10**10, 10**11))
        else:
            ident = str(rng.randrange(10**7, 10**10))
        if ident not in used:
            used.add(ident)
            return ident


# How a unit tells its accounts apart when two would share a name (安康气象 on two
# WeChat accounts): the usual 发布, then the platform.
_PLATFORM_SUFFIX = {"wechat": "微信", "weibo": "微博", "douyin": "抖音", "toutiao": "头条",
                    "bilibili": "B站"}  # fmt: skip


def _unique(name: str, label: str, taken: set[str]) -> str:
    """`name`, or a variant no other account of the unit has (no random draw: the rest
    of the city stays as the seed made it)."""
    candidates = [name, f"{name}{_PLATFORM_SUFFIX.get(label, '')}"]
    if not name.endswith("发布"):
        candidates.insert(1, f"{name}发布")
    candidates += [f"{name}{n}" for n in range(2, len(taken) + 3)]
    chosen = next(c for c in candidates if c not in taken)
    taken.add(chosen)
    return chosen


def generate_city(
    n: int, seed: int = 0, today: date | None = None, tz: str = "Asia/Shanghai"
) -> Scenario:
    """A city of `n` accounts over ~11 regions and ~n/4 units; deterministic for `seed`."""
    if n < 0:
        raise ValueError("n must be >= 0")
    zone = ZoneInfo(tz)
    today = today or datetime.now(zone).date()
    rng = random.Random(seed)
    units = _units(max(1, round(n / 4)), rng)
    unit_of = [i if i < len(units) else rng.randrange(len(units)) for i in range(n)]
    labels = rng.choices([p for p, _ in PLATFORM_MIX], [w for _, w in PLATFORM_MIX], k=n)

    counts = {kind: round(share * n) for kind, share in SHARES.items()}
    weibo_idx = [i for i, lab in enumerate(labels) if lab == "weibo"]
    rng.shuffle(weibo_idx)
    kind = ["active"] * n
    cut = 0
    for k in ("deleted", "never"):
        take = min(counts[k], len(weibo_idx) - cut)
        for i in weibo_idx[cut : cut + take]:
            kind[i] = k
        cut += take
    rest = [i for i in range(n) if kind[i] == "active"]
    rng.shuffle(rest)
    cut = 0
    for k in ("suspended", "zombie", "fault"):
        for i in rest[cut : cut + counts[k]]:
            kind[i] = k
        cut += counts[k]

    used_ids: set[str] = set()
    names_in_unit: dict[str, set[str]] = {}
    accounts: list[SimAccount] = []
    fault_no = 0
    for i in range(n):
        unit = units[unit_of[i]]
        label = labels[i]
        platform = label if label in ("weibo", "wechat") else "feed"
        ident = _ids(rng, label, used_ids)
        k = kind[i]
        if k in ("active", "fault"):
            posts = _active_posts(today, rng, zone)
        elif k == "zombie":
            posts = _posts(
                today, rng.randint(31, 150), rng.uniform(7, 30), rng.randint(1, 8), rng, zone
            )
        elif k == "suspended":
            posts = _posts(
                today, rng.randint(183, 720), rng.uniform(10, 60), rng.randint(1, 5), rng, zone
            )
        else:
            posts = []
        # Validated below, all at once: built unchecked (model_construct) for speed.
        extra: dict[str, Any] = {}
        if k == "fault":
            extra["fault"] = FAULTS[fault_no % len(FAULTS)]
            fault_no += 1
        if platform == "weibo":
            extra["relative_dates"] = rng.random() < 0.15
            extra["verified_type"] = 1 if rng.random() < 0.97 else rng.choice((0, -1))
            if posts and rng.random() < 0.15:
                # An old pinned post: first on page 1, but not the latest.
                pin_day = posts[-1].date() - timedelta(days=rng.randint(120, 400))
                posts.append(_at(pin_day, rng, zone))
                extra["pinned"] = len(posts) - 1
            extra["statuses_count"] = len(posts) + rng.randint(0, 4000) if posts else 0
        elif platform == "wechat":
            extra["publish"] = rng.choices(("mass", "mixed", "freepublish"), (0.4, 0.4, 0.2))[0]
        else:
            extra["platform_label"] = label
            extra["format"] = "atom" if rng.random() < 0.2 else "rss"
        extra["platform"] = platform
        accounts.append(
            SimAccount.model_construct(
                account_id=ident,
                name=_unique(
                    account_name(unit.region, unit.stem, rng, unit.township),
                    label,
                    names_in_unit.setdefault(unit.name, set()),
                ),
                unit=unit.name,
                region=unit.region,
                exists=k != "deleted",
                posts=posts,
                **extra,
            )
        )
    # Validate once at the end (cheap next to building 100,000 accounts one by one).
    return Scenario.model_validate(
        {
            "accounts": accounts,
            "latency_ms": 0.0,
            "rate_limit_per_s": None,
            "error_rate": 0.0,
            "wechat_secret": hashlib.md5(f"sim-wechat-{seed}".encode()).hexdigest(),
            "generated_for": today,
            "seed": seed,
        }
    )
