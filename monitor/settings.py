"""Settings: defaults < TOML file (`--config` / `MONITOR_CONFIG`) < `MONITOR_*` env vars.

Nested keys use `__` in env names, e.g. `MONITOR_POLICY__ZOMBIE_AFTER=14d`.
Secrets never live here by value except the Weibo visitor cookie, which is
read from the environment or a secrets file and is never printed.
"""

from __future__ import annotations

import os
import re
import tomllib
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from monitor.dates import DEFAULT_TIMEZONE, DateInputError, parse_time_of_day, zone
from monitor.durations import Duration, DurationError
from monitor.links import http_link
from monitor.models import MAX_ID, Platform


def _duration(value: Any) -> Duration:
    try:
        return Duration.parse(value)
    except DurationError as exc:
        raise ValueError(str(exc)) from exc


DurationField = Annotated[Duration, NoDecode, BeforeValidator(_duration), PlainSerializer(str)]


def _time_of_day(value: str) -> str:
    parse_time_of_day(value)  # a DateInputError is a ValueError: pydantic names the key
    return value.strip()


# "HH:MM" in the configured zone, 00:00 to 23:59.
TimeOfDay = Annotated[str, AfterValidator(_time_of_day)]

# Spans the daemon turns into timedeltas and sleeps: positive and finite (inf/nan
# are refused by every section), and at most a year, a week or a day as fits.
HOURS_IN_A_YEAR = 366 * 24
Hours = Annotated[float, Field(gt=0, le=HOURS_IN_A_YEAR)]
RetryMinutes = Annotated[float, Field(gt=0, le=7 * 24 * 60)]
PLATFORM_NAMES = tuple(p.value for p in Platform)


def _platform_name(value: str) -> str:
    if value not in PLATFORM_NAMES:
        raise ValueError(f"unknown platform {value!r} (use {', '.join(PLATFORM_NAMES)})")
    return value


def _account_key(value: str) -> str:
    platform, sep, account_id = value.partition(":")
    if sep:
        _platform_name(platform)
        if account_id.strip():
            return value
    elif value.isascii() and value.isdigit() and 1 <= int(value) <= MAX_ID:
        return value
    raise ValueError(
        f'{value!r} names no account: use its id (e.g. "12") or platform:account_id '
        '(e.g. "weibo:2803301701")'
    )


PlatformName = Annotated[str, AfterValidator(_platform_name)]
AccountKey = Annotated[str, AfterValidator(_account_key)]


class ConfigError(Exception):
    """The configuration cannot be used; `problems` lists (key, message) pairs."""

    def __init__(self, source: str, problems: list[tuple[str, str]]):
        self.source = source
        self.problems = problems
        lines = "; ".join(f"{key}: {msg}" for key, msg in problems)
        super().__init__(f"{source}: {lines}")


class Section(BaseModel):
    # inf and nan are no setting's value: they would turn into endless sleeps or
    # comparisons that are never true.
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


def policy_problem(policy: Policy) -> str | None:
    """Why these windows make no sense together, or None (suspension is not the shorter one)."""
    # Compared at a month end, where calendar months are shortest relative to days.
    probe = date(2021, 3, 31)
    if policy.suspended_after.before(probe) > policy.zombie_after.before(probe):
        return (
            f"suspended_after ({policy.suspended_after}) must not be shorter than "
            f"zombie_after ({policy.zombie_after})"
        )
    return None


class Policy(Section):
    """The windows of the classification rules (see README, "Windows")."""

    zombie_after: DurationField = Duration(months=1)
    suspended_after: DurationField = Duration(months=6)
    warn_before: DurationField = Duration(days=3)
    evidence_max_age: DurationField = Duration(days=3)

    @model_validator(mode="after")
    def _windows_in_order(self) -> Policy:
        problem = policy_problem(self)
        if problem:
            raise ValueError(problem)
        return self

    def describe(self) -> str:
        return (
            f"zombie after {self.zombie_after}, suspended after {self.suspended_after}, "
            f"warn {self.warn_before} before, evidence max age {self.evidence_max_age}"
        )


class HttpSettings(Section):
    timeout_s: float = Field(default=20.0, gt=0, le=600)
    user_agent: str = (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
    )
    max_body_bytes: int = Field(default=5_000_000, gt=0, le=1 << 30)
    # The local address every outgoing connection binds to (a multi-homed host's egress
    # address); `monitor worker --source-address` sets it per worker. None: the system's.
    source_address: str | None = None

    @field_validator("source_address")
    @classmethod
    def _an_address(cls, value: str | None) -> str | None:
        import ipaddress

        if value is None or not value.strip():
            return None
        try:
            return str(ipaddress.ip_address(value.strip()))
        except ValueError:
            raise ValueError(f"{value[:60]!r} is not an IP address") from None


def _http_url(value: str) -> str:
    if http_link(value) is None:
        raise ValueError(f"{value[:80]!r} is not an http(s) URL")
    return value.strip().rstrip("/")


HttpUrlText = Annotated[str, AfterValidator(_http_url)]


class WeiboSettings(Section):
    base_url: HttpUrlText = "https://m.weibo.cn"
    # The visitor cookie (SUB=...) is a secret: set MONITOR_WEIBO__COOKIE or a secrets file.
    # When set it is always sent and the visitor flow below never runs.
    cookie: SecretStr | None = None
    # "auto": when m.weibo.cn walls a visitor off (a redirect to the visitor system or
    # ok:-100), get a visitor cookie from Sina Visitor System (genvisitor), keep it in
    # memory only and retry; "off": such an answer is a `blocked` check.
    visitor: Literal["auto", "off"] = "auto"
    visitor_url: HttpUrlText = "https://visitor.passport.weibo.cn"
    max_pages: int = Field(default=2, ge=1, le=50)
    # For this many days after a profile call, checks of accounts with a recent post
    # read the timeline container it named directly (one request, not two); a
    # warning or worse is never judged without a profile call. 0: profile every time.
    profile_every_days: int = Field(default=7, ge=0, le=366)


class WechatSettings(Section):
    api_base_url: HttpUrlText = "https://api.weixin.qq.com"
    freepublish_count: int = Field(default=20, ge=1, le=20)
    worker_threads: int = Field(default=8, ge=1, le=256)
    # "token" = GET /cgi-bin/token: each new token retires the one the unit's own
    # systems hold. "stable_token" = POST /cgi-bin/stable_token: a token kept
    # apart from theirs, so the monitor never disturbs them.
    token_api: Literal["token", "stable_token"] = "token"
    # The first day datacube/getarticletotaldetail has data for (as its users report:
    # the new 发表内容 statistics start on 2025-11-01). Earlier days are never scanned,
    # so a scan that finds nothing claims silence since this day at most.
    datacube_from: date = date(2025, 11, 1)


class FeedSettings(Section):
    pass


class NetworkSettings(Section):
    """Which non-public addresses outbound requests may reach (see adapters.netguard)."""

    # Every non-public address but link-local and cloud metadata ones.
    allow_private_addresses: bool = False
    # CIDRs whose non-public addresses are allowed, link-local included when listed,
    # e.g. ["10.1.2.0/24", "127.0.0.0/8"] (env: a JSON list).
    allowed_networks: list[str] = []

    @field_validator("allowed_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        from adapters.netguard import parse_networks

        parse_networks(value)  # a ValueError names the bad entry
        return [str(t).strip() for t in value]


class SourceLimit(Section):
    """Politeness towards one source: at most this many requests in flight and per second."""

    max_concurrent: int = Field(default=2, ge=1, le=1000)
    # At least one request every 1000 s: slower would pause a sweep for hours per request.
    rate_per_s: float = Field(default=1.0, ge=0.001, le=100_000)


class SourceLimits(Section):
    """`limits.<source>` for every source the adapters declare, with their manifest's defaults.

    Weibo blocks eagerly (HTTP 418); WeChat's API quota is per AppID; feeds are per host.
    The limits apply per process that fetches (per egress address).
    """

    model_config = ConfigDict(extra="allow")
    # Every extra key is a source's limit, validated (and located in errors) as one.
    __pydantic_extra__: dict[str, SourceLimit] = Field(init=False)

    @model_validator(mode="before")
    @classmethod
    def _every_source(cls, data: Any) -> dict[str, Any]:
        from adapters import manifests

        given = (
            dict(data or {}) if not isinstance(data, BaseModel) else dict(data.model_extra or {})
        )
        known = manifests()
        unknown = sorted(set(given) - set(known))
        if unknown:
            raise ValueError(f"unknown source {unknown[0]!r}; known sources: {', '.join(known)}")
        out: dict[str, Any] = {}
        for name, m in known.items():
            value = given.get(name) or {}
            if isinstance(value, SourceLimit):
                value = value.model_dump()
            defaults = {"max_concurrent": m.max_concurrent, "rate_per_s": m.rate_per_s}
            out[name] = {**defaults, **value} if isinstance(value, dict) else value
        return out

    def for_source(self, name: str) -> SourceLimit:
        found = (self.model_extra or {}).get(name)
        return found if isinstance(found, SourceLimit) else SourceLimit()

    def sources(self) -> dict[str, SourceLimit]:
        return dict(self.model_extra or {})


class SiteWindows(Section):
    """How recent a column's newest item must be, per column type (国办秘函〔2019〕19号)."""

    news: DurationField = Duration(days=14)  # 动态要闻
    notices: DurationField = Duration(months=6)  # 通知公告
    policies: DurationField = Duration(months=6)  # 政策文件
    personnel: DurationField = Duration(months=12)  # 人事信息
    plans: DurationField = Duration(months=12)  # 规划计划


class SiteSettings(Section):
    """Government websites: windows, crawl bounds and politeness (see docs/sites.md)."""

    homepage_within: DurationField = Duration(days=14)
    windows: SiteWindows = SiteWindows()
    max_pages: int = Field(default=200, ge=1, le=100_000)
    probes_per_day: int = Field(default=20, ge=0, le=1440)
    timeout_s: float = Field(default=15.0, gt=0, le=600)
    max_page_bytes: int = Field(default=3_000_000, gt=0, le=1 << 30)
    # Requests per second to one host (every site on a shared host shares it).
    rate_per_s: float = Field(default=2.0, ge=0.001, le=100_000)
    # Sites checked at the same time in a sweep.
    concurrent_sites: int = Field(default=4, ge=1, le=1000)
    # The daily sweep of every website by `monitor run` (HH:MM in the configured zone).
    sweep_at: TimeOfDay = "02:30"


class ScheduleSettings(Section):
    """`monitor run`: when accounts are checked (owned by the daemon)."""

    tick_s: float = Field(default=60.0, gt=0, le=3600)
    # Default check interval, and per platform (e.g. {"weibo": 12}); hours.
    interval_h: Hours = 24.0
    platform_interval_h: dict[PlatformName, Hours] = Field(default_factory=dict)
    # Per account, keyed by the stable id ("12") or "platform:account_id"; hours.
    account_interval_h: dict[AccountKey, Hours] = Field(default_factory=dict)
    # Spread of first checks and of every next check (+/- this many seconds).
    jitter_s: float = Field(default=1800.0, ge=0, le=7 * 86400)
    # Transient failures are retried after these delays (minutes), then the normal interval.
    retry_delays_min: list[RetryMinutes] = Field(
        default_factory=lambda: [5.0, 30.0, 120.0], max_length=50
    )
    # Rate-limited/blocked answers from this many different accounts in a row slow the source.
    source_backoff_after: int = Field(default=3, ge=1, le=10_000)
    source_backoff_max_s: float = Field(default=3600.0, gt=0, le=7 * 86400)
    # The first source-wide pause; each further one doubles, up to source_backoff_max_s.
    source_backoff_base_s: float = Field(default=60.0, gt=0, le=86400)
    # Daily reclassification (HH:MM in the configured zone).
    reclassify_at: TimeOfDay = "09:00"
    shutdown_grace_s: float = Field(default=10.0, ge=0, le=3600)


class QueueSettings(Section):
    """Scale out (docs/scale-out.md): fetch workers fed through Celery and Redis.

    Unset `broker_url` (the default): `monitor run` checks in its own process.
    """

    # e.g. "redis://127.0.0.1:6379/0". A password in it belongs in the environment
    # (MONITOR_QUEUE__BROKER_URL); it is never logged.
    broker_url: str | None = None
    # A task a worker took and never finished (the worker died) is delivered again
    # after this long (Redis visibility timeout); a check's HTTP must fit in it.
    redeliver_after_s: float = Field(default=300.0, gt=0, le=86400)
    # Accounts of one source per task: small, so a dead worker's loss is small and
    # the work spreads evenly over the workers.
    batch_size: int = Field(default=8, ge=1, le=1000)
    # Tasks in flight per source at once: a source that backs off stops getting new ones.
    max_in_flight: int = Field(default=64, ge=1, le=100_000)

    @field_validator("broker_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if not value.strip().startswith(("redis://", "rediss://", "redis+socket://")):
            raise ValueError("use a Redis URL, e.g. redis://127.0.0.1:6379/0")
        return value.strip()


class AlertSettings(Section):
    """Source-health alerts for the operators."""

    check_failing_after: int = Field(default=3, ge=1, le=10_000)
    check_failing_hours: Hours = 48.0
    # A source failing for at least this share of its accounts in one sweep is "down".
    source_down_share: float = Field(default=0.5, gt=0, le=1)
    source_down_min_accounts: int = Field(default=5, ge=1, le=MAX_ID)


class NotifySettings(Section):
    """Where alerts go: apprise URLs (secrets: keep them in the env or secrets file)."""

    operators: list[str] = Field(default_factory=list)
    units: dict[str, list[str]] = Field(default_factory=dict)
    regions: dict[str, list[str]] = Field(default_factory=dict)
    digest: bool = False
    digest_at: TimeOfDay = "08:30"
    retry_delays_min: list[RetryMinutes] = Field(
        default_factory=lambda: [1.0, 5.0, 30.0, 120.0, 720.0], max_length=50
    )
    # After the ladder, retry at its last delay until this many attempts, then give up.
    max_attempts: int = Field(default=20, ge=1, le=1000)


class ReportSettings(Section):
    """The monthly report the daemon writes."""

    folder: str = "reports"
    # Create `folder` when it is missing (else the monthly report is refused and logged:
    # a typo in the path should not silently become a new folder).
    mkdir: bool = False
    formats: list[str] = Field(default_factory=lambda: ["xlsx", "html", "md"])
    # Day of month and HH:MM (configured zone) when last month's report is written.
    monthly_day: int = Field(default=1, ge=1, le=28)
    monthly_at: TimeOfDay = "08:00"
    lang: str = "zh"
    # How many units the "units with the most problems" table lists.
    top_units: int = Field(default=10, ge=1, le=10_000)

    @field_validator("formats")
    @classmethod
    def _known_formats(cls, value: list[str]) -> list[str]:
        known = ("xlsx", "csv", "md", "html", "json")  # monitor.reports.FORMATS
        unknown = [f for f in value if f not in known]
        if unknown:
            raise ValueError(f"unknown format(s) {', '.join(unknown)}; use {', '.join(known)}")
        return value

    @field_validator("lang")
    @classmethod
    def _known_lang(cls, value: str) -> str:
        if value not in ("zh", "en"):
            raise ValueError("use zh or en")
        return value


class RectifySettings(Section):
    """Notices and rectification cases (整改): the deadline and the daily re-check (复查)."""

    # The deadline is this long after the notice's as-of date (3月4日 -> 3月9日).
    within: DurationField = Duration(days=5)
    # When the daemon re-checks cases at their deadline and sends the day-before reminders.
    review_at: TimeOfDay = "09:30"


class ApiSettings(Section):
    """`monitor serve`: the JSON API and dashboard."""

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    # Bearer token (a secret: prefer MONITOR_API__TOKEN). Without it, writes are refused.
    token: SecretStr | None = None
    cors_origins: list[str] = Field(default_factory=list)


class Settings(BaseSettings):
    """Every setting of the monitor; `monitor config check` validates a file of them."""

    model_config = SettingsConfigDict(
        env_prefix="MONITOR_",
        env_nested_delimiter="__",
        extra="forbid",
        nested_model_default_partial_update=True,
    )

    database: str = "monitor.db"
    timezone: str = DEFAULT_TIMEZONE
    secrets_file: str | None = None
    policy: Policy = Policy()
    http: HttpSettings = HttpSettings()
    weibo: WeiboSettings = WeiboSettings()
    wechat: WechatSettings = WechatSettings()
    feed: FeedSettings = FeedSettings()
    network: NetworkSettings = NetworkSettings()
    limits: SourceLimits = SourceLimits()
    schedule: ScheduleSettings = ScheduleSettings()
    queue: QueueSettings = QueueSettings()
    alerts: AlertSettings = AlertSettings()
    notify: NotifySettings = NotifySettings()
    reports: ReportSettings = ReportSettings()
    rectify: RectifySettings = RectifySettings()
    api: ApiSettings = ApiSettings()
    sites: SiteSettings = SiteSettings()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            zone(value)
        except DateInputError as exc:
            raise ValueError(str(exc)) from exc
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The TOML file arrives through init kwargs (see load_settings), below env.
        return (env_settings, init_settings)

    @property
    def tz(self):
        return zone(self.timezone)


def read_toml(path: Path) -> dict[str, Any]:
    """The parsed config file, or ConfigError naming the file and line."""
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError as exc:
        raise ConfigError(str(path), [("(file)", "no such file")]) from exc
    except OSError as exc:
        raise ConfigError(str(path), [("(file)", f"cannot read: {exc.strerror}")]) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), [("(syntax)", str(exc))]) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(
            str(path),
            [("(encoding)", f"not UTF-8 ({exc.reason} at byte {exc.start}); save it as UTF-8")],
        ) from exc


def config_path(explicit: str | None) -> Path | None:
    """The config file: `--config`, else `MONITOR_CONFIG`, else none."""
    chosen = explicit or os.environ.get("MONITOR_CONFIG")
    return Path(chosen) if chosen else None


def load_settings(config: str | None = None) -> Settings:
    """Settings from defaults, the config file and the environment; ConfigError if invalid."""
    path = config_path(config)
    data = read_toml(path) if path else {}
    try:
        return Settings(**data)
    except ValidationError as exc:
        raise ConfigError(str(path) if path else "environment", _problems(exc)) from exc
    except SettingsError as exc:
        # pydantic-settings could not decode an env value (lists and tables are JSON there).
        found = re.search(r'field "(\w+)"', str(exc))
        key = f"MONITOR_{found[1].upper()}__*" if found else "MONITOR_*"
        raise ConfigError(
            "environment",
            [
                (
                    key,
                    f"{exc}; list and table values are JSON, e.g. '[5, 30, 120]' or '[\"mailto://...\"]'",
                )
            ],
        ) from exc


def _problems(exc: ValidationError) -> list[tuple[str, str]]:
    out = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(root)"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        out.append((key, msg.removeprefix("Value error, ")))
    return out


def database_path(explicit: str | None, settings: Settings | None) -> str:
    """The database file: `--db`, then `MONITOR_DB`, then the config, then ./monitor.db."""
    if explicit:
        return explicit
    env = os.environ.get("MONITOR_DB")
    if env:
        return env
    if settings is not None:
        return settings.database
    return "monitor.db"


def read_secrets_file(path: str | None) -> dict[str, str]:
    """KEY=VALUE lines of a secrets file (blank lines and # comments ignored)."""
    if not path:
        return {}
    out: dict[str, str] = {}
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(path, [("secrets_file", f"cannot read: {exc.strerror}")]) from exc
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if "=" not in line:
            raise ConfigError(path, [(f"line {number}", "expected KEY=VALUE")])
        key, _, value = line.partition("=")
        out[key.strip()] = value.strip()
    return out


class SecretLookup:
    """Looks up a secret by name: the environment first, then the secrets file."""

    def __init__(self, file_values: dict[str, str] | None = None):
        self._file = file_values or {}

    def get(self, name: str) -> str | None:
        return os.environ.get(name) or self._file.get(name)
