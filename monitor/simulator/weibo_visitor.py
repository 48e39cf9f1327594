"""m.weibo.cn's visitor wall and Sina Visitor System (genvisitor2, incarnate).

With the scenario's `weibo_wall` set, a getIndex call without a visitor cookie the
simulator issued is answered `302` to `/visitor/visitor?entry=sinawap&a=enter&url=...`
(as m.weibo.cn sends visitors to visitor.passport.weibo.cn). The visitor system:

POST /visitor/genvisitor2  form cb=visitor_gray_callback&tid=&from=weibo&webdriver=false
  -> `window.visitor_gray_callback && visitor_gray_callback({"retcode":20000000,...})`
     `visitor`: data carries sub/subp (also as Set-Cookie); `visitor_incarnate`: data
     carries only tid/confidence/new_tid; `visitor_broken`: retcode 50020, no data.
GET  /visitor/visitor?a=incarnate&t=<tid>&w=2|3&c=<3 digits>&cb=cross_domain&from=weibo
  -> `window.cross_domain && cross_domain({"retcode":20000000,"data":{"sub","subp"}})`
GET  /visitor/visitor?a=enter&...  -> the HTML page a browser would run the flow from.

`SimulatorServer.expire_visitor_cookies()` makes every issued cookie stale, so the
wall comes back for clients that hold one.
"""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qsl, quote

from monitor.simulator.common import stable_token
from monitor.simulator.http import Request, Response
from monitor.simulator.world import World

PREFIX = "/visitor/"
GEN_PATH = "/visitor/genvisitor2"
PAGE_PATH = "/visitor/visitor"
OK = 20000000
JS_TYPE = "application/javascript; charset=utf-8"
ENTER_PAGE = (
    b'<!DOCTYPE html><html><head><meta charset="utf-8"><title>Sina Visitor System</title>'
    b"</head><body><script>/* genvisitor2, then incarnate */</script></body></html>"
)
_COOKIE_SUB = re.compile(r"(?:^|;\s*)SUB=([^;]+)")


def walled(world: World, req: Request) -> Response | None:
    """The wall's redirect for a getIndex call without a valid visitor cookie, else None."""
    if world.scenario.weibo_wall is None:
        return None
    found = _COOKIE_SUB.search(req.headers.get("cookie", ""))
    if found and found[1] in world.visitor_subs:
        return None
    host = req.headers.get("host", "")
    back = quote(f"https://m.weibo.cn{req.target}", safe="")
    where = f"{PAGE_PATH}?entry=sinawap&a=enter&url={back}&domain=weibo.cn"
    return Response(
        302, b"", "text/html", [("Location", f"http://{host}{where}" if host else where)]
    )


def handle(world: World, req: Request) -> Response:
    """Answer the visitor system's paths."""
    mode = world.scenario.weibo_wall
    if req.path == GEN_PATH:
        if req.method != "POST" or mode is None:
            return Response(405 if mode else 404, b"", "text/html")
        form = dict(parse_qsl(req.body.decode("utf-8", "replace")))
        callback = _callback(form.get("cb"), "visitor_gray_callback")
        if mode == "visitor_broken":
            return _jsonp(callback, {"retcode": 50020, "msg": "system error", "data": {}})
        tid = stable_token(world.seed, "tid", len(world.visitor_tids), length=44)
        world.visitor_tids.add(tid)
        data: dict[str, object] = {"tid": tid, "confidence": 95, "new_tid": True}
        if mode == "visitor_incarnate":
            return _jsonp(callback, {"retcode": OK, "msg": "succ", "data": data})
        return _issue(world, callback, data)
    if req.path == PAGE_PATH:
        query = req.query
        if query.get("a") != "incarnate":
            return Response(200, ENTER_PAGE, "text/html; charset=utf-8")
        callback = _callback(query.get("cb"), "cross_domain")
        valid = (
            query.get("t") in world.visitor_tids
            and query.get("w") in ("2", "3")
            and re.fullmatch(r"\d{3}", query.get("c", "")) is not None
        )
        if mode != "visitor_incarnate" or not valid:
            return _jsonp(callback, {"retcode": 50111, "msg": "incarnate fail", "data": {}})
        return _issue(world, callback, {})
    return Response(404, b"not found", "text/plain; charset=utf-8")


def _issue(world: World, callback: str, data: dict[str, object]) -> Response:
    """A new visitor cookie in the JSONP data and as Set-Cookie headers."""
    world.visitor_issued += 1
    sub = "_2AkM" + stable_token(world.seed, "sub", world.visitor_issued, length=60)
    subp = "0033WrSXqPxfM72-Ws9jqgMF55529P9D9W" + stable_token(sub, "subp", length=24)
    world.visitor_subs.add(sub)
    body = {"retcode": OK, "msg": "succ", "data": {**data, "sub": sub, "subp": subp}}
    headers = [
        ("Set-Cookie", f"SUB={sub}; path=/; domain=.weibo.cn; httponly"),
        ("Set-Cookie", f"SUBP={subp}; path=/; domain=.weibo.cn"),
    ]
    return Response(200, _jsonp_bytes(callback, body), JS_TYPE, headers)


def _callback(name: str | None, default: str) -> str:
    return name if name and re.fullmatch(r"[A-Za-z_]\w{0,63}", name) else default


def _jsonp(callback: str, body: dict[str, object]) -> Response:
    return Response(200, _jsonp_bytes(callback, body), JS_TYPE)


def _jsonp_bytes(callback: str, body: dict[str, object]) -> bytes:
    payload = json.dumps(body, separators=(",", ":"))
    return f"window.{callback} && {callback}({payload});".encode()
