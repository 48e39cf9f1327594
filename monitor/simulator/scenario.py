"""The scenario a simulator serves: accounts, their posts and faults, and global knobs.

The JSON layout is a contract shared with `monitor simulate`; the required
fields are fixed, the optional ones (pinned, appid, format, ...) default sensibly.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator

SimPlatform = Literal["weibo", "wechat", "feed"]
Fault = Literal["timeout", "http_500", "rate_limit", "login_wall", "malformed"]
# m.weibo.cn's visitor wall, and how the visitor system answers (monitor.simulator.weibo_visitor).
WeiboWall = Literal["visitor", "visitor_incarnate", "visitor_broken"]
FAULTS: tuple[str, ...] = ("timeout", "http_500", "rate_limit", "login_wall", "malformed")
PinnedMarker = Literal["title", "isTop", "mblogtype", "profile_type_id"]
DEFAULT_WECHAT_SECRET = "sim-wechat-secret"
# The contract's account fields, always written out (the rest only when not default).
ACCOUNT_REQUIRED = ("platform", "account_id", "name", "unit", "region", "exists", "posts", "fault")
_ACCOUNT_DEFAULTS: dict[str, Any] = {"exists": True, "posts": [], "fault": None}


class ScenarioError(ValueError):
    """A scenario file that cannot be used; the message names the file and the field."""


class SimAccount(BaseModel):
    """One account on one simulated platform."""

    model_config = ConfigDict(extra="forbid")

    platform: SimPlatform
    account_id: str = Field(min_length=1)
    name: str
    unit: str
    region: str
    exists: bool = True
    posts: list[AwareDatetime] = Field(default_factory=list)
    fault: Fault | None = None
    # Optional extras (all have defaults, so hand-written scenarios stay short).
    # Roster platform code: douyin/toutiao/bilibili for feed accounts, else the platform.
    platform_label: str | None = None
    # Weibo: index into `posts` of a pinned (usually old) post shown first on page 1.
    pinned: int | None = Field(default=None, ge=0)
    # Weibo: which pinned marker the post carries; None derives one from the account id.
    pinned_marker: PinnedMarker | None = None
    # Weibo: profile statuses_count; None means the number of posts served.
    statuses_count: int | None = Field(default=None, ge=0)
    # Weibo: 1 = government; 0 = personal verified; -1 = not verified.
    verified_type: int = 1
    # Weibo: serve the old relative created_at forms (刚刚, N分钟前, 昨天 HH:MM, MM-DD, ...).
    relative_dates: bool = False
    # Weibo: timeline container prefix ("107603" or "230413"); None derives it from the id.
    container_prefix: Literal["107603", "230413"] | None = None
    # WeChat: AppID (defaults to account_id) and AppSecret (defaults to the scenario's).
    appid: str | None = None
    secret: str | None = None
    # WeChat: where posts appear: mass (群发, datacube only), freepublish, or mixed.
    publish: Literal["mixed", "mass", "freepublish"] = "mixed"
    # WeChat: days a 群发 article keeps being read from its sending on (each such day
    # lists it in getarticlesummary, which dates reads, not sends).
    read_days: int = Field(default=7, ge=1)
    # WeChat: which send-dated datacube endpoints the account may call: both, only
    # getarticletotaldetail (getarticletotal answers 47009 offline), or only
    # getarticletotal (getarticletotaldetail answers 48001 unauthorized).
    datacube: Literal["both", "detail_only", "total_only"] = "both"
    # Feed: RSS 2.0 at /feed/{id}.xml, Atom at /feed/{id}.atom, JSON Feed at /feed/{id}.json.
    format: Literal["rss", "atom", "json"] = "rss"
    # Feed: write entry times as Beijing wall time with no zone, as many government
    # CMS feeds do (`2016-04-05 08:54:33`); otherwise with +0800 / +08:00.
    zoneless_dates: bool = False

    @model_validator(mode="after")
    def _pinned_in_range(self) -> SimAccount:
        if self.pinned is not None and self.pinned >= len(self.posts):
            raise ValueError(f"pinned index {self.pinned} is outside posts (len {len(self.posts)})")
        return self

    @property
    def key(self) -> tuple[str, str]:
        """(platform, account_id): unique within a scenario."""
        return (self.platform, self.account_id)

    @property
    def effective_appid(self) -> str:
        return self.appid or self.account_id


ColumnLabel = Literal["动态要闻", "通知公告", "政策文件", "人事信息", "规划计划", "其他"]
# How a listing writes its dates: 2024-05-01, 2024/05/01, 2024.05.01, 2024年5月1日,
# [05-01], 05-01, or not at all.
DateForm = Literal["iso", "slash", "dot", "cjk", "bracket", "md", "none"]
SiteProblemKind = Literal[
    "unavailable", "homepage_stale", "stale_column", "empty_column", "broken_link"
]


class SimColumn(BaseModel):
    """A column of a simulated website: its listing's item dates (none: an empty column)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    kind: ColumnLabel
    dates: list[date] = Field(default_factory=list)
    date_form: DateForm = "iso"
    # Render the listing as a table with the dates in `td.date` (the columns roster
    # then names the 日期选择器 "td.date").
    table: bool = False


class SiteTruth(BaseModel):
    """What one sweep on `Scenario.generated_for` must find: the verdict and problem counts."""

    model_config = ConfigDict(extra="forbid")

    verdict: Literal["pass", "issues", "fail"]
    problems: dict[SiteProblemKind, int] = Field(default_factory=dict)
    summary: str = ""


class SimSite(BaseModel):
    """A simulated government website, served under /site/{site_code}/."""

    model_config = ConfigDict(extra="forbid")

    site_code: str = Field(pattern=r"^[0-9]{10,11}$")
    name: str
    unit: str
    region: str
    homepage_dates: list[date] = Field(default_factory=list)
    homepage_form: DateForm = "iso"
    columns: list[SimColumn] = Field(default_factory=list)
    # Links on the homepage to pages that answer 404.
    broken_links: int = Field(default=0, ge=0)
    # down: the homepage always answers 503; flaky: the 1st of every 3 requests does.
    homepage_fault: Literal["down", "flaky"] | None = None
    encoding: Literal["utf-8", "gbk", "gb2312"] = "utf-8"
    # Where the charset is declared: the Content-Type header, a <meta> tag, or nowhere.
    declare: Literal["header", "meta", "none"] = "header"
    truth: SiteTruth | None = None


class Scenario(BaseModel):
    """Every simulated account plus the knobs that shape all responses."""

    model_config = ConfigDict(extra="forbid")

    accounts: list[SimAccount] = Field(default_factory=list)
    # Optional: government websites (monitor.simulator.sites).
    sites: list[SimSite] = Field(default_factory=list)
    latency_ms: float = Field(default=0.0, ge=0)
    rate_limit_per_s: float | None = Field(default=None, gt=0)
    # Optional: the same limit again, per client address (requests/s per protocol and
    # address), as platforms limit each egress address; None: no per-client limit.
    rate_limit_per_client_s: float | None = Field(default=None, gt=0)
    error_rate: float = Field(default=0.0, ge=0, le=1)
    # Optional: the shared AppSecret of every wechat account without its own `secret`.
    wechat_secret: str = DEFAULT_WECHAT_SECRET
    # Optional: m.weibo.cn redirects visitors without a visitor cookie to the visitor
    # system, which hands one out (`visitor`: genvisitor2 gives the cookie;
    # `visitor_incarnate`: genvisitor2 a tid, incarnate the cookie) or fails
    # (`visitor_broken`). None: no wall.
    weibo_wall: WeiboWall | None = None
    # Optional: getarticletotaldetail answers no articles for days before this one
    # (the real endpoint's data starts on 2025-11-01); None: every day has data.
    wechat_datacube_from: date | None = None
    # Optional provenance of generated scenarios.
    generated_for: date | None = None
    seed: int | None = None

    @model_validator(mode="after")
    def _unique_accounts(self) -> Scenario:
        seen: dict[tuple[str, str], int] = {}
        for i, acc in enumerate(self.accounts):
            if acc.key in seen:
                raise ValueError(
                    f"accounts[{i}] duplicates accounts[{seen[acc.key]}] "
                    f"({acc.platform} {acc.account_id!r})"
                )
            seen[acc.key] = i
        codes: dict[str, int] = {}
        for i, site in enumerate(self.sites):
            if site.site_code in codes:
                raise ValueError(
                    f"sites[{i}] duplicates sites[{codes[site.site_code]}] ({site.site_code})"
                )
            codes[site.site_code] = i
        return self

    def to_json(self, *, indent: int | None = None) -> str:
        """The scenario as JSON text: contract fields always, optional ones only when set."""
        data = self.model_dump(mode="json", exclude_defaults=True)
        out: dict[str, Any] = {
            "accounts": [
                {key: d.get(key, _ACCOUNT_DEFAULTS.get(key)) for key in ACCOUNT_REQUIRED} | d
                for d in data.get("accounts", [])
            ],
            "latency_ms": self.latency_ms,
            "rate_limit_per_s": self.rate_limit_per_s,
            "error_rate": self.error_rate,
        }
        out |= {k: v for k, v in data.items() if k not in out}
        if indent is None:
            return json.dumps(out, ensure_ascii=False, separators=(",", ":"))
        return json.dumps(out, ensure_ascii=False, indent=indent)

    def save(self, path: str | Path) -> None:
        """Write the scenario as UTF-8 JSON."""
        Path(path).write_text(self.to_json(), encoding="utf-8")

    def secret_for(self, account: SimAccount) -> str:
        """The AppSecret a wechat account accepts."""
        return account.secret or self.wechat_secret


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def parse_scenario(text: str, source: str = "<scenario>") -> Scenario:
    """Validate scenario JSON text; errors name `source` and the field path."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ScenarioError(
            f"{source}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from exc
    try:
        return Scenario.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{_loc(err['loc'])}: {err['msg']}" for err in exc.errors()[:10])
        more = exc.error_count() - 10
        suffix = f" (and {more} more)" if more > 0 else ""
        raise ScenarioError(f"{source}: {problems}{suffix}") from exc


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file (clear error naming file and field on bad input)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ScenarioError(f"{p}: cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"{p}: not UTF-8 text: {exc}") from exc
    return parse_scenario(text, str(p))
