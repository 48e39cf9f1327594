"""How the details adapters write about a check are worded (codes in `MessageCode`).

The English wording is each detail's text from before it had a code, so the JSON
`detail` field reads as it did. A parameter may itself be a message (a dict with
`code` and `params`): a step ("profile"), a guard's reason, the detail a body
excerpt follows. `check.parts` joins a list of them.
"""

from __future__ import annotations

from monitor.models import MessageCode as C
from monitor.wording import Wording

W = Wording
_ERR = ("error_type", "error")
COOKIE_HINT_EN = "set weibo.cookie (MONITOR_WEIBO__COOKIE, a secret) to a visitor cookie"
COOKIE_HINT_ZH = "请把 weibo.cookie（环境变量 MONITOR_WEIBO__COOKIE，属于密钥）设为访客 Cookie"
WECHAT_AUTH_TERMS = {
    "access token rejected after a refresh": "刷新后 access_token 仍被拒绝",
    "invalid grant type": "grant_type 无效",
    "invalid AppID": "AppID 无效",
    "invalid AppSecret": "AppSecret 无效",
    "caller IP is not in the account's IP whitelist": "调用方 IP 不在该公众号的 IP 白名单中",
    "AppID missing": "缺少 AppID",
    "AppSecret missing": "缺少 AppSecret",
    "access token expired again after a refresh": "刷新后 access_token 又已过期",
    "API not authorized for this account": "该公众号无权调用此接口",
    "account restricted from this API": "该公众号被限制调用此接口",
}
WEIBO_REFUSAL_TERMS = {
    "too many requests": "请求过于频繁",
    "login or verification required": "需要登录或验证",
    "platform busy": "平台繁忙",
    "platform says the account is restricted": "平台称该账号受限",
}

CHECK_WORDINGS: dict[str, Wording] = {
    # -- shared by every adapter --
    C.WITH_BODY: W("{detail}；响应内容：{body!r}", "{detail}; body: {body!r}", quoted=("body",)),
    C.PARTS: W("{parts}", "{parts}"),
    C.STEP: W("{what}：{detail}", "{what}: {detail}"),
    C.STEP_HTTP: W("{what}：HTTP {status}", "{what}: HTTP {status}"),
    C.HTTP_TIMEOUT: W(
        "请求超时（{seconds} 秒，{error_type}）",
        "timed out after {seconds}s ({error_type})",
        quoted=("error_type",),
    ),
    C.TIMED_OUT: W("请求超时（{error_type}）", "timed out ({error_type})", quoted=("error_type",)),
    C.INVALID_URL: W("地址无效：{error}", "invalid URL: {error}", quoted=("error",)),
    C.CONNECTION_FAILED: W(
        "连接失败（{error_type}: {error}）",
        "connection failed ({error_type}: {error})",
        quoted=_ERR,
    ),
    C.REFUSED_OTHER: W("出站规则拒绝了该地址：{reason}", "{reason}", quoted=("reason",)),
    # -- the outbound guard --
    C.GUARD_ADDRESS_KIND: W(
        "{kind}地址",
        "a {kind} address",
        terms={
            "kind": {
                "loopback": "本机回环",
                "unspecified": "未指定",
                "link-local": "链路本地",
                "multicast": "组播",
                "reserved": "保留",
                "private": "内网（私有）",
                "site-local": "站点本地",
                "non-global": "非公网",
            }
        },
    ),
    C.GUARD_TEREDO: W("Teredo 隧道地址", "a Teredo tunnel address"),
    C.GUARD_EMBEDDED: W(
        "{inner}（内嵌于 {addr}）", "{inner} (embedded in {addr})", quoted=("addr",)
    ),
    C.GUARD_METADATA: W("云元数据服务地址", "a cloud metadata address"),
    C.GUARD_LINK_LOCAL: W(
        "链路本地地址（云元数据服务所在网段）", "a link-local address (cloud metadata lives there)"
    ),
    C.GUARD_REFUSED_HOST: W(
        "已拒绝 {host}：{reason}", "refused {host}: {reason}", quoted=("host",)
    ),
    C.GUARD_UNREADABLE_PEER: W(
        "已拒绝 {host}：连接到了无法识别的地址 {peer!r}",
        "refused {host}: connected to an unreadable address {peer!r}",
        quoted=("host", "peer"),
    ),
    C.GUARD_REBINDING: W(
        "已拒绝 {host}：实际连接到 {addr}，{reason}（检查时该域名解析到另一个地址，可能是 DNS 重绑定）",
        "refused {host}: connected to {addr}, {reason} "
        "(the name resolved to another address when checked: DNS rebinding?)",
        quoted=("host", "addr"),
    ),
    C.GUARD_NOT_ABSOLUTE: W(
        "已拒绝 {url!r}：不是完整的 http(s) 地址",
        "refused {url!r}: not an absolute http(s) URL",
        quoted=("url",),
    ),
    C.GUARD_SCHEME: W(
        "已拒绝 {url!r}：协议 {scheme!r} 不是 http 或 https",
        "refused {url!r}: scheme {scheme!r} is not http or https",
        quoted=("url", "scheme"),
    ),
    C.GUARD_UNREADABLE_RESOLVED: W(
        "已拒绝 {host}：域名解析返回了无法识别的地址 {address!r}",
        "refused {host}: resolver returned unreadable address {address!r}",
        quoted=("host", "address"),
    ),
    C.GUARD_RESOLVES_TO: W(
        "已拒绝 {host}：解析到 {addr}，{reason}",
        "refused {host}: resolves to {addr}, {reason}",
        quoted=("host", "addr"),
    ),
    C.GUARD_UNIX_SOCKET: W(
        "已拒绝本地套接字 {path!r}：不是出站地址",
        "refused unix socket {path!r}: not an outbound address",
        quoted=("path",),
    ),
    # -- feed --
    C.FEED_UNEXPECTED: W(
        "读取订阅时出现意外错误：{error_type}: {error}",
        "unexpected error while reading the feed: {error_type}: {error}",
        quoted=_ERR,
    ),
    C.FEED_NO_URL: W("未配置订阅地址", "no feed URL configured"),
    C.FEED_REDIRECT_REFUSED: W(
        "第 {hop} 次跳转到 {url}：{reason}",
        "redirect hop {hop} to {url}: {reason}",
        quoted=("url",),
    ),
    C.FEED_REDIRECT_NO_LOCATION: W(
        "HTTP {status} 跳转，但没有 Location 头", "HTTP {status} redirect without a Location header"
    ),
    C.FEED_TOO_MANY_REDIRECTS: W(
        "跳转超过 {max} 次（最后一次：{url}）",
        "more than {max} redirects (last: {url})",
        quoted=("url",),
    ),
    C.FEED_HTTP: W("订阅源返回 HTTP {status}", "HTTP {status} from the feed"),
    C.FEED_ROUTE_MISSING: W(
        "HTTP {status}：订阅路由不存在（桥接服务故障或地址有误，不能说明账号已不存在）",
        "HTTP {status}: feed route missing (broken bridge or wrong URL; "
        "not evidence the account is gone)",
    ),
    C.FEED_WANTS_CREDENTIALS: W(
        "HTTP {status}：订阅源要求登录凭据", "HTTP {status}: the feed wants credentials"
    ),
    C.FEED_ACCESS_REFUSED: W("HTTP {status}：拒绝访问", "HTTP {status}: access refused"),
    C.FEED_UNEXPECTED_STATUS: W("意外的 HTTP {status}", "unexpected HTTP {status}"),
    C.FEED_TOO_LARGE: W(
        "订阅内容超过 {cap} 字节（http.max_body_bytes）",
        "feed larger than {cap} bytes (http.max_body_bytes)",
    ),
    C.FEED_304_NOTHING_STORED: W(
        "HTTP 304（未修改），但没有保存的最新发布可以沿用",
        "HTTP 304 but no stored latest post to repeat",
    ),
    C.FEED_NOT_MODIFIED: W("未修改（沿用上次读到的最新发布）", "not modified"),
    C.FEED_LOGIN_PAGE: W(
        "返回的是 HTML 登录/验证页面，而不是订阅内容",
        "HTML login/verification page instead of a feed",
    ),
    C.FEED_HTML_PAGE: W("返回的是 HTML 页面，而不是订阅内容", "HTML page instead of a feed"),
    C.FEED_BAD_JSON: W(
        "不是 RSS/Atom 或 JSON 订阅（JSON 无效：{error}）",
        "not an RSS/Atom or JSON feed (bad JSON: {error})",
        quoted=("error",),
    ),
    C.FEED_NOT_JSON_FEED: W(
        "JSON 内容不是 JSON Feed（没有 jsonfeed.org 版本号）",
        "JSON that is not a JSON Feed (no jsonfeed.org version)",
    ),
    C.FEED_JSON_NO_ITEMS: W("JSON Feed 中没有 items 列表", "JSON Feed without an items list"),
    C.FEED_NOT_A_FEED: W(
        "不是 RSS/Atom 订阅（{error_type}）",
        "not an RSS/Atom feed ({error_type})",
        quoted=("error_type",),
    ),
    C.FEED_UNKNOWN_FORMAT: W(
        "不是 RSS/Atom 订阅（无法识别的格式）", "not an RSS/Atom feed (unknown format)"
    ),
    C.FEED_NOT_WELL_FORMED: W(
        "订阅内容不是格式正确的 XML（{error}）",
        "feed is not well-formed XML ({error})",
        quoted=("error",),
    ),
    C.FEED_NO_ENTRIES: W("订阅中没有任何条目", "feed has no entries"),
    C.FEED_NO_DATES: W(
        "{entries} 个条目都没有发布或更新时间",
        "none of the {entries} entries has a published/updated date",
    ),
    C.FEED_ENTRIES: W("共 {entries} 个条目，{dated} 个带时间", "{entries} entries, {dated} dated"),
    # -- wechat_api --
    C.WECHAT_UNEXPECTED: W(
        "意外错误：{error_type}: {error}", "unexpected error: {error_type}: {error}", quoted=_ERR
    ),
    C.WECHAT_NO_APPID: W("未配置 AppID", "no AppID"),
    C.WECHAT_NO_SECRET_ENV: W("未配置存放 AppSecret 的环境变量", "no AppSecret env var"),
    C.WECHAT_SECRET_UNSET: W("环境变量 {env} 未设置", "env var {env} not set", quoted=("env",)),
    C.WECHAT_NOT_READY: W(
        "{endpoint}：{day} 的数据尚未生成（is_delay）",
        "{endpoint}: data for {day} not ready yet (is_delay)",
    ),
    C.WECHAT_NO_DATACUBE: W(
        "没有能读出发表日期的 datacube 接口：{reason}",
        "no datacube endpoint gives send dates: {reason}",
    ),
    C.WECHAT_BEFORE_REACH: W(
        "{endpoint} 没有 {reach} 之前的数据（wechat.datacube_from），截至 {newest} 的日期都无法读取",
        "{endpoint} has no data before {reach} (wechat.datacube_from), "
        "so no day up to {newest} can be read",
    ),
    C.WECHAT_ENDPOINT_REFUSED: W(
        "{endpoint} 拒绝调用（errcode {errcode}: {errmsg}）",
        "{endpoint} refused (errcode {errcode}: {errmsg})",
        quoted=("errmsg",),
    ),
    C.WECHAT_BOTH_REFUSED: W(
        "{refusal}；{endpoint} 也拒绝调用（errcode {errcode}: {errmsg}）",
        "{refusal}; {endpoint} refused too (errcode {errcode}: {errmsg})",
        quoted=("errmsg",),
    ),
    C.WECHAT_HTTP_429: W("微信接口返回 HTTP 429（限流）", "HTTP 429 from the WeChat API"),
    C.WECHAT_HTTP: W("微信接口返回 HTTP {status}", "HTTP {status} from the WeChat API"),
    C.WECHAT_IP_WHITELIST: W(
        "IP 白名单：调用方 IP 不在该公众号的 IP 白名单中（errcode 40164: {errmsg}）",
        "IP whitelist: caller IP is not in the account's IP whitelist (errcode 40164: {errmsg})",
        quoted=("errmsg",),
    ),
    C.WECHAT_AUTH: W(
        "{problem}（errcode {errcode}: {errmsg}）",
        "{problem} (errcode {errcode}: {errmsg})",
        quoted=("errmsg",),
        terms={"problem": WECHAT_AUTH_TERMS},
    ),
    C.WECHAT_QUOTA: W(
        "接口调用次数已达上限（errcode {errcode}: {errmsg}）",
        "API call quota reached (errcode {errcode}: {errmsg})",
        quoted=("errmsg",),
    ),
    C.WECHAT_BUSY: W(
        "微信系统繁忙（errcode {errcode}: {errmsg}）",
        "WeChat system busy (errcode {errcode}: {errmsg})",
        quoted=("errmsg",),
    ),
    C.WECHAT_ERRCODE: W(
        "意外的 errcode {errcode}: {errmsg}",
        "unexpected errcode {errcode}: {errmsg}",
        quoted=("errmsg",),
    ),
    C.WECHAT_UNEXPECTED_RESPONSE: W(
        "无法读取的应答（{error_type}: {error}）",
        "unexpected response ({error_type}: {error})",
        quoted=_ERR,
    ),
    C.WECHAT_UNEXPECTED_ERROR: W(
        "意外错误（{error_type}: {error}）", "unexpected error ({error_type}: {error})", quoted=_ERR
    ),
    C.WECHAT_TOKEN_NOT_JSON: W("获取 access_token：应答不是 JSON", "token: not JSON"),
    C.WECHAT_TOKEN_NOT_OBJECT: W(
        "获取 access_token：应答不是 JSON 对象", "token: not a JSON object"
    ),
    C.WECHAT_TOKEN_MISSING: W(
        "获取 access_token：应答中没有 access_token", "token: no access_token"
    ),
    C.WECHAT_TOO_LARGE: W(
        "应答超过 {cap} 字节（http.max_body_bytes）",
        "answer larger than {cap} bytes (http.max_body_bytes)",
    ),
    C.WECHAT_DAY_NO_LIST: W("{endpoint} {day}：应答中没有 list 列表", "{endpoint} {day}: no list"),
    C.WECHAT_DAY_NOT_ARTICLE: W(
        "{endpoint} {day}：list 中的条目不是文章", "{endpoint} {day}: list item is not an article"
    ),
    C.WECHAT_DAY_OTHER_DATE: W(
        "{endpoint} {day}：文章日期为 {ref_date}",
        "{endpoint} {day}: article dated {ref_date}",
        quoted=("ref_date",),
    ),
    C.WECHAT_FP_NO_LIST: W(
        "freepublish/batchget：应答中没有 item 列表", "freepublish/batchget: no item list"
    ),
    C.WECHAT_FP_NOT_OBJECT: W(
        "freepublish/batchget：item 不是对象", "freepublish/batchget: item is not an object"
    ),
    C.WECHAT_FP_NO_TIME: W(
        "freepublish/batchget：item 没有可读的 update_time",
        "freepublish/batchget: item without a readable update_time",
    ),
    C.WECHAT_LATEST: W(
        "最新发布来自 {via}；{scope}",
        "latest via {via}; {scope}",
        terms={
            "via": {
                "freepublish": "freepublish（已发布列表）",
                "datacube send date": "datacube 的群发日期",
            }
        },
    ),
    C.WECHAT_NO_POST: W(
        "自 {since} 起没有发布（freepublish 为空）；{scope}",
        "no post since {since} (freepublish empty); {scope}",
    ),
    C.WECHAT_SCOPE: W(
        "本次检测 {endpoint} 扫描了 {days} 天，截至 {through}",
        "{endpoint} scanned {days} day(s) this check, through {through}",
    ),
    C.WECHAT_SCOPE_FALLBACK: W("{scope}（{refusal}）", "{scope} ({refusal})"),
    C.WECHAT_SCOPE_GAP: W(
        "{scope}；{floor} 至 {until} 尚待扫描", "{scope}; days {floor}..{until} still to scan"
    ),
    # -- weibo --
    C.WEIBO_UNEXPECTED: W(
        "读取微博时出现意外错误：{error_type}: {error}",
        "unexpected error while reading Weibo: {error_type}: {error}",
        quoted=_ERR,
    ),
    C.WEIBO_PROFILE: W("主页资料", "profile"),
    C.WEIBO_TIMELINE_PAGE: W("时间线第 {page} 页", "timeline page {page}"),
    C.WEIBO_NOT_UID: W(
        "微博账号 ID {uid!r} 不是 UID（应为数字）",
        "Weibo account id {uid!r} is not a UID",
        quoted=("uid",),
    ),
    C.WEIBO_NO_CARDS: W("时间线中没有 data.cards 列表", "timeline has no data.cards list"),
    C.WEIBO_PAGE_ERROR: W("时间线第 {page} 页：{error}", "timeline page {page}: {error}"),
    C.WEIBO_CARD_NOT_OBJECT: W(
        "卡片是 {type}，不是对象", "card is {type}, not an object", quoted=("type",)
    ),
    C.WEIBO_MBLOG_NOT_OBJECT: W("mblog 不是对象", "mblog is not an object"),
    C.WEIBO_NO_CREATED_AT: W(
        "发布 {post} 没有 created_at", "post {post} has no created_at", quoted=("post",)
    ),
    C.WEIBO_NO_POST_ID: W("发布没有 id", "post has no id"),
    C.WEIBO_TIME_FORM: W(
        "无法识别的微博时间格式 {text!r}", "unknown Weibo time form {text!r}", quoted=("text",)
    ),
    C.WEIBO_BAD_DATE: W("无效的微博日期 {text!r}", "invalid Weibo date {text!r}", quoted=("text",)),
    C.WEIBO_BAD_DATE_WHY: W(
        "无效的微博日期 {text!r}：{error}",
        "invalid Weibo date {text!r}: {error}",
        quoted=("text", "error"),
    ),
    C.WEIBO_BAD_TIME: W(
        "无效的时间 {hour}:{minute}:{second}：{error}",
        "invalid time {hour}:{minute}:{second}: {error}",
        quoted=("error",),
    ),
    C.WEIBO_BAD_MONTH: W("无法识别的月份 {month!r}", "unknown month {month!r}", quoted=("month",)),
    C.WEIBO_WALL_COOKIE_REFUSED: W(
        "{wall}；配置的 weibo.cookie 被拒绝：请更新（MONITOR_WEIBO__COOKIE）",
        "{wall}; the configured weibo.cookie was refused: renew it (MONITOR_WEIBO__COOKIE)",
    ),
    C.WEIBO_WALL_NO_AUTO: W(
        "{wall}；" + COOKIE_HINT_ZH + '，或设置 weibo.visitor = "auto" 自动获取',
        "{wall}; " + COOKIE_HINT_EN + ', or weibo.visitor = "auto" to get one',
    ),
    C.WEIBO_WALL_AGAIN: W(
        "{wall}，换用新的访客 Cookie 后依然如此", "{wall}, even with a new visitor cookie"
    ),
    C.WEIBO_WALL_VISITOR_FAILED: W(
        "{wall}；获取访客 Cookie 失败：{why}；" + COOKIE_HINT_ZH,
        "{wall}; getting a visitor cookie failed: {why}; " + COOKIE_HINT_EN,
    ),
    C.WEIBO_WALL_REDIRECT: W(
        "{what}：被跳转到 {page}（访客验证墙）",
        "{what}: redirected to {page} (visitor wall)",
        quoted=("page",),
    ),
    C.WEIBO_WALL_OK_100: W(
        "{what}：ok:-100，需要登录或访客 Cookie（访客验证墙）",
        "{what}: ok:-100, login or visitor cookie required (visitor wall)",
    ),
    C.WEIBO_RATE: W(
        "{what}：HTTP {status}（微博限流或反爬拦截）",
        "{what}: HTTP {status} (Weibo rate limit / anti-crawler wall)",
    ),
    C.WEIBO_REDIRECT: W(
        "{what}：被跳转到 {location}（登录或访客验证）",
        "{what}: redirected to {location} (login or visitor check)",
        quoted=("location",),
    ),
    C.WEIBO_401: W("{what}：HTTP 401（登录墙）", "{what}: HTTP 401 (login wall)"),
    C.WEIBO_REFUSED: W(
        "{what}：HTTP {status}（拒绝访问）", "{what}: HTTP {status} (access refused)"
    ),
    C.WEIBO_404: W("{what}：接口地址返回 HTTP 404", "{what}: HTTP 404 from the API endpoint"),
    C.WEIBO_TOO_LARGE: W("{what}：应答超过字节上限", "{what}: body larger than the byte cap"),
    C.WEIBO_HTML: W(
        "{what}：返回的是 HTML 页面而不是 JSON（登录墙）",
        "{what}: HTML page instead of JSON (login wall)",
    ),
    C.WEIBO_BAD_JSON: W(
        "{what}：JSON 无效（{error}）", "{what}: bad JSON ({error})", quoted=("error",)
    ),
    C.WEIBO_NOT_OBJECT: W("{what}：JSON 不是对象", "{what}: JSON is not an object"),
    C.WEIBO_CAPTCHA: W("{what}：验证码或验证跳转", "{what}: captcha / verification redirect"),
    C.WEIBO_NO_USERINFO: W(
        "主页资料：ok:1 但没有 data.userInfo", "profile: ok:1 but no data.userInfo"
    ),
    C.WEIBO_PROFILE_REFUSAL: W(
        "主页资料：{why}：{msg}",
        "profile: {why}: {msg}",
        quoted=("msg",),
        terms={"why": WEIBO_REFUSAL_TERMS},
    ),
    C.WEIBO_GONE: W(
        "主页资料：ok:0，没有 userInfo：{msg}", "profile: ok:0, no userInfo: {msg}", quoted=("msg",)
    ),
    C.WEIBO_PROFILE_UNKNOWN: W(
        "主页资料：没有 userInfo，也不是已知的拒绝原因", "profile: no userInfo and no known refusal"
    ),
    C.WEIBO_TIMELINE_REFUSAL: W(
        "时间线：{why}：{msg}",
        "timeline: {why}: {msg}",
        quoted=("msg",),
        terms={"why": WEIBO_REFUSAL_TERMS},
    ),
    C.WEIBO_TIMELINE_FIRST_PAGE: W(
        "时间线第 1 页：ok:{ok} {msg}", "timeline page 1: ok:{ok} {msg}", quoted=("ok", "msg")
    ),
    C.WEIBO_GUESSED_EMPTY: W(
        "时间线为空，但其容器 ID 是推测的：无法判定为无内容",
        "timeline empty, but its container was guessed: cannot tell 无内容",
    ),
    C.WEIBO_GUESSED_CONTAINER: W(
        "主页资料中没有微博标签页；推测 containerid 为 {container}",
        "no weibo tab in profile; guessed containerid {container}",
    ),
    C.WEIBO_NO_CONTENT: W(
        "时间线为空，且主页资料的 statuses_count 为 {statuses}",
        "timeline empty and profile statuses_count is {statuses}",
        quoted=("statuses",),
    ),
    C.WEIBO_HIDDEN: W(
        "主页资料显示 statuses_count={statuses}，但时间线上看不到任何发布（可见范围限制或访客验证墙）",
        "profile says statuses_count={statuses} but the timeline shows no posts "
        "(visibility limit or visitor wall)",
        quoted=("statuses",),
    ),
    C.WEIBO_POSTS_READ: W("读取了 {posts} 条发布", "{posts} posts read"),
    C.WEIBO_POSTS_READ_PINNED: W(
        "读取了 {posts} 条发布，其中 {pinned} 条置顶", "{posts} posts read, {pinned} pinned"
    ),
    C.WEIBO_LATEST_PINNED: W("最新一条是置顶发布", "latest is pinned"),
    C.WEIBO_KEPT_CONTAINER: W(
        "沿用 {read_at}（UTC）读取主页资料时记下的容器 {container}",
        "container {container} as named by the profile read at {read_at} UTC",
    ),
    C.VISITOR_TOO_LARGE: W("{what}：应答超过 {cap} 字节", "{what}: answer larger than {cap} bytes"),
    C.VISITOR_NOT_JSONP: W("{what}：应答不是 JSONP", "{what}: not a JSONP answer"),
    C.VISITOR_RETCODE: W(
        "{what}：retcode {retcode} {msg}",
        "{what}: retcode {retcode} {msg}",
        quoted=("retcode", "msg"),
    ),
    C.VISITOR_NO_DATA: W("{what}：应答中没有 data", "{what}: answer without data"),
    C.VISITOR_NO_TID: W(
        "genvisitor2 既没有给出 Cookie，也没有给出 tid",
        "genvisitor2 answered neither a cookie nor a tid",
    ),
    C.VISITOR_NO_SUB: W("incarnate 没有给出 sub/subp", "incarnate answered no sub/subp"),
    C.VISITOR_QUIET: W(
        "{why}（{seconds} 秒内不再尝试）", "{why} (not tried again for {seconds} s)"
    ),
    C.VISITOR_WALL_STAYED: W(
        "换用新的访客 Cookie 后验证墙依旧", "the wall stayed with a new visitor cookie"
    ),
    # -- government websites (the English is each detail's text from before it had a code) --
    C.SITE_HTTP: W("网页返回 HTTP {status}", "HTTP {status}"),
    C.SITE_TOO_LARGE: W(
        "网页超过 {cap} 字节（sites.max_page_bytes），未读取",
        "page larger than {cap} bytes",
    ),
    C.SITE_TOO_MANY_REDIRECTS: W("跳转超过 {max} 次", "more than {max} redirects"),
    C.SITE_ROBOTS_UNREACHABLE: W(
        "无法读取 robots.txt（按 RFC 9309，此时不得抓取任何网页）",
        "robots.txt could not be fetched (RFC 9309: nothing may be crawled)",
    ),
    C.SITE_ROBOTS_DISALLOWS: W("robots.txt 不允许抓取该网页", "robots.txt disallows this page"),
    C.SITE_LINKS_CHECKED: W(
        "检查了 {checked} 个链接，其中 {broken} 个无法访问",
        "{checked} link(s) checked, {broken} broken",
    ),
}
