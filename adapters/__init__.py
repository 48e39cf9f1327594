"""Platform sources: every module here that states a `MANIFEST` is one, found at first use.

    get_adapter("weibo").check(target, ctx) -> CheckResult
    manifests()["feed"].label

Adding a source is one module (a `MANIFEST` and an adapter class named by it) and its
tests: the roster vocabulary, `choose_source`, the `limits.<source>` settings,
pacing, the guard's exempt origins and the CLI/API choices derive from the
manifests. `close_adapters` releases what adapters hold (the WeChat worker threads).
"""

from __future__ import annotations

import importlib
import pkgutil
import threading
from functools import cache
from typing import TYPE_CHECKING, Any

from adapters.base import Adapter, Manifest
from monitor.models import AccountView

if TYPE_CHECKING:
    from monitor.settings import Settings


NO_SOURCE_REASON = "no source configured"

_instances: dict[str, Adapter] = {}
_lock = threading.Lock()


@cache
def _registry() -> dict[str, tuple[Manifest, type]]:
    found: list[tuple[Manifest, type]] = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        manifest = getattr(module, "MANIFEST", None)
        if isinstance(manifest, Manifest):
            found.append((manifest, module.ADAPTER))
    found.sort(key=lambda item: item[0].priority)
    return {m.name: (m, cls) for m, cls in found}


def manifests() -> dict[str, Manifest]:
    """Every source's manifest by name, in the order they are tried."""
    return {name: m for name, (m, _) in _registry().items()}


def source_names() -> tuple[str, ...]:
    return tuple(_registry())


def adapter_class(name: str) -> type:
    """The adapter class a source's module names (UnknownSourceError for an unknown name)."""
    try:
        return _registry()[name][1]
    except KeyError:
        raise UnknownSourceError(name) from None


class UnknownSourceError(LookupError):
    """A source name that is not in the registry."""

    def __init__(self, name: str):
        known = ", ".join(sorted(_registry()))
        super().__init__(f"unknown source {name!r}; known sources: {known}")
        self.name = name


def get_adapter(name: str) -> Adapter:
    """The shared adapter instance for a source name (kept so caches such as tokens persist)."""
    with _lock:
        if name in _instances:
            return _instances[name]
        adapter: Adapter = adapter_class(name)()
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
    """The source that checks an account: the roster's, else the first manifest that handles it.

    None means the account stays unknown with reason NO_SOURCE_REASON.
    """
    chosen = (source or "").strip()
    if chosen:
        return chosen
    fields = {
        "account_id": account_id or "",
        "feed_url": feed_url or "",
        "appid": appid or "",
        "secret_env": secret_env or "",
    }
    platform = str(platform or "").strip().lower()
    for manifest in manifests().values():
        if manifest.handles(platform, fields):
            return manifest.name
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


def roster_aliases() -> dict[str, str]:
    """What a roster may write in 来源 (lower case) -> the source name."""
    out: dict[str, str] = {}
    for m in manifests().values():
        out[m.name.lower()] = m.name
        for alias in m.aliases:
            out[alias.lower()] = m.name
    return out


def source_urls(settings: Settings) -> list[tuple[str, str]]:
    """(URL prefix, source) of every source's own base URLs under these settings."""
    out = []
    for m in manifests().values():
        for path, under in m.origins:
            node: Any = settings
            for part in path.split("."):
                node = getattr(node, part, None)
            if isinstance(node, str) and node:
                out.append((node.rstrip("/") + under, m.name))
    return out
