"""Platform sources: a registry from source name to adapter class, imported on first use.

    get_adapter("weibo").check(target, ctx) -> CheckResult

`choose_source` decides which source checks a roster account; `close_adapters`
releases what adapters hold (the WeChat worker threads) at shutdown.
"""

from __future__ import annotations

import importlib
import threading

from adapters.base import Adapter
from monitor.models import AccountView

REGISTRY: dict[str, str] = {
    "weibo": "adapters.weibo:WeiboAdapter",
    "wechat_api": "adapters.wechat:WechatApiAdapter",
    "feed": "adapters.feed:FeedAdapter",
}
NO_SOURCE_REASON = "no source configured"

_instances: dict[str, Adapter] = {}
_lock = threading.Lock()


class UnknownSourceError(LookupError):
    """A source name that is not in the registry."""

    def __init__(self, name: str):
        known = ", ".join(sorted(REGISTRY))
        super().__init__(f"unknown source {name!r}; known sources: {known}")
        self.name = name


def get_adapter(name: str) -> Adapter:
    """The shared adapter instance for a source name (kept so caches such as tokens persist)."""
    with _lock:
        if name in _instances:
            return _instances[name]
        try:
            spec = REGISTRY[name]
        except KeyError:
            raise UnknownSourceError(name) from None
        module_name, _, class_name = spec.partition(":")
        cls = getattr(importlib.import_module(module_name), class_name)
        adapter: Adapter = cls()
        _instances[name] = adapter
        return adapter


def close_adapters() -> None:
    """Close every adapter created so far that holds resources (thread pools)."""
    with _lock:
        adapters = list(_instances.values())
        _instances.clear()
    for adapter in adapters:
        close = getattr(adapter, "close", None)
        if callable(close):
            close()


def choose_source(
    platform: str,
    source: str | None,
    account_id: str | None,
    feed_url: str | None,
    appid: str | None,
    secret_env: str | None,
) -> str | None:
    """The source that checks an account: the roster's, else the platform default, else None.

    None means the account stays unknown with reason NO_SOURCE_REASON.
    """
    chosen = (source or "").strip()
    if chosen:
        return chosen
    platform = str(platform or "").strip().lower()
    if platform == "weibo":
        return "weibo"
    # A WeChat account's id in the roster is its AppID unless one is given.
    has_appid = bool((appid or account_id or "").strip())
    if platform == "wechat" and has_appid and (secret_env or "").strip():
        return "wechat_api"
    if (feed_url or "").strip():
        return "feed"
    return None


def source_for(account: AccountView) -> str | None:
    """The source that checks a roster account (see `choose_source`)."""
    return choose_source(
        account.platform.value,
        account.source,
        account.account_id,
        account.feed_url,
        account.appid,
        account.secret_env,
    )
