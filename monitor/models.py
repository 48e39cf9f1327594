"""The shared vocabulary: platforms, outcomes, observations, states and verdicts.

Everything else imports this module; it imports nothing of the project.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

# Stable ids are SQLite integers (64-bit): a larger number names no row.
MAX_ID = 2**63 - 1


class Platform(StrEnum):
    """A platform an account lives on; the value is the English code used everywhere."""

    WECHAT = "wechat"
    WEIBO = "weibo"
    DOUYIN = "douyin"
    TOUTIAO = "toutiao"
    KUAISHOU = "kuaishou"
    BILIBILI = "bilibili"
    FEED = "feed"

    @property
    def label(self) -> str:
        return PLATFORM_LABELS[self]


PLATFORM_LABELS: dict[Platform, str] = {
    Platform.WECHAT: "微信",
    Platform.WEIBO: "微博",
    Platform.DOUYIN: "抖音",
    Platform.TOUTIAO: "头条",
    Platform.KUAISHOU: "快手",
    Platform.BILIBILI: "哔哩哔哩",
    Platform.FEED: "RSS",
}


def identity_text(text: str) -> str:
    """A name or platform ID as compared for identity: NFKC, no invisible characters, trimmed.

    Names that differ only by character width (ｘ / x, full-width digits) or by
    zero-width and other format characters (U+200B, U+FEFF, ...) are one
    account; the roster's own spelling is kept for display.

    >>> identity_text("\u200b安康发布１\u3000")
    '安康发布1'
    """
    text = unicodedata.normalize("NFKC", text)
    return "".join(ch for ch in text if unicodedata.category(ch) != "Cf").strip()


class RosterStatus(StrEnum):
    """What the roster says about an account's lifecycle."""

    OPERATING = "operating"
    STOPPED = "stopped"
    CANCELLED = "cancelled"


ROSTER_STATUS_LABELS: dict[RosterStatus, str] = {
    RosterStatus.OPERATING: "运行",
    RosterStatus.STOPPED: "停运",
    RosterStatus.CANCELLED: "已注销",
}


class Outcome(StrEnum):
    """How one check ended. Evidence outcomes inform verdicts; failures never do."""

    OK = "ok"
    NO_CONTENT = "no_content"
    NOT_FOUND = "not_found"
    RESTRICTED = "restricted"
    BLOCKED = "blocked"
    RATE_LIMITED = "rate_limited"
    AUTH_ERROR = "auth_error"
    TRANSIENT = "transient"
    PARSE_ERROR = "parse_error"
    # Our own outbound guard refused the address: a configuration problem of the
    # account (its URL), not an answer of the platform.
    REFUSED = "refused"

    @property
    def is_evidence(self) -> bool:
        return self in EVIDENCE_OUTCOMES

    @property
    def is_platform_answer(self) -> bool:
        """What a source (platform, bridge, host) did: counted in source health and backoff."""
        return self is not Outcome.REFUSED


# How a check ended, as the dashboard, notifications and the demo say it.
OUTCOME_LABELS: dict[str, str] = {
    Outcome.OK: "成功",
    Outcome.NO_CONTENT: "无内容",
    Outcome.NOT_FOUND: "账号不存在",
    Outcome.RESTRICTED: "平台限制",
    Outcome.BLOCKED: "被拦截",
    Outcome.RATE_LIMITED: "限流",
    Outcome.AUTH_ERROR: "鉴权失败",
    Outcome.TRANSIENT: "临时故障",
    Outcome.PARSE_ERROR: "解析失败",
    Outcome.REFUSED: "地址被拒绝",
}

EVIDENCE_OUTCOMES: frozenset[Outcome] = frozenset(
    {Outcome.OK, Outcome.NO_CONTENT, Outcome.NOT_FOUND, Outcome.RESTRICTED}
)
FAILED_OUTCOMES: frozenset[Outcome] = frozenset(set(Outcome) - EVIDENCE_OUTCOMES)


class State(StrEnum):
    """The verdict on an account at a date."""

    ACTIVE = "active"
    WARNING = "warning"
    ZOMBIE = "zombie"
    SUSPENDED = "suspended"
    CANCELLED = "cancelled"
    UNKNOWN = "unknown"


STATE_LABELS: dict[State, str] = {
    State.ACTIVE: "正常",
    State.WARNING: "即将超期",
    State.ZOMBIE: "僵尸",
    State.SUSPENDED: "停运未注销",
    State.CANCELLED: "已注销",
    State.UNKNOWN: "未检测",
}

# The official notice's 问题类别 for a zombie, by platform.
ZOMBIE_LABELS: dict[Platform, str] = {
    Platform.WECHAT: "僵尸微信",
    Platform.WEIBO: "僵尸微博",
}
ZOMBIE_LABEL_OTHER = "僵尸账号"
UNKNOWN_FAILED_LABEL = "采集失败"


def state_label(state: State, platform: Platform, *, ever_checked: bool = False) -> str:
    """The Chinese label of a state as the notice and the dashboard write it."""
    if state is State.ZOMBIE:
        return ZOMBIE_LABELS.get(platform, ZOMBIE_LABEL_OTHER)
    if state is State.UNKNOWN and ever_checked:
        return UNKNOWN_FAILED_LABEL
    return STATE_LABELS[state]


# Not frozen: built once per account per verdict listing (100,000 at a time),
# and frozen dataclasses are several times slower to construct. Treat as read-only.
@dataclass(slots=True)
class Observation:
    """One check of one account: what a source (or an inspector) saw, and when.

    Times are timezone-aware. `account` is the account's stable id in the store
    (0 while the observation is not yet attached to a stored account).
    """

    account: int
    observed_at: datetime
    source: str
    outcome: Outcome
    latest_post_at: datetime | None = None
    post_id: str | None = None
    post_url: str | None = None
    post_title: str | None = None
    detail: str | None = None
    # The first day a scan covered when it found no post at all (WeChat datacube):
    # the latest post is earlier than this day.
    silent_since: date | None = None
    # What the platform says about the account (screen_name, verified, ...).
    profile: dict[str, Any] | None = None
    retry_after: float | None = None
    id: int | None = None
    # `detail` as a message code and its parameters (see `monitor.messages`), so each
    # reader gets it in their own language; None while a source writes free text only.
    detail_code: str | None = None
    detail_params: dict[str, Any] | None = None

    @property
    def is_evidence(self) -> bool:
        return self.outcome.is_evidence


@dataclass(slots=True)
class Evidence:
    """The observation a verdict rests on, as shown to a reader."""

    observation_id: int | None
    observed_at: datetime
    source: str
    outcome: Outcome
    url: str | None = None
    title: str | None = None


@dataclass(slots=True)
class Verdict:
    """The state of one account at one date, with why and on what evidence."""

    state: State
    label: str
    reason: str
    as_of: date
    latest_post_at: datetime | None = None
    latest_post_date: date | None = None
    silent_since: date | None = None
    days_silent: int | None = None
    no_content: bool = False
    evidence: Evidence | None = None
    roster_problem: str | None = None
    # `reason` and `roster_problem` as message codes with parameters (`monitor.messages`);
    # the texts above are their English wording, kept for the JSON outputs.
    reason_code: str = ""
    reason_params: dict[str, Any] | None = None
    roster_problem_code: str | None = None


class MessageCode(StrEnum):
    """Stable codes of the messages a reader sees: verdict reasons, check details, findings.

    `monitor.messages` words each one in Chinese and English; a test renders them all.
    """

    # Verdict reasons (classification rules 1-9 and the statuses around them).
    ROSTER_CANCELLED = "verdict.roster_cancelled"
    NO_SOURCE = "verdict.no_source"
    NEVER_CHECKED = "verdict.never_checked"
    NEVER_CHECKED_SUCCESSFULLY = "verdict.never_checked_successfully"
    EVIDENCE_STALE = "verdict.evidence_stale"
    NOT_FOUND = "verdict.not_found"
    RESTRICTED = "verdict.restricted"
    ROSTER_STOPPED = "verdict.roster_stopped"
    NO_CONTENT = "verdict.no_content"
    NO_POST_DATE = "verdict.no_post_date"
    SUSPENDED_LAST_POST = "verdict.suspended.last_post"
    SUSPENDED_NO_POST_SINCE = "verdict.suspended.no_post_since"
    ZOMBIE_LAST_POST = "verdict.zombie.last_post"
    ZOMBIE_NO_POST_SINCE = "verdict.zombie.no_post_since"
    WARNING_LAST_POST = "verdict.warning.last_post"
    WARNING_NO_POST_SINCE = "verdict.warning.no_post_since"
    ACTIVE_LAST_POST = "verdict.active.last_post"
    ACTIVE_NO_POST_SINCE = "verdict.active.no_post_since"
    # Roster problems (a report's 名单问题).
    MISSING_ON_PLATFORM = "roster.missing_on_platform"
    NOT_VERIFIED = "roster.not_verified"
    NAME_DIFFERS = "roster.name_differs"
    URL_REFUSED = "roster.url_refused"
    # Details of checks: the monitor's own, then every detail an adapter writes.
    ADAPTER_ERROR = "check.adapter_error"
    POST_DATE_OUT_OF_RANGE = "check.post_date_out_of_range"
    WITH_BODY = "check.with_body"
    PARTS = "check.parts"
    STEP = "check.step"
    STEP_HTTP = "check.step_http"
    HTTP_TIMEOUT = "check.http_timeout"
    TIMED_OUT = "check.timed_out"
    INVALID_URL = "check.invalid_url"
    CONNECTION_FAILED = "check.connection_failed"
    REFUSED_OTHER = "check.refused_other"
    # The outbound guard's reasons (adapters/netguard.py, adapters/transport.py).
    GUARD_ADDRESS_KIND = "guard.address_kind"
    GUARD_TEREDO = "guard.teredo"
    GUARD_EMBEDDED = "guard.embedded"
    GUARD_METADATA = "guard.metadata"
    GUARD_LINK_LOCAL = "guard.link_local_metadata"
    GUARD_REFUSED_HOST = "guard.refused_host"
    GUARD_UNREADABLE_PEER = "guard.unreadable_peer"
    GUARD_REBINDING = "guard.rebinding"
    GUARD_NOT_ABSOLUTE = "guard.not_absolute"
    GUARD_SCHEME = "guard.scheme"
    GUARD_UNREADABLE_RESOLVED = "guard.unreadable_resolved"
    GUARD_RESOLVES_TO = "guard.resolves_to"
    GUARD_UNIX_SOCKET = "guard.unix_socket"
    # The feed source (adapters/feed.py).
    FEED_UNEXPECTED = "feed.unexpected"
    FEED_NO_URL = "feed.no_url"
    FEED_REDIRECT_REFUSED = "feed.redirect_refused"
    FEED_REDIRECT_NO_LOCATION = "feed.redirect_no_location"
    FEED_TOO_MANY_REDIRECTS = "feed.too_many_redirects"
    FEED_HTTP = "feed.http"
    FEED_ROUTE_MISSING = "feed.route_missing"
    FEED_WANTS_CREDENTIALS = "feed.wants_credentials"
    FEED_ACCESS_REFUSED = "feed.access_refused"
    FEED_UNEXPECTED_STATUS = "feed.unexpected_status"
    FEED_TOO_LARGE = "feed.too_large"
    FEED_304_NOTHING_STORED = "feed.not_modified_nothing_stored"
    FEED_NOT_MODIFIED = "feed.not_modified"
    FEED_LOGIN_PAGE = "feed.login_page"
    FEED_HTML_PAGE = "feed.html_page"
    FEED_BAD_JSON = "feed.bad_json"
    FEED_NOT_JSON_FEED = "feed.not_json_feed"
    FEED_JSON_NO_ITEMS = "feed.json_no_items"
    FEED_NOT_A_FEED = "feed.not_a_feed"
    FEED_UNKNOWN_FORMAT = "feed.unknown_format"
    FEED_NOT_WELL_FORMED = "feed.not_well_formed"
    FEED_NO_ENTRIES = "feed.no_entries"
    FEED_NO_DATES = "feed.no_dates"
    FEED_ENTRIES = "feed.entries"
    # The wechat_api source (adapters/wechat.py).
    WECHAT_UNEXPECTED = "wechat.unexpected"
    WECHAT_NO_APPID = "wechat.no_appid"
    WECHAT_NO_SECRET_ENV = "wechat.no_secret_env"
    WECHAT_SECRET_UNSET = "wechat.secret_unset"
    WECHAT_NOT_READY = "wechat.not_ready"
    WECHAT_NO_DATACUBE = "wechat.no_datacube"
    WECHAT_BEFORE_REACH = "wechat.before_reach"
    WECHAT_ENDPOINT_REFUSED = "wechat.endpoint_refused"
    WECHAT_BOTH_REFUSED = "wechat.both_refused"
    WECHAT_HTTP_429 = "wechat.http_429"
    WECHAT_HTTP = "wechat.http"
    WECHAT_IP_WHITELIST = "wechat.ip_whitelist"
    WECHAT_AUTH = "wechat.auth"
    WECHAT_QUOTA = "wechat.quota"
    WECHAT_BUSY = "wechat.busy"
    WECHAT_ERRCODE = "wechat.errcode"
    WECHAT_UNEXPECTED_RESPONSE = "wechat.unexpected_response"
    WECHAT_UNEXPECTED_ERROR = "wechat.unexpected_error"
    WECHAT_TOKEN_NOT_JSON = "wechat.token_not_json"
    WECHAT_TOKEN_NOT_OBJECT = "wechat.token_not_object"
    WECHAT_TOKEN_MISSING = "wechat.token_missing"
    WECHAT_TOO_LARGE = "wechat.too_large"
    WECHAT_DAY_NO_LIST = "wechat.day_no_list"
    WECHAT_DAY_NOT_ARTICLE = "wechat.day_not_article"
    WECHAT_DAY_OTHER_DATE = "wechat.day_other_date"
    WECHAT_FP_NO_LIST = "wechat.freepublish_no_list"
    WECHAT_FP_NOT_OBJECT = "wechat.freepublish_not_object"
    WECHAT_FP_NO_TIME = "wechat.freepublish_no_time"
    WECHAT_LATEST = "wechat.latest"
    WECHAT_NO_POST = "wechat.no_post"
    WECHAT_SCOPE = "wechat.scope"
    WECHAT_SCOPE_FALLBACK = "wechat.scope_fallback"
    WECHAT_SCOPE_GAP = "wechat.scope_gap"
    # The weibo source (adapters/weibo.py, weibo_dates.py, weibo_visitor.py).
    WEIBO_UNEXPECTED = "weibo.unexpected"
    WEIBO_PROFILE = "weibo.profile"
    WEIBO_TIMELINE_PAGE = "weibo.timeline_page"
    WEIBO_NOT_UID = "weibo.not_uid"
    WEIBO_NO_CARDS = "weibo.no_cards"
    WEIBO_PAGE_ERROR = "weibo.page_error"
    WEIBO_CARD_NOT_OBJECT = "weibo.card_not_object"
    WEIBO_MBLOG_NOT_OBJECT = "weibo.mblog_not_object"
    WEIBO_NO_CREATED_AT = "weibo.no_created_at"
    WEIBO_NO_POST_ID = "weibo.no_post_id"
    WEIBO_TIME_FORM = "weibo.time_form"
    WEIBO_BAD_DATE = "weibo.bad_date"
    WEIBO_BAD_DATE_WHY = "weibo.bad_date_why"
    WEIBO_BAD_TIME = "weibo.bad_time"
    WEIBO_BAD_MONTH = "weibo.bad_month"
    WEIBO_WALL_COOKIE_REFUSED = "weibo.wall_cookie_refused"
    WEIBO_WALL_NO_AUTO = "weibo.wall_no_auto"
    WEIBO_WALL_AGAIN = "weibo.wall_again"
    WEIBO_WALL_VISITOR_FAILED = "weibo.wall_visitor_failed"
    WEIBO_WALL_REDIRECT = "weibo.wall_redirect"
    WEIBO_WALL_OK_100 = "weibo.wall_ok_100"
    WEIBO_RATE = "weibo.rate"
    WEIBO_REDIRECT = "weibo.redirect"
    WEIBO_401 = "weibo.http_401"
    WEIBO_REFUSED = "weibo.access_refused"
    WEIBO_404 = "weibo.http_404"
    WEIBO_TOO_LARGE = "weibo.too_large"
    WEIBO_HTML = "weibo.html"
    WEIBO_BAD_JSON = "weibo.bad_json"
    WEIBO_NOT_OBJECT = "weibo.not_object"
    WEIBO_CAPTCHA = "weibo.captcha"
    WEIBO_NO_USERINFO = "weibo.no_userinfo"
    WEIBO_PROFILE_REFUSAL = "weibo.profile_refusal"
    WEIBO_GONE = "weibo.gone"
    WEIBO_PROFILE_UNKNOWN = "weibo.profile_unknown"
    WEIBO_TIMELINE_REFUSAL = "weibo.timeline_refusal"
    WEIBO_TIMELINE_FIRST_PAGE = "weibo.timeline_first_page"
    WEIBO_GUESSED_EMPTY = "weibo.guessed_empty"
    WEIBO_GUESSED_CONTAINER = "weibo.guessed_container"
    WEIBO_NO_CONTENT = "weibo.no_content"
    WEIBO_HIDDEN = "weibo.hidden"
    WEIBO_POSTS_READ = "weibo.posts_read"
    WEIBO_POSTS_READ_PINNED = "weibo.posts_read_pinned"
    WEIBO_LATEST_PINNED = "weibo.latest_pinned"
    WEIBO_KEPT_CONTAINER = "weibo.kept_container"
    VISITOR_TOO_LARGE = "weibo.visitor.too_large"
    VISITOR_NOT_JSONP = "weibo.visitor.not_jsonp"
    VISITOR_RETCODE = "weibo.visitor.retcode"
    VISITOR_NO_DATA = "weibo.visitor.no_data"
    VISITOR_NO_TID = "weibo.visitor.no_tid"
    VISITOR_NO_SUB = "weibo.visitor.no_sub"
    VISITOR_QUIET = "weibo.visitor.quiet"
    VISITOR_WALL_STAYED = "weibo.visitor.wall_stayed"
    # Government websites (monitor/checks/site_fetch.py, monitor/checks/sites.py).
    SITE_HTTP = "site.http"
    SITE_TOO_LARGE = "site.too_large"
    SITE_TOO_MANY_REDIRECTS = "site.too_many_redirects"
    SITE_ROBOTS_UNREACHABLE = "site.robots_unreachable"
    SITE_ROBOTS_DISALLOWS = "site.robots_disallows"
    SITE_LINKS_CHECKED = "site.links_checked"


@dataclass(frozen=True, slots=True)
class RosterFacts:
    """What the roster in force at the as-of date says about one account."""

    platform: Platform
    status: RosterStatus = RosterStatus.OPERATING


@dataclass(slots=True)
class AccountView:
    """An account with its roster fields in force at some moment."""

    id: int
    platform: Platform
    account_id: str
    name: str
    unit: str
    unit_id: int
    region: str
    status: RosterStatus
    roster_order: int
    supervisor: str = ""
    contact: str = ""
    note: str = ""
    source: str = ""
    feed_url: str = ""
    appid: str = ""
    secret_env: str = ""
    retired: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


# -- government websites ------------------------------------------------------------------


class ColumnKind(StrEnum):
    """A website column's type (栏目类型); each but `other` has an update window."""

    NEWS = "news"
    NOTICES = "notices"
    POLICIES = "policies"
    PERSONNEL = "personnel"
    PLANS = "plans"
    OTHER = "other"

    @property
    def label(self) -> str:
        return COLUMN_KIND_LABELS[self]


COLUMN_KIND_LABELS: dict[ColumnKind, str] = {
    ColumnKind.NEWS: "动态要闻",
    ColumnKind.NOTICES: "通知公告",
    ColumnKind.POLICIES: "政策文件",
    ColumnKind.PERSONNEL: "人事信息",
    ColumnKind.PLANS: "规划计划",
    ColumnKind.OTHER: "其他",
}


class SiteVerdict(StrEnum):
    """A website's verdict as the notice gives it; `unknown` until a fetch succeeded."""

    PASS = "pass"
    ISSUES = "issues"
    FAIL = "fail"
    UNKNOWN = "unknown"

    @property
    def label(self) -> str:
        return SITE_VERDICT_LABELS[self]


SITE_VERDICT_LABELS: dict[SiteVerdict, str] = {
    SiteVerdict.PASS: "合格",
    SiteVerdict.ISSUES: "存在问题",
    SiteVerdict.FAIL: "不合格",
    SiteVerdict.UNKNOWN: "未检测",
}


class SiteTarget(StrEnum):
    """What one site observation fetched."""

    HOMEPAGE = "homepage"
    COLUMN = "column"
    LINK = "link"
    PROBE = "probe"
