"""The Weibo visitor cookie: Sina Visitor System's genvisitor flow, held in memory only.

m.weibo.cn walls a visitor without a cookie off with a redirect to the visitor
system (`visitor.passport.weibo.cn/visitor/visitor?...`) or `{"ok": -100}`. A
browser sent there runs the system's script; open-source readers of m.weibo.cn
(yt-dlp's weibo extractor, RSSHub's weibo routes, the weibo crawlers) replay it:

1. POST `{visitor_url}/visitor/genvisitor2`, form `cb=visitor_gray_callback&tid=&
   from=weibo&webdriver=false`, answers JSONP
   `visitor_gray_callback({"retcode":20000000,"msg":"succ","data":{...}})`. Its
   `data` carries the cookie values `sub` and `subp`, or (the older flow) a `tid`
   with `confidence` and `new_tid`, and then
2. GET `{visitor_url}/visitor/visitor?a=incarnate&t=<tid>&w=<3 if new_tid else 2>&
   c=<confidence, 3 digits>&gc=&cb=cross_domain&from=weibo&_rand=<random>` answers
   `cross_domain({"retcode":20000000,"data":{"sub":...,"subp":...}})`.

Either answer may carry the values as `Set-Cookie` headers instead. The cookie
`SUB=...; SUBP=...` is a secret: it lives in one `VisitorPass` per adapter
instance (per process), never in adapter state, the database, a detail or a log.
Its requests go through the checker's HTTP client, paced as Weibo requests.

Renewal: when the wall comes back for the cookie in use. A flow that failed, or
a fresh cookie that met the wall again (the wall is then about the account or
the network, not the cookie), is not repeated for RETRY_S.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from adapters._http import Fetched, FetchFailure, fetch, post_form
from adapters.base import AdapterContext
from monitor.messages import Message, message
from monitor.models import MessageCode as C

RETRY_S = 600.0
OK_RETCODE = 20000000
# A visitor-system answer is a line of JSONP; more than this is not one.
MAX_ANSWER_BYTES = 64 * 1024
GEN_FORM = {"cb": "visitor_gray_callback", "tid": "", "from": "weibo", "webdriver": "false"}
_JSONP = re.compile(r"\(\s*(\{.*\})\s*\)\s*;?\s*$", re.DOTALL)
# Cookie values go into a header: only RFC 6265 cookie-octets are taken.
_VALUE = re.compile(r"[!#$%&'()*+\-./0-9:<=>?@A-Z\[\]^_`a-z{|}~]+")


class VisitorPass:
    """The visitor cookie of one adapter instance, obtained and renewed on demand."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.cookie: str | None = None
        self._clock = clock
        self._quiet_until = 0.0
        self._why: Message | str = ""
        self._locks: dict[asyncio.AbstractEventLoop, asyncio.Lock] = {}

    def _lock(self) -> asyncio.Lock:
        # One lock per event loop: an adapter may outlive the loop of its first check.
        loop = asyncio.get_running_loop()
        lock = self._locks.get(loop)
        if lock is None:
            self._locks = {loop: (lock := asyncio.Lock())}
        return lock

    async def renew(
        self, ctx: AdapterContext, stale: str | None
    ) -> tuple[str | None, Message | str]:
        """A cookie to try past the wall `stale` (the cookie just sent) met, or why there is none.

        Concurrent checks that meet the wall run the flow once between them.
        """
        async with self._lock():
            if self.cookie is not None and self.cookie != stale:
                return self.cookie, ""
            if self._clock() < self._quiet_until:
                return None, self._why
            cookie, why = await obtain(ctx)
            self.cookie = cookie
            if cookie is None:
                self.quiet(why)
            return cookie, why

    def quiet(self, why: Message | str) -> None:
        """Run no flow for RETRY_S; checks meeting the wall meanwhile are told `why`."""
        self._quiet_until = self._clock() + RETRY_S
        self._why = message(C.VISITOR_QUIET, why=why, seconds=f"{RETRY_S:g}")


async def obtain(ctx: AdapterContext) -> tuple[str | None, Message | str]:
    """Run the visitor flow: (the cookie, "") or (None, why it failed)."""
    base = ctx.settings.weibo.visitor_url.rstrip("/")
    http = ctx.settings.http
    headers = {"User-Agent": http.user_agent, "Referer": f"{base}/visitor/visitor"}
    timeout, cap = http.timeout_s, min(http.max_body_bytes, MAX_ANSWER_BYTES)
    got = await post_form(
        ctx.http,
        f"{base}/visitor/genvisitor2",
        GEN_FORM,
        headers=headers,
        timeout=timeout,
        max_bytes=cap,
    )
    data = _answer(got, "genvisitor2")
    if isinstance(data, Message):
        return None, data
    cookie = _cookie(data, got)
    if cookie:
        return cookie, ""
    tid = data.get("tid")
    if not isinstance(tid, str) or not tid:
        return None, message(C.VISITOR_NO_TID)
    confidence = data.get("confidence")
    query = urlencode(
        {
            "a": "incarnate",
            "t": tid,
            "w": "3" if data.get("new_tid") else "2",
            "c": f"{confidence if isinstance(confidence, int) else 100:03d}",
            "gc": "",
            "cb": "cross_domain",
            "from": "weibo",
            "_rand": f"{random.random():.16f}",
        }
    )
    got = await fetch(
        ctx.http, f"{base}/visitor/visitor?{query}", headers=headers, timeout=timeout, max_bytes=cap
    )
    data = _answer(got, "incarnate")
    if isinstance(data, Message):
        return None, data
    cookie = _cookie(data, got)
    return (cookie, "") if cookie else (None, message(C.VISITOR_NO_SUB))


def _answer(got: Fetched | FetchFailure, what: str) -> dict[str, Any] | Message:
    """The `data` of a successful visitor-system answer, or why it is not one."""
    if isinstance(got, FetchFailure):
        return message(C.STEP, what=what, detail=got.detail)
    if got.status != 200:
        return message(C.STEP_HTTP, what=what, status=got.status)
    if got.too_large:
        return message(C.VISITOR_TOO_LARGE, what=what, cap=MAX_ANSWER_BYTES)
    text = got.text.strip()
    match = _JSONP.search(text)
    try:
        answer = json.loads(match[1] if match else text)
    except ValueError:
        return message(C.VISITOR_NOT_JSONP, what=what)
    if not isinstance(answer, dict):
        return message(C.VISITOR_NOT_JSONP, what=what)
    retcode = answer.get("retcode")
    if retcode != OK_RETCODE:
        msg = " ".join(str(answer.get("msg") or "").split())[:80]
        return message(C.VISITOR_RETCODE, what=what, retcode=str(retcode), msg=msg)
    data = answer.get("data")
    return data if isinstance(data, dict) else message(C.VISITOR_NO_DATA, what=what)


def _cookie(data: dict[str, Any], got: Fetched | FetchFailure) -> str | None:
    """`SUB=...; SUBP=...` from the answer's data, else from its Set-Cookie headers."""
    values = {"SUB": data.get("sub"), "SUBP": data.get("subp")}
    if not all(isinstance(v, str) and _VALUE.fullmatch(v) for v in values.values()):
        jar = got.headers.get("set-cookie", "") if isinstance(got, Fetched) else ""
        values = {name: _set_cookie(jar, name) for name in values}
    if not all(values.values()):
        return None
    return "; ".join(f"{name}={value}" for name, value in values.items())


def _set_cookie(jar: str, name: str) -> str | None:
    found = re.search(rf"(?:^|[,;]\s*){name}=([^;,\s]+)", jar)
    return found[1] if found and _VALUE.fullmatch(found[1]) else None
