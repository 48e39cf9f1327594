"""The `wechat_api` source: a WeChat official account's own API, with its AppID/AppSecret.

Latest post = the newer of
- `freepublish/batchget` (自由发布 items; `update_time` beside or inside `content`), and
- the incremental datacube scan (a day with articles counts as posted at the start
  of that day), see `adapters.wechat_scan`. A day's articles come from
  `datacube/getarticletotaldetail`, whose `ref_date` is the 发表日期 (群发 and 发布
  alike); when the account may not call it (errcode 48001/50001/50002) from the
  older `datacube/getarticletotal`, whose `ref_date` is the 群发日期. Never from
  `getarticlesummary`: it lists every 群发 article READ on a day, for about a week
  after sending, so a read would pass for a post. Days before
  `wechat.datacube_from` are not scanned (the newer endpoint has no data there),
  and a day the platform marks `is_delay` with no articles yet fails the check
  as transient rather than pass for a quiet day.

wechatpy is synchronous (requests), so a check runs in this adapter's bounded
thread pool (`wechat.worker_threads`); call `close()` at shutdown. Every wechatpy
URL (API base, token, datacube) is pointed at `wechat.api_base_url`. Tokens come
from `/cgi-bin/token` or, with `wechat.token_api = "stable_token"`, from
`/cgi-bin/stable_token` (which leaves the unit's own token alone), and are
cached per AppID across checks in one MemoryStorage owned by the adapter. Answers
are read through `CappedSession`: past `http.max_body_bytes` a check is a parse error.

State kept: `dc_through`, `dc_empty_from`, `dc_floor`, `dc_latest`, `dc_title`,
`dc_msgid`, `dc_url` (the scan), never the secret or a token. Scan state gathered
from `getarticlesummary` by earlier versions is dropped by the store migration
`0009_wechat_scan_by_send_date`.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import requests
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException
from wechatpy.session.memorystorage import MemoryStorage

from adapters._http import connection_failed
from adapters.base import AdapterContext, CheckResult, CheckTarget, Manifest, failed, observation
from adapters.netguard import GuardRefusal, UrlGuard, refusal_message
from adapters.requests_guard import guarding
from adapters.wechat_scan import DEFAULT_MAX_DAYS, ScanState, walk
from monitor.dates import start_of_day
from monitor.messages import Message, message, rewritten
from monitor.models import MessageCode as C
from monitor.models import Outcome

SOURCE = "wechat_api"
MANIFEST = Manifest(
    name=SOURCE,
    label="微信接口",
    priority=20,
    platforms=("wechat",),
    needs=("appid|account_id", "secret_env"),
    aliases=("wechat", "微信接口", "微信API"),
    max_concurrent=5,
    rate_per_s=5.0,  # the API quota is per AppID
    paced_per="check",  # wechatpy makes the calls
    origins=(("wechat.api_base_url", "/"),),
)
TOKEN_PATH = "/cgi-bin/token"
STABLE_TOKEN_PATH = "/cgi-bin/stable_token"
TOKEN_ERRCODES = frozenset({40001, 40014, 42001})
AUTH_ERRCODES = {
    40001: "access token rejected after a refresh",
    40002: "invalid grant type",
    40013: "invalid AppID",
    40014: "access token rejected after a refresh",
    40125: "invalid AppSecret",
    40164: "caller IP is not in the account's IP whitelist",
    41002: "AppID missing",
    41004: "AppSecret missing",
    42001: "access token expired again after a refresh",
    48001: "API not authorized for this account",
    50001: "API not authorized for this account",
    50002: "account restricted from this API",
}
RATE_ERRCODES = frozenset({45009, 45011})
DETAIL = "getarticletotaldetail"
TOTAL = "getarticletotal"
# What the newer endpoint answers an account that may not call it: use the older one.
FALLBACK_ERRCODES = frozenset({48001, 50001, 50002})
# What the older one answers when it cannot help either (47009: "this api is offline").
UNAVAILABLE_ERRCODES = FALLBACK_ERRCODES | {47009}
BUSY_ERRCODES = frozenset({-1})
_CREDENTIAL_PARAM = re.compile(r"(secret|access_token)=[^&\s'\"]*")
# The JSON form, as in a (possibly cut-off) token answer: "access_token":"...
_CREDENTIAL_JSON = re.compile(r'("(?:secret|access_token)"\s*:\s*")[^"]*')


class _Said(Exception):
    """An exception whose text is a Message (the check's detail)."""

    def __init__(self, what: Message):
        super().__init__(what)
        self.message = what


class BadBody(_Said):
    """The platform answered with something this adapter cannot read."""

    def __init__(self, what: Message, body: str):
        super().__init__(what)
        self.body = body


class NotReady(_Said):
    """The datacube has not filled a day in yet (`is_delay`): that day proves nothing."""


class DatacubeRefused(_Said):
    """Neither datacube endpoint answers this account: its 群发 dates cannot be read."""


class CappedSession(requests.Session):
    """A requests session that reads at most `max_bytes` of an answer (after decoding)."""

    def __init__(self, max_bytes: int):
        super().__init__()
        self.max_bytes = max_bytes

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        kwargs["stream"] = True  # read here, chunk by chunk, so a huge answer stops at the cap
        response = super().send(request, **kwargs)
        body = bytearray()
        for chunk in response.iter_content(64 * 1024):
            body += chunk
            if len(body) > self.max_bytes:
                response.close()
                raise BadBody(message(C.WECHAT_TOO_LARGE, cap=self.max_bytes), "")
        response._content = bytes(body)
        return response


@dataclass(frozen=True, slots=True)
class Post:
    at: datetime
    id: str | None
    title: str | None
    url: str | None


class _Client(WeChatClient):
    """wechatpy's client with every URL on `base` and the timeout on the token call too.

    With `stable=True` the token comes from `stable_token`, kept apart from the
    token the unit's own systems fetch from `/cgi-bin/token`.
    """

    def __init__(
        self,
        appid: str,
        secret: str,
        *,
        base: str,
        timeout: float,
        storage: MemoryStorage,
        http: requests.Session | None,
        stable: bool = False,
    ):
        super().__init__(appid, secret, session=storage, timeout=timeout, auto_retry=False)
        # wechatpy reads API_BASE_URL through self/api objects: instance attributes win.
        self.API_BASE_URL = f"{base}/cgi-bin/"
        self.datacube.API_BASE_URL = f"{base}/datacube/"
        self._stable = stable
        self._token_url = f"{base}{STABLE_TOKEN_PATH if stable else TOKEN_PATH}"
        # Set once a token was rejected: the next stable_token call must not hand
        # the same one back.
        self._force_refresh = False
        if http is not None:
            self._http = http

    def _request_token(self) -> requests.Response:
        credentials = {
            "grant_type": "client_credential",
            "appid": self.appid,
            "secret": self.secret,
        }
        if not self._stable:
            return self._http.get(self._token_url, params=credentials, timeout=self.timeout)
        body = credentials | {"force_refresh": self._force_refresh}
        self._force_refresh = False
        return self._http.post(self._token_url, json=body, timeout=self.timeout)

    def fetch_access_token(self) -> dict[str, Any]:
        res = self._request_token()
        if res.status_code >= 400:
            raise WeChatClientException(None, None, client=self, request=res.request, response=res)
        try:
            result = res.json()
        except ValueError as exc:
            raise BadBody(message(C.WECHAT_TOKEN_NOT_JSON), res.text) from exc
        if not isinstance(result, dict):
            raise BadBody(message(C.WECHAT_TOKEN_NOT_OBJECT), res.text)
        if result.get("errcode"):
            raise WeChatClientException(int(result["errcode"]), result.get("errmsg"), client=self)
        if not result.get("access_token"):
            raise BadBody(message(C.WECHAT_TOKEN_MISSING), res.text)
        expires_in = int(result.get("expires_in") or 7200)
        self.session.set(self.access_token_key, result["access_token"], expires_in)
        self.expires_at = int(time.time()) + expires_in
        return result

    def forget_token(self) -> None:
        self.session.delete(self.access_token_key)
        self.session.delete(self.access_token_expires_at_key)
        self._force_refresh = True


class WechatApiAdapter:
    """Checks WeChat official accounts through their own API credentials."""

    name = SOURCE

    def __init__(
        self,
        *,
        max_days_per_check: int = DEFAULT_MAX_DAYS,
        http_factory: Callable[[], requests.Session] | None = None,
    ):
        self.max_days_per_check = max_days_per_check
        self.http_factory = http_factory
        self._storage = MemoryStorage()
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def _pool(self, workers: int) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    max_workers=workers, thread_name_prefix="wechat-api"
                )
            return self._executor

    def close(self) -> None:
        """Shut the worker threads down (waits for running checks)."""
        with self._lock:
            if self._executor is not None:
                self._executor.shutdown(wait=True)
                self._executor = None

    async def check(self, target: CheckTarget, ctx: AdapterContext) -> CheckResult:
        now = ctx.clock()
        appid = (target.appid or target.account_id).strip()
        if not appid:
            detail = message(C.WECHAT_NO_APPID)
            return failed(target, ctx, SOURCE, Outcome.AUTH_ERROR, detail, observed_at=now)
        if not target.secret_env:
            detail = message(C.WECHAT_NO_SECRET_ENV)
            return failed(target, ctx, SOURCE, Outcome.AUTH_ERROR, detail, observed_at=now)
        secret = ctx.secrets.get(target.secret_env)
        if not secret:
            detail = message(C.WECHAT_SECRET_UNSET, env=target.secret_env)
            return failed(target, ctx, SOURCE, Outcome.AUTH_ERROR, detail, observed_at=now)
        pool = self._pool(ctx.settings.wechat.worker_threads)
        loop = asyncio.get_running_loop()
        guard = ctx.url_guard if isinstance(ctx.url_guard, UrlGuard) else UrlGuard(ctx.settings)
        try:
            # wechatpy speaks requests: its connections get the outbound check in the thread.
            with guarding(guard.peer_reason, ctx.settings.http.source_address):
                run = contextvars.copy_context().run
                return await loop.run_in_executor(
                    pool, run, self._check_sync, target, ctx, now, appid, secret
                )
        except Exception as exc:  # last-resort funnel: an adapter never raises
            detail = _scrubbed(
                message(C.WECHAT_UNEXPECTED, error_type=type(exc).__name__, error=str(exc)), secret
            )
            return failed(target, ctx, SOURCE, Outcome.PARSE_ERROR, detail, observed_at=now)

    def _check_sync(
        self, target: CheckTarget, ctx: AdapterContext, now: datetime, appid: str, secret: str
    ) -> CheckResult:
        settings = ctx.settings
        tz = ZoneInfo(settings.timezone)
        today = now.astimezone(tz).date()
        reach = settings.wechat.datacube_from
        first_day = max(settings.policy.suspended_after.before(today), reach)
        scan = ScanState.from_dict(target.state, first_day).reaching_back_to(reach)
        http = (
            self.http_factory()
            if self.http_factory
            else CappedSession(settings.http.max_body_bytes)
        )
        client = _Client(
            appid,
            secret,
            base=settings.wechat.api_base_url.rstrip("/"),
            timeout=settings.http.timeout_s,
            storage=self._storage,
            http=http,
            stable=settings.wechat.token_api == "stable_token",
        )
        state = dict(target.state)
        cube = _Datacube(client)
        try:
            # datacube has whole days only up to yesterday.
            newest = today - timedelta(days=1)
            if reach > newest:
                raise DatacubeRefused(
                    message(
                        C.WECHAT_BEFORE_REACH,
                        endpoint=DETAIL,
                        reach=reach.isoformat(),
                        newest=newest.isoformat(),
                    )
                )
            count = settings.wechat.freepublish_count
            published = _call(client, lambda: client.freepublish.batchget(0, count, no_content=1))
            fp_post = _freepublish_latest(published, tz)
            run = walk(
                scan,
                newest,
                cube.day,
                self.max_days_per_check,
                known_latest=fp_post.at.astimezone(tz).date() if fp_post else None,
            )
            state.update(run.state.to_dict())
            if run.error is not None:
                raise run.error
        except Exception as exc:
            outcome, detail, body = _classify(exc)
            detail = _scrubbed(detail, secret)
            body = _scrub(body, secret) if body is not None else None
            wait = _retry_after(exc) if outcome is Outcome.RATE_LIMITED else None
            return failed(
                target,
                ctx,
                SOURCE,
                outcome,
                detail,
                body=body,
                state=state,
                observed_at=now,
                retry_after=wait,
            )
        finally:
            client._http.close()
        return _result(target, now, tz, fp_post, run.state, run.days_scanned, state, cube)


ADAPTER = WechatApiAdapter


def _call(client: _Client, fn: Callable[[], Any]) -> Any:
    """One API call; a rejected token is dropped and the call retried once."""
    try:
        return fn()
    except WeChatClientException as exc:
        if exc.errcode not in TOKEN_ERRCODES:
            raise
        client.forget_token()
        return fn()


class _Datacube:
    """The articles SENT on a day: getarticletotaldetail, else (permissions) getarticletotal."""

    def __init__(self, client: _Client):
        self.client = client
        self.endpoint = DETAIL
        # Why this check reads the older endpoint, for the observation's detail.
        self.refusal: Message | None = None

    def day(self, day: date) -> list[dict[str, Any]]:
        if self.endpoint == DETAIL:
            try:
                return self._articles(DETAIL, day)
            except WeChatClientException as exc:
                if exc.errcode not in FALLBACK_ERRCODES:
                    raise
                self.endpoint = TOTAL
                self.refusal = message(
                    C.WECHAT_ENDPOINT_REFUSED,
                    endpoint=DETAIL,
                    errcode=exc.errcode,
                    errmsg=str(exc.errmsg),
                )
        try:
            return self._articles(TOTAL, day)
        except WeChatClientException as exc:
            if exc.errcode not in UNAVAILABLE_ERRCODES:
                raise
            raise DatacubeRefused(
                message(
                    C.WECHAT_BOTH_REFUSED,
                    refusal=self.refusal or "",
                    endpoint=TOTAL,
                    errcode=exc.errcode,
                    errmsg=str(exc.errmsg),
                )
            ) from exc

    def _articles(self, endpoint: str, day: date) -> list[dict[str, Any]]:
        text = day.isoformat()
        cube = self.client.datacube
        body = _call(
            self.client,
            lambda: cube._post(endpoint, data={"begin_date": text, "end_date": text}),
        )
        items = body.get("list") if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise BadBody(message(C.WECHAT_DAY_NO_LIST, endpoint=endpoint, day=text), _text(body))
        # An item is an article sent that day only if it says so: a day of garbage, or
        # of articles dated another day, must not count as a post on this day.
        for item in items:
            if not isinstance(item, dict) or not (item.get("msgid") or item.get("title")):
                raise BadBody(
                    message(C.WECHAT_DAY_NOT_ARTICLE, endpoint=endpoint, day=text), _text(body)
                )
            if item.get("ref_date") not in (None, text):
                dated = str(item.get("ref_date"))
                raise BadBody(
                    message(C.WECHAT_DAY_OTHER_DATE, endpoint=endpoint, day=text, ref_date=dated),
                    _text(body),
                )
        if not items and body.get("is_delay"):
            raise NotReady(message(C.WECHAT_NOT_READY, endpoint=endpoint, day=text))
        return items


def _freepublish_latest(published: Any, tz: ZoneInfo) -> Post | None:
    """The newest freepublish item; update_time may sit in the item or in its `content`."""
    if not isinstance(published, dict) or not isinstance(published.get("item"), list):
        raise BadBody(message(C.WECHAT_FP_NO_LIST), _text(published))
    best: Post | None = None
    for item in published["item"]:
        if not isinstance(item, dict):
            raise BadBody(message(C.WECHAT_FP_NOT_OBJECT), _text(published))
        raw = item.get("content")
        content: dict[str, Any] = raw if isinstance(raw, dict) else {}
        stamp: Any = (
            item.get("update_time") or content.get("update_time") or content.get("create_time")
        )
        try:
            at = datetime.fromtimestamp(int(stamp), tz)
        except (TypeError, ValueError, OverflowError, OSError) as exc:
            raise BadBody(message(C.WECHAT_FP_NO_TIME), _text(published)) from exc
        news = content.get("news_item")
        first = news[0] if isinstance(news, list) and news and isinstance(news[0], dict) else {}
        post = Post(
            at, _opt(item.get("article_id")), _opt(first.get("title")), _opt(first.get("url"))
        )
        if best is None or post.at > best.at:
            best = post
    return best


def _result(
    target: CheckTarget,
    now: datetime,
    tz: ZoneInfo,
    fp_post: Post | None,
    scan: ScanState,
    days_scanned: int,
    state: dict[str, Any],
    cube: _Datacube,
) -> CheckResult:
    candidates = [fp_post] if fp_post else []
    if scan.resolved and scan.latest:
        candidates.append(Post(start_of_day(scan.latest, tz), scan.msgid, scan.title, scan.url))
    if not scan.resolved:
        # Days before empty_from may be unscanned: a post is provably the latest only
        # when every later day was scanned empty, i.e. it is on empty_from - 1 or after.
        quiet_start = start_of_day(scan.empty_from - timedelta(days=1), tz)
        candidates = [p for p in candidates if p.at >= quiet_start]
    scope = message(
        C.WECHAT_SCOPE,
        endpoint=cube.endpoint,
        days=days_scanned,
        through=scan.through.isoformat(),
    )
    if cube.refusal:
        scope = message(C.WECHAT_SCOPE_FALLBACK, scope=scope, refusal=cube.refusal)
    if not scan.resolved:
        until = (scan.empty_from - timedelta(days=1)).isoformat()
        floor = scan.floor.isoformat() if scan.floor else None
        scope = message(C.WECHAT_SCOPE_GAP, scope=scope, floor=floor, until=until)
    if candidates:
        best = max(candidates, key=lambda p: p.at)
        via = "freepublish" if best is fp_post else "datacube send date"
        obs = observation(
            target,
            now,
            SOURCE,
            Outcome.OK,
            message(C.WECHAT_LATEST, via=via, scope=scope),
            latest_post_at=best.at,
            post_id=best.id,
            post_url=best.url,
            post_title=best.title,
        )
    else:
        since = scan.empty_from.isoformat()
        obs = observation(
            target,
            now,
            SOURCE,
            Outcome.OK,
            message(C.WECHAT_NO_POST, since=since, scope=scope),
            silent_since=scan.empty_from,
        )
    return CheckResult(obs, state)


def _classify(exc: BaseException) -> tuple[Outcome, Message, str | None]:
    """The one funnel from wechatpy/requests exceptions to (outcome, detail, body)."""
    if isinstance(exc, BadBody):
        return Outcome.PARSE_ERROR, exc.message, exc.body
    if isinstance(exc, GuardRefusal):
        return Outcome.REFUSED, refusal_message(exc.reason), None
    if isinstance(exc, NotReady):
        return Outcome.TRANSIENT, exc.message, None
    if isinstance(exc, DatacubeRefused):
        return Outcome.AUTH_ERROR, message(C.WECHAT_NO_DATACUBE, reason=exc.message), None
    if isinstance(exc, WeChatClientException):
        code, msg = exc.errcode, str(exc.errmsg)
        if code is None:
            status = getattr(exc.response, "status_code", "?")
            if status == 429:
                return Outcome.RATE_LIMITED, message(C.WECHAT_HTTP_429), None
            return Outcome.TRANSIENT, message(C.WECHAT_HTTP, status=status), None
        if code == 40164:
            return Outcome.AUTH_ERROR, message(C.WECHAT_IP_WHITELIST, errmsg=msg), None
        said = {"errcode": code, "errmsg": msg}
        if code in AUTH_ERRCODES:
            return (
                Outcome.AUTH_ERROR,
                message(C.WECHAT_AUTH, problem=AUTH_ERRCODES[code], **said),
                None,
            )
        if code in RATE_ERRCODES:
            return Outcome.RATE_LIMITED, message(C.WECHAT_QUOTA, **said), None
        if code in BUSY_ERRCODES:
            return Outcome.TRANSIENT, message(C.WECHAT_BUSY, **said), None
        return Outcome.PARSE_ERROR, message(C.WECHAT_ERRCODE, **said), None
    name = type(exc).__name__
    if isinstance(exc, requests.Timeout):
        return Outcome.TRANSIENT, message(C.TIMED_OUT, error_type=name), None
    if isinstance(exc, requests.RequestException):
        return Outcome.TRANSIENT, connection_failed(exc), None
    if isinstance(exc, (KeyError, TypeError, ValueError, AttributeError)):
        detail = message(C.WECHAT_UNEXPECTED_RESPONSE, error_type=name, error=str(exc))
        return Outcome.PARSE_ERROR, detail, None
    return (
        Outcome.PARSE_ERROR,
        message(C.WECHAT_UNEXPECTED_ERROR, error_type=name, error=str(exc)),
        None,
    )


def _retry_after(exc: BaseException) -> float | None:
    """Seconds from a Retry-After header on the HTTP response behind an exception, if any."""
    response = getattr(exc, "response", None)
    raw = response.headers.get("Retry-After") if response is not None else None
    return float(raw) if raw and raw.strip().isdigit() else None


def _scrubbed(detail: Message, secret: str) -> Message:
    """A detail with the secret and any access token removed from every parameter."""
    return rewritten(detail, lambda text: _scrub(text, secret))


def _scrub(text: str, secret: str) -> str:
    """Remove the secret and any access token from text bound for a detail."""
    text = _CREDENTIAL_PARAM.sub(r"\1=***", text)
    text = _CREDENTIAL_JSON.sub(r"\1***", text)
    return text.replace(secret, "***") if secret else text


def _text(obj: Any) -> str:
    if isinstance(obj, requests.Response):
        return obj.text
    try:
        return json.dumps(obj, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(obj)


def _opt(value: Any) -> str | None:
    return None if value in (None, "") else str(value)
