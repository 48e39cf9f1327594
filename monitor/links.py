"""Links kept as evidence: only http(s) URLs are stored or shown, wherever they come from.

A post link reaches the store from an inspector (`monitor observe --url`, the
API) or from a platform's answer; `javascript:`, `data:`, `file:` and
scheme-relative links are dropped at the edge that speaks to a user (a clear
error) and at the store (silently: a platform's odd link is not worth a failed
check).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

MAX_LINK_CHARS = 4000
# Whitespace and control characters: browsers drop some of them inside a URL
# ("java\tscript:"), so a link holding any is no link.
_NOT_IN_A_LINK = re.compile(r"[\x00-\x20\x7f-\x9f\u2028\u2029]")


def http_link(text: object) -> str | None:
    """`text` without surrounding spaces when it is an absolute http(s) URL with a host; else None."""
    if not isinstance(text, str):
        return None
    url = text.strip()
    if not url or len(url) > MAX_LINK_CHARS or _NOT_IN_A_LINK.search(url):
        return None
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:  # e.g. "http://[::1"
        return None
    if parts.scheme.lower() not in ("http", "https") or not host:
        return None
    return url
