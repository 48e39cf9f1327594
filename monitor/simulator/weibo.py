"""m.weibo.cn visitor API: `GET /api/container/getIndex` for profiles and timelines.

Profile: `?type=uid&value=UID` (or containerid `100505`+UID). Timeline: the same
plus `&containerid=<weibo tab containerid>` and `&page=N` (1-based) or `&since_id=ID`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from monitor.simulator.common import (
    SHANGHAI,
    html_500,
    json_bytes,
    json_response,
    stable_int,
    stable_token,
    truncated,
)
from monitor.simulator.http import Request, Response
from monitor.simulator.texts import title_for
from monitor.simulator.weibo_visitor import walled
from monitor.simulator.world import AccountState, World

PAGE_SIZE = 10
CACHE_SIZE = 20_000
NO_CONTENT: dict[str, Any] = {"ok": 0, "msg": "这里还没有内容", "data": {"cards": []}}
NOT_FOUND: dict[str, Any] = {"ok": 0, "msg": "用户不存在"}
PROFILE_PREFIX = "100505"
PINNED_MARKERS = ("title", "isTop", "mblogtype", "profile_type_id")
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# The account every simulated repost quotes.
_SOURCE_UID = 2656274875
_SOURCE_NAME = "安康发布"


def container_id(state: AccountState) -> str:
    """The timeline container of the account's `weibo` tab; the prefix varies by account."""
    acc = state.account
    prefix = acc.container_prefix or ("107603" if stable_int(acc.account_id) % 2 else "230413")
    return prefix + acc.account_id


def pinned_marker(state: AccountState) -> str:
    """Which of the historical pinned markers this account's pinned post carries."""
    acc = state.account
    return acc.pinned_marker or PINNED_MARKERS[stable_int(acc.account_id, "pin") % 4]


def absolute_created_at(moment: datetime) -> str:
    """The current form, e.g. "Sun Dec 01 09:21:00 +0800 2024" (C-locale names)."""
    t = moment.astimezone(SHANGHAI)
    return f"{_DAYS[t.weekday()]} {_MONTHS[t.month - 1]} {t.day:02d} {t:%H:%M:%S} +0800 {t.year}"


def relative_created_at(moment: datetime, now: datetime) -> str:
    """The older relative forms, as the site showed them at `now` (Asia/Shanghai)."""
    t = moment.astimezone(SHANGHAI)
    n = now.astimezone(SHANGHAI)
    seconds = (n - t).total_seconds()
    if t.date() == n.date():
        if seconds < 60:
            return "刚刚"
        if seconds < 3600:
            return f"{int(seconds // 60)}分钟前"
        return f"{int(seconds // 3600)}小时前"
    if t.date() == n.date() - timedelta(days=1):
        return f"昨天 {t:%H:%M}"
    if t.year == n.year:
        return f"{t:%m-%d}"
    return f"{t:%Y-%m-%d}"


def mblog_id(uid: str, moment: datetime) -> int:
    """A 16-digit id that grows with time, as real mblog ids do (since_id paging relies on it)."""
    return int(moment.timestamp()) * 1_000_000 + stable_int(uid, moment.timestamp()) % 1_000_000


def _user(uid: str, name: str, verified_type: int, reason: str, statuses: int) -> dict[str, Any]:
    img = stable_token(uid, "avatar", length=16)
    return {
        "id": int(uid) if uid.isdigit() else uid,
        "screen_name": name,
        "profile_image_url": f"https://tvax1.sinaimg.cn/crop.0.0.180.180.180/{img}.jpg",
        "profile_url": f"https://m.weibo.cn/u/{uid}?uid={uid}&luicode=10000011",
        "statuses_count": statuses,
        "verified": verified_type >= 0,
        "verified_type": verified_type,
        "verified_type_ext": 0,
        "verified_reason": reason if verified_type >= 0 else "",
        "close_blue_v": False,
        "description": f"{reason}。" if reason else "",
        "gender": "m",
        "mbtype": 0,
        "urank": 4,
        "mbrank": 0,
        "follow_me": False,
        "following": False,
        "followers_count": 1000 + stable_int(uid, "fans") % 90000,
        "follow_count": 50 + stable_int(uid, "follow") % 300,
        "cover_image_phone": "https://tva1.sinaimg.cn/crop.0.0.640.640.640/549d0121tw1egm1kjly3jj20hs0hsq4f.jpg",
        "avatar_hd": f"https://wx1.sinaimg.cn/orj480/{img}.jpg",
        "like": False,
        "like_me": False,
        "badge": {"user_name_certificate": 1},
    }


def _statuses_count(state: AccountState, now: datetime) -> int:
    served = state.served_count(now)
    if served == 0:
        return 0
    declared = state.account.statuses_count
    return max(declared, served) if declared is not None else served


def _account_user(state: AccountState, now: datetime) -> dict[str, Any]:
    acc = state.account
    reason = f"{acc.unit}官方微博" if acc.verified_type == 1 else "微博认证用户"
    return _user(acc.account_id, acc.name, acc.verified_type, reason, _statuses_count(state, now))


def _mblog(
    state: AccountState, moment: datetime, now: datetime, user: dict[str, Any]
) -> dict[str, Any]:
    uid = state.account.account_id
    mid = mblog_id(uid, moment)
    created = (
        relative_created_at(moment, now)
        if state.account.relative_dates
        else absolute_created_at(moment)
    )
    title = title_for(uid, moment)
    mblog: dict[str, Any] = {
        "visible": {"type": 0, "list_id": 0},
        "created_at": created,
        "id": str(mid),
        "idstr": str(mid),
        "mid": str(mid),
        "bid": stable_token(uid, mid, "bid", length=9),
        "can_edit": False,
        "show_additional_indication": 0,
        "text": f"【{title}】详情请点击查看。",
        "textLength": 2 * len(title) + 20,
        "source": "微博网页版",
        "favorited": False,
        "pic_types": "",
        "is_paid": False,
        "mblog_vip_type": 0,
        "user": user,
        "reposts_count": stable_int(uid, mid, "rp") % 20,
        "comments_count": stable_int(uid, mid, "cm") % 30,
        "attitudes_count": stable_int(uid, mid, "at") % 100,
        "pending_approval_count": 0,
        "isLongText": False,
        "reward_exhibition_type": 0,
        "hide_flag": 0,
        "mblogtype": 0,
        "more_info_type": 0,
        "content_auth": 0,
        "edit_config": {"edited": False},
        "weibo_position": 1,
    }
    if stable_int(uid, mid, "repost") % 6 == 0:
        # A repost: the quoted post is older and someone else's; the outer time is ours.
        inner = moment - timedelta(hours=1 + stable_int(uid, mid, "inner") % 47)
        inner_id = mblog_id(str(_SOURCE_UID), inner)
        src = _user(str(_SOURCE_UID), _SOURCE_NAME, 1, "安康市人民政府新闻办公室官方微博", 12034)
        mblog["text"] = "转发微博"
        mblog["raw_text"] = "转发微博"
        mblog["weibo_position"] = 2
        mblog["retweeted_status"] = {
            "created_at": absolute_created_at(inner),
            "id": str(inner_id),
            "idstr": str(inner_id),
            "mid": str(inner_id),
            "bid": stable_token(inner_id, "bid", length=9),
            "text": f"【{title_for(_SOURCE_NAME, inner)}】",
            "source": "微博网页版",
            "user": src,
            "mblogtype": 0,
            "visible": {"type": 0, "list_id": 0},
        }
    return mblog


def _card(containerid: str, mblog: dict[str, Any]) -> dict[str, Any]:
    bid = mblog["bid"]
    return {
        "card_type": 9,
        "itemid": f"{containerid}_-_{mblog['id']}",
        "scheme": (
            f"https://m.weibo.cn/status/{bid}?mblogid={bid}&luicode=10000011&lfid={containerid}"
        ),
        "mblog": mblog,
        "show_type": 0,
    }


def _pinned_card(
    state: AccountState, moment: datetime, now: datetime, cid: str, user: dict[str, Any]
) -> dict[str, Any]:
    mblog = _mblog(state, moment, now, user)
    card = _card(cid, mblog)
    marker = pinned_marker(state)
    if marker == "title":
        mblog["title"] = {"text": "置顶", "base_color": 1}
    elif marker == "isTop":
        mblog["isTop"] = 1
    elif marker == "mblogtype":
        mblog["mblogtype"] = 2
    else:
        card["profile_type_id"] = f"proweibotop_{mblog['id']}"
    return card


def profile_body(state: AccountState, now: datetime) -> dict[str, Any]:
    """The profile answer: userInfo and tabsInfo (the weibo tab names the timeline container)."""
    uid = state.account.account_id
    return {
        "ok": 1,
        "data": {
            "avatar_guide": [],
            "isStarStyle": 0,
            "userInfo": _account_user(state, now),
            "fans_scheme": f"https://m.weibo.cn/p/index?containerid=231051_-_fans_intimacy_-_{uid}",
            "follow_scheme": f"https://m.weibo.cn/p/index?containerid=231051_-_followersrecomm_-_{uid}",
            "tabsInfo": {
                "selectedTab": 1,
                "tabs": [
                    {
                        "id": 1,
                        "tabKey": "profile",
                        "must_show": 1,
                        "hidden": 0,
                        "title": "主页",
                        "tab_type": "profile",
                        "containerid": "230283" + uid,
                    },
                    {
                        "id": 2,
                        "tabKey": "weibo",
                        "must_show": 1,
                        "hidden": 0,
                        "title": "微博",
                        "tab_type": "weibo",
                        "containerid": container_id(state),
                        "apipath": "/profile/statuses",
                        "url": "/index/my",
                    },
                    {
                        "id": 10,
                        "tabKey": "album",
                        "must_show": 0,
                        "hidden": 0,
                        "title": "相册",
                        "tab_type": "album",
                        "containerid": "107803" + uid,
                    },
                ],
            },
            "scheme": f"sinaweibo://userinfo?uid={uid}&type=uid&value={uid}",
            "showAppTips": 0,
        },
    }


def _int(text: str | None, default: int) -> int:
    try:
        return int(text) if text else default
    except ValueError:
        return default


def timeline_body(
    state: AccountState, now: datetime, page: int, since_id: int | None
) -> dict[str, Any]:
    """One timeline page: pinned post first on page 1, then 10 posts newest first."""
    served = state.served(now)
    pinned = state.served_pinned(now)
    uid = state.account.account_id
    cid = container_id(state)
    if since_id is not None:
        start = next((i for i, p in enumerate(served) if mblog_id(uid, p) < since_id), len(served))
        first_page = False
    else:
        start = (max(page, 1) - 1) * PAGE_SIZE
        first_page = page <= 1
    chunk = served[start : start + PAGE_SIZE]
    if not chunk and not (first_page and pinned is not None):
        return NO_CONTENT
    user = _account_user(state, now)
    cards: list[dict[str, Any]] = []
    if first_page and pinned is not None:
        cards.append(_pinned_card(state, pinned, now, cid, user))
    cards.extend(_card(cid, _mblog(state, p, now, user)) for p in chunk)
    if (stable_int(uid, "group") + start // PAGE_SIZE) % 2 == 0 and len(cards) >= 4:
        # Every other page nests two posts in a type-11 card: clients must walk card_group.
        cards[2:4] = [{"card_type": 11, "itemid": "", "show_type": 0, "card_group": cards[2:4]}]
    more = start + PAGE_SIZE < len(served)
    info: dict[str, Any] = {
        "containerid": cid,
        "v_p": 42,
        "show_style": 1,
        "total": _statuses_count(state, now),
        "page": start // PAGE_SIZE + 2 if more else None,
    }
    if more:
        info["since_id"] = mblog_id(uid, chunk[-1])
    return {"ok": 1, "data": {"cardlistInfo": info, "cards": cards, "scheme": ""}}


def _fault(state: AccountState, req: Request, body: dict[str, Any]) -> Response | None:
    fault = state.fault
    if fault is None:
        return None
    if fault == "timeout":
        return Response(hold=True)
    if fault == "http_500":
        return html_500()
    if fault == "rate_limit":
        return Response(418, b"", "text/html; charset=utf-8")
    if fault == "login_wall":
        back = quote(f"https://m.weibo.cn{req.target}", safe="")
        url = f"https://passport.weibo.cn/signin/welcome?entry=mweibo&r={back}"
        return json_response({"ok": -100, "url": url})
    # malformed: a 200 whose JSON is cut off halfway.
    return Response(200, truncated(json_bytes(body)), "application/json; charset=utf-8")


def handle(world: World, req: Request) -> Response:
    """Answer a getIndex call (profile or timeline), or the visitor wall's redirect."""
    wall = walled(world, req)
    if wall is not None:
        return wall
    q = req.query
    containerid = q.get("containerid", "")
    uid = q.get("value") or (containerid[6:] if len(containerid) > 6 else "")
    state = world.get("weibo", uid) if uid else None
    is_profile = not containerid or containerid == PROFILE_PREFIX + uid
    if state is None or not state.account.exists:
        if state is not None and state.fault:
            return _fault(state, req, NOT_FOUND) or json_response(NOT_FOUND)
        # A deleted account's timeline looks just like an empty one: only the
        # profile call tells "用户不存在" from "这里还没有内容".
        return json_response(NOT_FOUND if is_profile else NO_CONTENT)
    now = world.now()
    if is_profile:
        body = profile_body(state, now)
    elif containerid == container_id(state):
        page, since_id = _int(q.get("page"), 1), _since(q.get("since_id"))
        if state.fault is None and not state.account.relative_dates:
            return Response(200, _cached_timeline(world, state, now, page, since_id))
        body = timeline_body(state, now, page, since_id)
    else:
        # A hard-coded container prefix that is not this account's: nothing there.
        body = NO_CONTENT
    return _fault(state, req, body) or json_response(body)


def _cached_timeline(
    world: World, state: AccountState, now: datetime, page: int, since_id: int | None
) -> bytes:
    # Absolute-date pages change only when the set of served posts does, and building
    # one is the costliest answer the simulator gives; cache the encoded bytes.
    key = ("weibo", state.account.account_id, page, since_id, state.served_count(now))
    body = world.cache.get(key)
    if body is None:
        if len(world.cache) >= CACHE_SIZE:
            world.cache.clear()
        body = world.cache[key] = json_bytes(timeline_body(state, now, page, since_id))
    return body


def _since(text: str | None) -> int | None:
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        return None
