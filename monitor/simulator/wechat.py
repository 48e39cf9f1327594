"""WeChat official-account API as wechatpy 2.0.0a26 calls it, all on one server:

GET  /cgi-bin/token?grant_type=client_credential&appid=..&secret=..
POST /cgi-bin/stable_token   {"grant_type","appid","secret","force_refresh"}
POST /cgi-bin/freepublish/batchget?access_token=..   {"offset","count","no_content"}
POST /datacube/getarticletotaldetail?access_token=.. {"begin_date","end_date"} (one day)
POST /datacube/getarticletotal?access_token=..       {"begin_date","end_date"} (one day)
POST /datacube/getarticlesummary?access_token=..     {"begin_date","end_date"} (one day)

The datacube speaks each endpoint's real semantics: `getarticletotaldetail` lists
the posts (群发 and 发布) SENT on the day, `getarticletotal` the 群发 posts sent on
the day, `getarticlesummary` every 群发 post READ on the day, which is each of the
`read_days` days from its sending on.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from monitor.simulator.common import (
    SHANGHAI,
    html_500,
    json_bytes,
    stable_int,
    stable_token,
    truncated,
)
from monitor.simulator.http import Request, Response
from monitor.simulator.texts import title_for
from monitor.simulator.world import AccountState, World

CONTENT_TYPE = "application/json; encoding=utf-8"
TOKEN_TTL_S = 7200
TOKEN_PATH = "/cgi-bin/token"
STABLE_TOKEN_PATH = "/cgi-bin/stable_token"
FREEPUBLISH_PATH = "/cgi-bin/freepublish/batchget"
DETAIL_PATH = "/datacube/getarticletotaldetail"
TOTAL_PATH = "/datacube/getarticletotal"
SUMMARY_PATH = "/datacube/getarticlesummary"
DATACUBE_PATHS = (DETAIL_PATH, TOTAL_PATH, SUMMARY_PATH)
PATHS = (TOKEN_PATH, STABLE_TOKEN_PATH, FREEPUBLISH_PATH, *DATACUBE_PATHS)
# How many days after sending getarticletotal / getarticletotaldetail count reads.
TOTAL_STAT_DAYS = 7
DETAIL_STAT_DAYS = 30


def _rid(world: World, *parts: object) -> str:
    return f"{stable_token(world.seed, *parts, length=8)}-{stable_int(*parts) % 10**8:08d}"


def _error(world: World, errcode: int, errmsg: str) -> Response:
    body = {"errcode": errcode, "errmsg": f"{errmsg} rid: {_rid(world, errcode, time.time())}"}
    return Response(200, json_bytes(body), CONTENT_TYPE)


def _ok(body: dict[str, Any]) -> Response:
    return Response(200, json_bytes(body), CONTENT_TYPE)


def is_mass(state: AccountState, moment: datetime) -> bool:
    """Whether a post went out as 群发 (datacube only) rather than 发布 (freepublish only)."""
    mode = state.account.publish
    if mode != "mixed":
        return mode == "mass"
    return stable_int(state.account.account_id, moment.timestamp(), "mass") % 2 == 0


def article_url(state: AccountState, moment: datetime, index: int = 0) -> str:
    """The mp.weixin.qq.com link of a post's article."""
    return f"https://mp.weixin.qq.com/s/{stable_token(state.account.account_id, moment, index)}"


def _fault(
    world: World, state: AccountState, req: Request, body: dict[str, Any]
) -> Response | None:
    fault = state.fault
    if fault is None:
        return None
    if fault == "timeout":
        return Response(hold=True)
    if fault == "http_500":
        return html_500()
    if fault == "rate_limit":
        return _error(world, 45009, "reach max api daily quota limit")
    if fault == "login_wall":
        ip = req.peer or "127.0.0.1"
        return _error(world, 40164, f"invalid ip {ip} ipv6 ::ffff:{ip}, not in whitelist")
    return Response(200, truncated(json_bytes(body)), CONTENT_TYPE)


def token(world: World, req: Request) -> Response:
    """Issue a new access_token for a known appid with the right secret."""
    return _issue(world, req, req.query, stable=False)


def stable_access_token(world: World, req: Request) -> Response:
    """The appid's stable token: the same one until it expires or force_refresh asks anew."""
    if req.method != "POST":
        return _error(world, 43002, "require POST method")
    data = _json_body(req)
    if data is None:
        return _error(world, 47001, "data format error")
    return _issue(world, req, {k: str(v) for k, v in data.items()}, stable=True)


def _issue(world: World, req: Request, q: dict[str, str], *, stable: bool) -> Response:
    if q.get("grant_type") != "client_credential":
        return _error(world, 40002, "invalid grant_type")
    state = world.by_appid.get(q.get("appid", ""))
    if state is None or not state.account.exists:
        return _error(world, 40013, "invalid appid")
    appid = state.account.effective_appid
    current = world.stable_tokens.get(appid) if stable else None
    force = q.get("force_refresh", "").lower() in ("true", "1")
    if current is not None and not force and time.monotonic() < world.tokens[current][1]:
        access_token = current
        expires_in = int(world.tokens[current][1] - time.monotonic())
    else:
        world.tokens_issued += 1
        access_token = "SIM_" + stable_token(world.seed, appid, world.tokens_issued, length=40)
        expires_in = TOKEN_TTL_S
    body = {"access_token": access_token, "expires_in": expires_in}
    fault = _fault(world, state, req, body)
    if fault is not None:
        return fault
    if q.get("secret") != world.scenario.secret_for(state.account):
        return _error(world, 40125, "invalid appsecret")
    if access_token != current:
        world.tokens[access_token] = (appid, time.monotonic() + TOKEN_TTL_S)
        if stable:
            world.stable_tokens[appid] = access_token
    return _ok(body)


def _authorise(world: World, req: Request) -> AccountState | Response:
    access_token = req.query.get("access_token")
    if not access_token:
        return _error(world, 41001, "access_token missing")
    issued = world.tokens.get(access_token)
    if issued is None:
        return _error(world, 40001, "invalid credential, access_token is invalid or not latest")
    appid, expires = issued
    if time.monotonic() > expires:
        return _error(world, 42001, "access_token expired")
    return world.by_appid[appid]


def _json_body(req: Request) -> dict[str, Any] | None:
    try:
        data = json.loads(req.body.decode("utf-8")) if req.body else {}
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _news_item(state: AccountState, moment: datetime, index: int, no_content: bool) -> dict:
    title = title_for(state.account.account_id + str(index), moment)
    item: dict[str, Any] = {
        "title": title,
        "author": state.account.name,
        "digest": title,
        "content_source_url": "",
        "thumb_media_id": stable_token(state.account.account_id, moment, "thumb", length=43),
        "show_cover_pic": 0,
        "need_open_comment": 0,
        "only_fans_can_comment": 0,
        "url": article_url(state, moment, index),
        "is_deleted": False,
    }
    if not no_content:
        item["content"] = f"<p>{title}</p>"
    return item


def freepublish_item(state: AccountState, moment: datetime, no_content: bool) -> dict[str, Any]:
    """One 发布 record; update_time sits inside content, beside it, or both (as seen live)."""
    acc_id = state.account.account_id
    stamp = int(moment.timestamp())
    n_articles = 2 if stable_int(acc_id, stamp, "multi") % 4 == 0 else 1
    content: dict[str, Any] = {
        "news_item": [_news_item(state, moment, i, no_content) for i in range(n_articles)],
        "create_time": stamp,
    }
    item: dict[str, Any] = {
        "article_id": stable_token(acc_id, stamp, "article", length=43),
        "content": content,
    }
    where = stable_int(acc_id, stamp, "update_time") % 3
    if where in (0, 2):
        content["update_time"] = stamp
    if where in (1, 2):
        item["update_time"] = stamp
    return item


def freepublish_batchget(world: World, req: Request) -> Response:
    """List 发布 records newest first, `count` (1..20) from `offset`."""
    auth = _authorise(world, req)
    if isinstance(auth, Response):
        return auth
    state = auth
    data = _json_body(req)
    if data is None:
        return _error(world, 47001, "data format error")
    try:
        offset = int(data.get("offset", 0))
        count = int(data.get("count", 0))
        no_content = bool(int(data.get("no_content", 0)))
    except (TypeError, ValueError):
        return _error(world, 47001, "data format error")
    if offset < 0 or not 1 <= count <= 20:
        return _error(world, 40097, "invalid args")
    now = world.now()
    published = [p for p in state.served(now) if not is_mass(state, p)]
    page = published[offset : offset + count]
    body = {
        "total_count": len(published),
        "item_count": len(page),
        "item": [freepublish_item(state, p, no_content) for p in page],
    }
    return _fault(world, state, req, body) or _ok(body)


def _parse_day(text: object) -> date | None:
    try:
        return date.fromisoformat(str(text))
    except ValueError:
        return None


def _msgid(state: AccountState, moment: datetime, index: int = 1) -> str:
    stamp = int(moment.timestamp())
    return f"{2247483000 + stable_int(state.account.account_id, stamp, 'msgid') % 10**6}_{index}"


def _reads(state: AccountState, moment: datetime, day: date) -> int:
    """Readers of a post on one day: many on the send day, fewer each day after."""
    base = stable_int(state.account.account_id, moment.timestamp(), "reads") % 3000 + 50
    return base // (1 + (day - moment.astimezone(SHANGHAI).date()).days)


def _sent(state: AccountState, moment: datetime) -> date:
    return moment.astimezone(SHANGHAI).date()


def _article(state: AccountState, moment: datetime, ref_date: date) -> dict[str, Any]:
    """The fields every datacube row of a post starts with."""
    return {
        "ref_date": ref_date.isoformat(),
        "msgid": _msgid(state, moment),
        "title": title_for(state.account.account_id, moment),
    }


def summary_row(state: AccountState, moment: datetime, day: date) -> dict[str, Any]:
    """One getarticlesummary row: a 群发 article READ on `day` (ref_date is that day)."""
    reads = _reads(state, moment, day)
    return _article(state, moment, day) | {
        "int_page_read_user": reads,
        "int_page_read_count": reads + reads // 5,
        "ori_page_read_user": reads // 50,
        "ori_page_read_count": reads // 40,
        "share_user": reads // 30,
        "share_count": reads // 25,
        "add_to_fav_user": reads // 100,
        "add_to_fav_count": reads // 90,
    }


def _per_day(
    state: AccountState,
    moment: datetime,
    days: int,
    yesterday: date,
    stats: Callable[[int], dict[str, Any]],
) -> list[dict[str, Any]]:
    """A post's statistics rows, one per day from its sending (up to `days`, and yesterday)."""
    sent = _sent(state, moment)
    return [
        {"stat_date": day.isoformat(), **stats(_reads(state, moment, day))}
        for k in range(days)
        if (day := sent + timedelta(days=k)) <= yesterday
    ]


def total_row(state: AccountState, moment: datetime, yesterday: date) -> dict[str, Any]:
    """One getarticletotal row: a 群发 article, ref_date its 群发日期, `details` per stat day."""
    fans = 1000 + stable_int(state.account.account_id, "fans") % 90000
    details = _per_day(
        state,
        moment,
        TOTAL_STAT_DAYS,
        yesterday,
        lambda reads: {
            "target_user": fans,
            "int_page_read_user": reads,
            "int_page_read_count": reads + reads // 5,
            "share_user": reads // 30,
            "add_to_fav_user": reads // 100,
        },
    )
    return _article(state, moment, _sent(state, moment)) | {"details": details}


def detail_row(state: AccountState, moment: datetime, yesterday: date) -> dict[str, Any]:
    """One getarticletotaldetail row: ref_date is the 发表日期; publish_type 0 群发, 1 发布."""
    detail_list = _per_day(
        state,
        moment,
        DETAIL_STAT_DAYS,
        yesterday,
        lambda reads: {
            "read_user": reads,
            "share_user": reads // 30,
            "zaikan_user": reads // 60,
            "like_user": reads // 40,
            "comment_count": reads // 200,
            "collection_user": reads // 100,
        },
    )
    return _article(state, moment, _sent(state, moment)) | {
        "publish_type": 0 if is_mass(state, moment) else 1,
        "content_url": article_url(state, moment),
        "detail_list": detail_list,
    }


def datacube(world: World, req: Request) -> Response:
    """One day of one datacube endpoint; the day must be at most yesterday (Asia/Shanghai)."""
    auth = _authorise(world, req)
    if isinstance(auth, Response):
        return auth
    state = auth
    data = _json_body(req)
    if data is None:
        return _error(world, 47001, "data format error")
    begin = _parse_day(data.get("begin_date"))
    end = _parse_day(data.get("end_date"))
    if begin is None or end is None:
        return _error(world, 61500, "date format error")
    now = world.now()
    yesterday = now.astimezone(SHANGHAI).date() - timedelta(days=1)
    if begin != end or end > yesterday:
        # One day per call (getarticletotal's documented span), and no data for today yet.
        return _error(world, 61501, "date range error")
    allowed = state.account.datacube
    if req.path == DETAIL_PATH and allowed == "total_only":
        return _error(world, 48001, "api unauthorized")
    if req.path == TOTAL_PATH and allowed == "detail_only":
        return _error(world, 47009, "this api is offline, please use the new api")
    served = reversed(state.served(now))
    rows: list[dict[str, Any]]
    if req.path == SUMMARY_PATH:
        reading = state.account.read_days
        rows = [
            summary_row(state, p, begin)
            for p in served
            if is_mass(state, p) and 0 <= (begin - _sent(state, p)).days < reading
        ]
    elif req.path == TOTAL_PATH:
        rows = [
            total_row(state, p, yesterday)
            for p in served
            if is_mass(state, p) and _sent(state, p) == begin
        ]
    else:
        cut = world.scenario.wechat_datacube_from
        rows = (
            []
            if cut is not None and begin < cut
            else [detail_row(state, p, yesterday) for p in served if _sent(state, p) == begin]
        )
    body: dict[str, Any] = {"list": rows}
    if req.path == DETAIL_PATH:
        body["is_delay"] = False
    return _fault(world, state, req, body) or _ok(body)


def handle(world: World, req: Request) -> Response:
    """Dispatch one of the WeChat paths; other methods get 405-like errcode."""
    if req.path == TOKEN_PATH:
        return token(world, req)
    if req.path == STABLE_TOKEN_PATH:
        return stable_access_token(world, req)
    if req.method != "POST":
        return _error(world, 43002, "require POST method")
    if req.path == FREEPUBLISH_PATH:
        return freepublish_batchget(world, req)
    return datacube(world, req)
