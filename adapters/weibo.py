"""The `weibo` source: Weibo's mobile visitor API (m.weibo.cn `getIndex`), no credentials.

Two calls at least: the profile (`type=uid&value=UID`) gives `userInfo` and the
timeline container id (the tab with `tab_type == "weibo"`); the timeline
(`&containerid=...`, `&page=N`) gives post cards. The latest post is the max
`created_at` over every post seen, pinned ones included.

Paging stops at `weibo.max_pages`, at a page without posts or with `ok: 0`, and
as soon as a page holds a non-pinned post: the timeline is newest-first below
the pinned posts, so later pages cannot hold anything newer.

If the profile has `userInfo` but no `weibo` tab, the container id falls back to
`107603` + UID and the observation's detail says so.

The container the profile named is kept in the adapter state, and for
`weibo.profile_every_days` after that profile call a check goes straight to the
timeline: one request instead of two. That shortcut only ever ends a check with
a recent post (newer than the policy's warning boundary) or with a failed
request. Any other answer (ok:0, an empty page, a refusal, only old posts) is not
judged without a profile call in the same check, since the account may have
been deleted or restricted meanwhile; if the profile names the same container,
the page already read is used. Profile fields then come from the posts' `user`.

The visitor wall (a redirect to the visitor system or `ok: -100`): with
`weibo.visitor = "auto"` and no `weibo.cookie`, the adapter gets a visitor cookie
(`adapters.weibo_visitor`), keeps it in memory and asks again once; a configured
`weibo.cookie` always wins. A wall it cannot pass is a `blocked` check whose
detail names the setting to fill.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

from adapters._http import (
    Fetched,
    FetchFailure,
    fetch,
    looks_like_html,
    retry_after,
    status_outcome,
)
from adapters.base import AdapterContext, CheckResult, CheckTarget, Manifest, failed, observation
from adapters.weibo_dates import parse_weibo_time
from adapters.weibo_visitor import VisitorPass
from monitor.messages import Message, message, parts
from monitor.models import MessageCode as C
from monitor.models import Outcome

SOURCE = "weibo"
MANIFEST = Manifest(
    name=SOURCE,
    label="微博接口",
    priority=10,
    platforms=("weibo",),
    aliases=("微博", "m.weibo.cn"),
    max_concurrent=2,
    rate_per_s=1.0,  # Weibo blocks eagerly (HTTP 418)
    origins=(("weibo.base_url", "/api/"), ("weibo.visitor_url", "/visitor/")),
)
NO_CONTENT_MSG = "这里还没有内容"
PROFILE_KEYS = ("screen_name", "statuses_count", "verified", "verified_type", "verified_reason")
TITLE_CHARS = 60
_TAG = re.compile(r"<[^>]+>")


@dataclass(frozen=True, slots=True)
class Post:
    """One post card's facts."""

    id: str
    created_at: datetime
    text: str
    pinned: bool
    # The post's `mblog.user`: the author's profile fields, as fresh as the post list.
    user: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class _ProfileRead:
    """What this check's profile call said."""

    fields: dict[str, Any]
    statuses: Any
    # Non-empty when the profile named no `weibo` tab and the container was guessed.
    note: Message | str


@dataclass(frozen=True, slots=True)
class _Wall:
    """The visitor wall: an answer a visitor cookie may get past."""

    detail: Message
    body: bytes | None = None


class WeiboAdapter:
    """Checks Weibo accounts through the mobile visitor API."""

    name = SOURCE

    def __init__(self) -> None:
        # The visitor cookie, in memory only and shared by this instance's checks.
        self.visitor = VisitorPass()

    async def check(self, target: CheckTarget, ctx: AdapterContext) -> CheckResult:
        now = ctx.clock()
        try:
            return await _Check(target, ctx, now, self.visitor).run()
        except Exception as exc:  # last-resort funnel: an adapter never raises
            return failed(
                target,
                ctx,
                SOURCE,
                Outcome.PARSE_ERROR,
                message(C.WEIBO_UNEXPECTED, error_type=type(exc).__name__, error=str(exc)),
                observed_at=now,
            )


ADAPTER = WeiboAdapter


class _Check:
    """One check of one account; methods return a value or a finished CheckResult."""

    def __init__(
        self, target: CheckTarget, ctx: AdapterContext, now: datetime, visitor: VisitorPass
    ):
        self.target = target
        self.ctx = ctx
        self.now = now
        self.visitor = visitor
        # The visitor cookie the last request carried, and whether this check renewed it.
        self.sent_visitor_cookie: str | None = None
        self.renewed = False
        self.uid = target.account_id.strip()
        self.base = ctx.settings.weibo.base_url.rstrip("/")
        # Posts read from a kept container that look silent: (container, posts),
        # judged only once this check's profile call confirms the account.
        self.unconfirmed: tuple[str, list[Post]] | None = None

    def fail(self, outcome: Outcome, detail: Message, **kw: Any) -> CheckResult:
        return failed(self.target, self.ctx, SOURCE, outcome, detail, observed_at=self.now, **kw)

    def evidence(
        self, outcome: Outcome, detail: Message, state: dict[str, Any] | None = None, **fields: Any
    ) -> CheckResult:
        """Evidence about the account; the kept state is dropped unless `state` is given."""
        obs = observation(self.target, self.now, SOURCE, outcome, detail, **fields)
        return CheckResult(obs, state or {})

    async def run(self) -> CheckResult:
        if not self.uid.isdigit():
            return self.fail(Outcome.PARSE_ERROR, message(C.WEIBO_NOT_UID, uid=self.uid))
        known = self.known_container()
        if known is not None:
            quick = await self.timeline(known, None)
            if quick is not None:
                return quick
        profile_body = await self.get_json(
            {"type": "uid", "value": self.uid}, message(C.WEIBO_PROFILE)
        )
        if isinstance(profile_body, CheckResult):
            return profile_body
        user = _dig(profile_body, "data", "userInfo")
        if not _ok_is(profile_body, 1) or not isinstance(user, dict):
            return self.profile_refusal(profile_body)
        container, note = _timeline_container(profile_body, self.uid)
        read = _ProfileRead(_profile_fields(user), user.get("statuses_count"), note)
        if self.unconfirmed is not None and self.unconfirmed[0] == container and not note:
            # The page read before the profile came from the container the profile
            # names: it is this check's timeline, now with the profile's word.
            return self.ok(self.unconfirmed[1], read, container)
        result = await self.timeline(container, read)
        assert result is not None  # with a profile read, every answer is judged
        return result

    def known_container(self) -> str | None:
        """The timeline container a profile call named within `profile_every_days`, if any."""
        every = self.ctx.settings.weibo.profile_every_days
        state = self.target.state
        container, read_at = state.get("container"), state.get("profile_at")
        if every <= 0 or not isinstance(container, str) or not container.isdigit():
            return None
        try:
            age = self.now - datetime.fromisoformat(read_at) if isinstance(read_at, str) else None
        except (ValueError, TypeError):  # unparsable, or naive against aware
            return None
        if age is None or not timedelta(0) <= age < timedelta(days=every):
            return None
        return container

    async def timeline(self, container: str, read: _ProfileRead | None) -> CheckResult | None:
        """Read the timeline; without this check's profile (`read` None), None when unclear."""
        posts: list[Post] = []
        for page in range(1, self.ctx.settings.weibo.max_pages + 1):
            params = {"type": "uid", "value": self.uid, "containerid": container}
            if page > 1:
                params["page"] = str(page)
            body = await self.get_json(params, message(C.WEIBO_TIMELINE_PAGE, page=page))
            if isinstance(body, CheckResult):
                return body
            if not _ok_is(body, 1):
                if page > 1:
                    break  # later pages end with ok:0; what we have is the answer
                return self.first_page_refusal(body, read)
            cards = _dig(body, "data", "cards")
            if not isinstance(cards, list):
                if read is None:
                    return None  # an unexpected shape from a kept container: ask the profile
                return self.fail(Outcome.PARSE_ERROR, message(C.WEIBO_NO_CARDS), body=_dumps(body))
            try:
                page_posts = list(_posts(cards, self.now))
            except (ValueError, TypeError, KeyError) as exc:
                why = exc.args[0] if exc.args and isinstance(exc.args[0], Message) else str(exc)
                return self.fail(
                    Outcome.PARSE_ERROR, message(C.WEIBO_PAGE_ERROR, page=page, error=why)
                )
            if not page_posts:
                if page == 1:
                    # ok:1 with no post at all is not the platform's 这里还没有内容:
                    # only an explicit statuses_count of 0 makes it 无内容.
                    return self.empty_timeline(read, explicit=True)
                break
            posts.extend(page_posts)
            if any(not p.pinned for p in page_posts):
                break
        if not posts:
            return self.empty_timeline(read)
        if read is None and self.looks_silent(posts):
            self.unconfirmed = (container, posts)
            return None
        return self.ok(posts, read, container)

    def looks_silent(self, posts: list[Post]) -> bool:
        """The newest post is old enough for a warning or worse under the policy.

        Such a verdict names a unit, so it is never drawn without this check's
        profile call: the account may have been deleted or restricted meanwhile.
        """
        warning_before = self.ctx.warning_before
        if warning_before is None:
            return True  # no boundary given: never skip the profile
        newest = max(p.created_at for p in posts)
        return min(newest, self.now).astimezone(self.ctx.settings.tz).date() < warning_before

    async def get_json(self, params: dict[str, str], what: Message) -> dict[str, Any] | CheckResult:
        """One API call: the JSON object, or the failed result the response amounts to."""
        url = f"{self.base}/api/container/getIndex?{_query(params)}"
        answer = await self.get_once(url, what)
        return await self.past_wall(url, what, answer) if isinstance(answer, _Wall) else answer

    async def past_wall(self, url: str, what: Message, wall: _Wall) -> dict[str, Any] | CheckResult:
        """Ask again with a (new) visitor cookie when the settings allow; else `blocked`."""
        weibo = self.ctx.settings.weibo
        if self.configured_cookie():
            detail = message(C.WEIBO_WALL_COOKIE_REFUSED, wall=wall.detail)
            return self.fail(Outcome.BLOCKED, detail, body=wall.body)
        if weibo.visitor != "auto":
            detail = message(C.WEIBO_WALL_NO_AUTO, wall=wall.detail)
            return self.fail(Outcome.BLOCKED, detail, body=wall.body)
        if self.renewed:
            return self.fail(Outcome.BLOCKED, message(C.WEIBO_WALL_AGAIN, wall=wall.detail))
        self.renewed = True
        cookie, why = await self.visitor.renew(self.ctx, self.sent_visitor_cookie)
        if cookie is None:
            detail = message(C.WEIBO_WALL_VISITOR_FAILED, wall=wall.detail, why=why)
            return self.fail(Outcome.BLOCKED, detail)
        again = await self.get_once(url, what)
        if isinstance(again, _Wall):
            self.visitor.quiet(message(C.VISITOR_WALL_STAYED))
            return self.fail(Outcome.BLOCKED, message(C.WEIBO_WALL_AGAIN, wall=again.detail))
        return again

    async def get_once(self, url: str, what: Message) -> dict[str, Any] | CheckResult | _Wall:
        http = self.ctx.settings.http
        got = await fetch(
            self.ctx.http,
            url,
            headers=self.headers(),
            timeout=http.timeout_s,
            max_bytes=http.max_body_bytes,
        )
        if isinstance(got, FetchFailure):
            outcome = Outcome.PARSE_ERROR if got.invalid_url else Outcome.TRANSIENT
            return self.fail(outcome, message(C.STEP, what=what, detail=got.detail))
        return self.read_json(got, what)

    def read_json(self, got: Fetched, what: Message) -> dict[str, Any] | CheckResult | _Wall:
        status = got.status
        outcome = status_outcome(status)
        if outcome is Outcome.RATE_LIMITED:
            return self.fail(
                Outcome.RATE_LIMITED,
                message(C.WEIBO_RATE, what=what, status=status),
                retry_after=retry_after(got.headers, self.now),
            )
        if outcome is Outcome.TRANSIENT:
            return self.fail(
                Outcome.TRANSIENT, message(C.STEP_HTTP, what=what, status=status), body=got.body
            )
        if 300 <= status < 400:
            where = got.headers.get("location", "?")
            if _is_visitor_system(where):
                page = urlsplit(where)._replace(query="", fragment="").geturl()
                return _Wall(message(C.WEIBO_WALL_REDIRECT, what=what, page=page))
            return self.fail(Outcome.BLOCKED, message(C.WEIBO_REDIRECT, what=what, location=where))
        if status == 401:  # the visitor API has no credentials to ask for: a login wall
            return self.fail(Outcome.BLOCKED, message(C.WEIBO_401, what=what))
        if outcome is not None:
            return self.fail(
                outcome, message(C.WEIBO_REFUSED, what=what, status=status), body=got.body
            )
        if status == 404:
            # m.weibo.cn answers unknown users with ok:0 in a 200; a 404 means the endpoint
            # (or base_url) is wrong, which says nothing about the account.
            return self.fail(Outcome.PARSE_ERROR, message(C.WEIBO_404, what=what))
        if status != 200:
            return self.fail(
                Outcome.PARSE_ERROR, message(C.STEP_HTTP, what=what, status=status), body=got.body
            )
        if got.too_large:
            return self.fail(Outcome.PARSE_ERROR, message(C.WEIBO_TOO_LARGE, what=what))
        if looks_like_html(got.body):
            return self.fail(Outcome.BLOCKED, message(C.WEIBO_HTML, what=what), body=got.body)
        try:
            body = json.loads(got.body)
        except ValueError as exc:
            return self.fail(
                Outcome.PARSE_ERROR,
                message(C.WEIBO_BAD_JSON, what=what, error=str(exc)),
                body=got.body,
            )
        if not isinstance(body, dict):
            return self.fail(
                Outcome.PARSE_ERROR, message(C.WEIBO_NOT_OBJECT, what=what), body=got.body
            )
        if _ok_is(body, -100):
            return _Wall(message(C.WEIBO_WALL_OK_100, what=what), got.body)
        if "url" in body and "data" not in body:
            return self.fail(Outcome.BLOCKED, message(C.WEIBO_CAPTCHA, what=what), body=got.body)
        return body

    def headers(self) -> dict[str, str]:
        out = {
            "User-Agent": self.ctx.settings.http.user_agent,
            "Referer": f"https://m.weibo.cn/u/{self.uid}",
            "Accept": "application/json, text/plain, */*",
            "X-Requested-With": "XMLHttpRequest",
            "MWeibo-Pwa": "1",
        }
        cookie = self.configured_cookie()
        self.sent_visitor_cookie = None
        if cookie is None and self.ctx.settings.weibo.visitor == "auto":
            cookie = self.sent_visitor_cookie = self.visitor.cookie
        if cookie:
            out["Cookie"] = cookie
        return out

    def configured_cookie(self) -> str | None:
        cookie = self.ctx.settings.weibo.cookie
        return (
            cookie.get_secret_value() if cookie is not None and cookie.get_secret_value() else None
        )

    def profile_refusal(self, body: dict[str, Any]) -> CheckResult:
        """The profile call did not give userInfo: say what the platform meant."""
        msg = str(body.get("msg") or "")
        if _ok_is(body, 1):
            return self.fail(Outcome.PARSE_ERROR, message(C.WEIBO_NO_USERINFO), body=_dumps(body))
        refusal = _refusal(msg)
        if refusal is not None:
            outcome, why = refusal
            detail = message(C.WEIBO_PROFILE_REFUSAL, why=why, msg=msg)
            if outcome is Outcome.RESTRICTED:
                return self.evidence(outcome, detail)
            return self.fail(outcome, detail, body=_dumps(body))
        # "Account gone" is evidence that names a unit: only the platform's own
        # ok:0 with a missing-user message counts; anything else is unreadable.
        if _ok_is(body, 0) and any(marker in msg for marker in MISSING_USER_MARKERS):
            return self.evidence(Outcome.NOT_FOUND, message(C.WEIBO_GONE, msg=msg))
        return self.fail(Outcome.PARSE_ERROR, message(C.WEIBO_PROFILE_UNKNOWN), body=_dumps(body))

    def first_page_refusal(
        self, body: dict[str, Any], read: _ProfileRead | None
    ) -> CheckResult | None:
        msg = str(body.get("msg") or "")
        refusal = _refusal(msg)
        if refusal is not None and refusal[0] is not Outcome.RESTRICTED:
            detail = message(C.WEIBO_TIMELINE_REFUSAL, why=refusal[1], msg=msg)
            return self.fail(refusal[0], detail, body=_dumps(body))
        if read is None:
            return None  # 无内容, gone, restricted or a moved container: the profile tells
        if msg == NO_CONTENT_MSG and _ok_is(body, 0):
            return self.empty_timeline(read)
        detail = message(C.WEIBO_TIMELINE_FIRST_PAGE, ok=str(body.get("ok")), msg=msg)
        return self.fail(Outcome.PARSE_ERROR, detail, body=_dumps(body))

    def empty_timeline(
        self, read: _ProfileRead | None, *, explicit: bool = False
    ) -> CheckResult | None:
        """No posts on page 1: 无内容 only when the profile agrees the account never posted.

        A guessed timeline container (the profile had no `weibo` tab) proves nothing:
        an empty answer may just be the wrong container. With `explicit`, a missing
        statuses_count is not agreement either. Without this check's profile: None.
        """
        if read is None:
            return None
        statuses, note = read.statuses, read.note
        if note:
            return self.fail(Outcome.PARSE_ERROR, parts(message(C.WEIBO_GUESSED_EMPTY), note))
        if statuses in ((0, "0") if explicit else (0, "0", None)):
            detail = parts(message(C.WEIBO_NO_CONTENT, statuses=str(statuses)), note)
            return self.evidence(Outcome.NO_CONTENT, detail, profile=read.fields)
        # Posts exist but a visitor cannot see them (visibility limited to recent
        # months, or a wall): never report that as silence.
        return self.fail(
            Outcome.BLOCKED, parts(message(C.WEIBO_HIDDEN, statuses=str(statuses)), note)
        )

    def ok(self, posts: list[Post], read: _ProfileRead | None, container: str) -> CheckResult:
        latest = max(posts, key=lambda p: p.created_at)
        pinned = sum(p.pinned for p in posts)
        state: dict[str, Any]
        profile: dict[str, Any] | None
        note: Message | str
        if read is not None:
            profile, note = read.fields, read.note
            # A container the profile named is kept for the next checks; a guessed one is not.
            state = (
                {}
                if note
                else {
                    "container": container,
                    "profile_at": self.now.isoformat(),
                    "profile": profile,
                }
            )
        else:
            state = dict(self.target.state)
            kept = state.get("profile")
            profile = self.own_profile(posts) or (kept if isinstance(kept, dict) else None)
            read_at = datetime.fromisoformat(str(state["profile_at"])).astimezone(UTC)
            note = message(
                C.WEIBO_KEPT_CONTAINER, container=container, read_at=f"{read_at:%Y-%m-%d %H:%M}"
            )
        read_count = (
            message(C.WEIBO_POSTS_READ_PINNED, posts=len(posts), pinned=pinned)
            if pinned
            else message(C.WEIBO_POSTS_READ, posts=len(posts))
        )
        detail = parts(read_count, message(C.WEIBO_LATEST_PINNED) if latest.pinned else "", note)
        return self.evidence(
            Outcome.OK,
            detail,
            state,
            latest_post_at=latest.created_at,
            post_id=latest.id,
            post_url=f"https://m.weibo.cn/detail/{latest.id}",
            post_title=_title(latest.text),
            profile=profile,
        )

    def own_profile(self, posts: list[Post]) -> dict[str, Any] | None:
        """The profile fields of the account's own posts' `user`, newest post first."""
        for post in sorted(posts, key=lambda p: p.created_at, reverse=True):
            if post.user is not None and str(post.user.get("id")) == self.uid:
                return _profile_fields(post.user)
        return None


# What the visitor API says for a UID with no account behind it.
MISSING_USER_MARKERS = ("用户不存在", "不存在", "已注销", NO_CONTENT_MSG)


def _is_visitor_system(location: str) -> bool:
    """A redirect to Sina's visitor or passport system (the wall), not elsewhere."""
    try:
        parts = urlsplit(location)
    except ValueError:
        return False
    return "passport." in (parts.hostname or "") or parts.path.startswith("/visitor/")


def _profile_fields(user: dict[str, Any]) -> dict[str, Any]:
    return {k: user[k] for k in PROFILE_KEYS if k in user}


def _ok_is(body: dict[str, Any], value: int) -> bool:
    """The body's `ok` is exactly this integer (not True, "1" or null)."""
    ok = body.get("ok")
    return type(ok) is int and ok == value


def _refusal(msg: str) -> tuple[Outcome, str] | None:
    # The English phrases are terms of `weibo.profile_refusal` (worded in Chinese there).
    """What an `ok: 0` message means when it is not about the account's content."""
    if "频繁" in msg:
        return Outcome.RATE_LIMITED, "too many requests"
    if "登录" in msg or "验证" in msg:
        return Outcome.BLOCKED, "login or verification required"
    if "繁忙" in msg or "稍后" in msg:
        return Outcome.TRANSIENT, "platform busy"
    if any(word in msg for word in ("封禁", "冻结", "违反", "屏蔽")):
        return Outcome.RESTRICTED, "platform says the account is restricted"
    return None


def _timeline_container(body: dict[str, Any], uid: str) -> tuple[str, Message | str]:
    """The containerid of the `weibo` tab, else the historical 107603+UID with a note."""
    tabs = _dig(body, "data", "tabsInfo", "tabs")
    if isinstance(tabs, list):
        for tab in tabs:
            if isinstance(tab, dict) and tab.get("tab_type") == "weibo" and tab.get("containerid"):
                return str(tab["containerid"]), ""
    guess = f"107603{uid}"
    return guess, message(C.WEIBO_GUESSED_CONTAINER, container=guess)


def _posts(cards: list[Any], now: datetime) -> Iterator[Post]:
    """Every post in a card list: card_type 9 with mblog, recursing into card_group."""
    for card in cards:
        if not isinstance(card, dict):
            raise TypeError(message(C.WEIBO_CARD_NOT_OBJECT, type=type(card).__name__))
        group = card.get("card_group")
        if isinstance(group, list):
            yield from _posts(group, now)
        mblog = card.get("mblog")
        if card.get("card_type") != 9 or mblog is None:
            continue
        if not isinstance(mblog, dict):
            raise TypeError(message(C.WEIBO_MBLOG_NOT_OBJECT))
        created = mblog.get("created_at")
        if not isinstance(created, str):
            raise ValueError(message(C.WEIBO_NO_CREATED_AT, post=str(mblog.get("id"))))
        post_id = str(mblog.get("id") or mblog.get("mid") or "")
        if not post_id:
            raise ValueError(message(C.WEIBO_NO_POST_ID))
        user = mblog.get("user")
        yield Post(
            id=post_id,
            created_at=parse_weibo_time(created, now),
            text=str(mblog.get("text") or ""),
            pinned=_is_pinned(card, mblog),
            user=user if isinstance(user, dict) else None,
        )


def _is_pinned(card: dict[str, Any], mblog: dict[str, Any]) -> bool:
    """Every pinned-post marker Weibo has used."""
    title = mblog.get("title")
    return (
        (isinstance(title, dict) and title.get("text") == "置顶")
        or mblog.get("isTop") in (1, True, "1")
        or mblog.get("mblogtype") == 2
        or str(card.get("profile_type_id") or "").startswith("proweibotop")
    )


def _title(text: str) -> str:
    plain = " ".join(html.unescape(_TAG.sub(" ", text)).split())
    return plain if len(plain) <= TITLE_CHARS else plain[: TITLE_CHARS - 1] + "…"


_PLAIN_VALUE = re.compile(r"[A-Za-z0-9_.\-]*")


def _query(params: dict[str, str]) -> str:
    """The query string of `params` (UIDs and container ids are plain: no quoting needed)."""
    if all(_PLAIN_VALUE.fullmatch(v) for v in params.values()):
        return "&".join(f"{k}={v}" for k, v in params.items())
    return urlencode(params)


def _dig(obj: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False)
