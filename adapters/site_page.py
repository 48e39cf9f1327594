"""Reading a government website's page: bytes to text by charset, then its list items.

`decode_page(body, content_type)` decodes by the declared charset (the Content-Type
header, then a `<meta>` in the first bytes), else by sniffing (UTF-8 if it decodes
strictly, else GB18030, the superset of GBK and GB2312 that Chinese CMSs write).

`read_page(text, base_url, today, date_selector)` parses with a real HTML parser
(selectolax, lexbor) and returns the page's list items with their dates and the
links on it. Dates come from list items only: the page's header, footer, navigation
and copyright line are removed before items are looked for, so "©2024" or a date
in a banner never counts as an update.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from datetime import date
from urllib.parse import urldefrag, urljoin

from selectolax.lexbor import LexborHTMLParser, LexborNode

from adapters.site_dates import find_date

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:-]+)", re.I)
# Every GB encoding is read as GB18030: it decodes GBK and GB2312 bytes alike.
_GB = {"gb2312", "gbk", "gb18030", "gb_2312_80", "x_gbk", "cp936", "ms936", "euc_cn", "hz"}

# Parts of a page that are not its listing: removed before items are read.
_CHROME_TAGS = "header, footer, nav, script, style, noscript, template"
# A class or id token that starts with one of these words marks page chrome ("footer",
# "nav-top", "copyright_info"); "news-top" or "list-head" do not.
_CHROME_NAME = re.compile(
    r"(?:^|\s)(header|footer|foot|bottom|copyright|nav|navbar|menu|banner)(?:$|[\s_-])",
    re.I,
)
_ITEM_TAGS = ("li", "tr", "dd")
# A "list item" holding one of these is a copyright or footer line outside any footer
# element (版权所有 © 2026, 备案号, 网站标识码): never an item, its date never an update.
_COPYRIGHT = re.compile(r"版权所有|copyright|©|ICP备|网站标识码|技术支持|主办单位[:：]", re.I)


@dataclass(frozen=True, slots=True)
class ListItem:
    """One entry of a listing: its title, link and the date written beside it (if any)."""

    title: str
    url: str
    day: date | None


@dataclass(slots=True)
class PageRead:
    """What a page holds: list items (dated or not), every link, and the navigation links."""

    items: list[ListItem] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    nav: list[tuple[str, str]] = field(default_factory=list)

    @property
    def newest(self) -> ListItem | None:
        """The item with the newest date (items without a date are not updates)."""
        dated = [item for item in self.items if item.day is not None]
        return max(dated, key=lambda item: item.day or date.min) if dated else None


def _codec(name: str | None) -> str | None:
    if not name:
        return None
    key = name.strip().lower().replace("-", "_")
    if key in _GB:
        return "gb18030"
    try:
        return codecs.lookup(name.strip()).name
    except LookupError:
        return None


def declared_charset(body: bytes, content_type: str | None) -> str | None:
    """The charset the response declares (header first, then a meta tag), if Python knows it."""
    if content_type and (m := _HEADER_CHARSET.search(content_type)):
        found = _codec(m[1])
        if found:
            return found
    if meta := _META_CHARSET.search(body[:4096]):
        return _codec(meta[1].decode("ascii", "replace"))
    return None


def decode_page(body: bytes, content_type: str | None = None) -> tuple[str, str]:
    """(text, encoding used): declared charset, else BOM, else strict UTF-8, else GB18030."""
    if body.startswith(codecs.BOM_UTF8):
        return body[3:].decode("utf-8", "replace"), "utf-8"
    declared = declared_charset(body, content_type)
    if declared:
        return body.decode(declared, "replace"), declared
    try:
        return body.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return body.decode("gb18030", "replace"), "gb18030"


def _is_chrome(node: LexborNode) -> bool:
    attrs = node.attributes
    names = " ".join(v for k, v in attrs.items() if k in ("id", "class") and v)
    return bool(names and _CHROME_NAME.search(names))


def _text(node: LexborNode) -> str:
    return " ".join(node.text(separator=" ").split())


def _absolute(base: str, href: str | None) -> str | None:
    if not href:
        return None
    href = href.strip()
    if not href or href.startswith(("#", "javascript:", "mailto:", "tel:", "data:")):
        return None
    url, _ = urldefrag(urljoin(base, href))
    return url if url.startswith(("http://", "https://")) else None


def _link_of(node: LexborNode, base: str) -> tuple[str, str] | None:
    for a in node.css("a[href]"):
        url = _absolute(base, a.attributes.get("href"))
        if url:
            return _text(a), url
    return None


def read_page(text: str, base_url: str, today: date, date_selector: str | None = None) -> PageRead:
    """The list items of a page (with dates read as of `today`), its links and navigation."""
    tree = LexborHTMLParser(text)
    out = PageRead()
    seen: set[str] = set()
    for a in tree.css("a[href]"):
        url = _absolute(base_url, a.attributes.get("href"))
        if url and url not in seen:
            seen.add(url)
            out.links.append(url)
    for nav in tree.css(
        "nav a[href], [class*=nav] a[href], [id*=nav] a[href], [class*=menu] a[href]"
    ):
        url = _absolute(base_url, nav.attributes.get("href"))
        if url:
            out.nav.append((_text(nav), url))
    body = tree.body
    if body is None:
        return out
    for node in body.css(_CHROME_TAGS):
        node.decompose()
    for node in list(body.traverse(include_text=False)):
        if node.tag not in ("body", "html") and node.parent is not None and _is_chrome(node):
            node.decompose()
    if date_selector:
        for node in body.css(date_selector):
            item = _item_around(node, base_url)
            title, url = item if item else ("", base_url)
            out.items.append(ListItem(title, url, find_date(_text(node), today)))
        return out
    for node in body.css(", ".join(_ITEM_TAGS)):
        if len(node.css(", ".join(_ITEM_TAGS))) > 1:
            continue  # a list of lists: its leaves are the items (css() includes the node)
        link = _link_of(node, base_url)
        text = _text(node)
        if link is None or _COPYRIGHT.search(text):
            continue
        out.items.append(ListItem(link[0], link[1], find_date(text, today)))
    return out


def _item_around(node: LexborNode, base: str) -> tuple[str, str] | None:
    """The link of the list item a date element belongs to (its nearest ancestor with one)."""
    current: LexborNode | None = node
    for _ in range(4):
        if current is None:
            break
        link = _link_of(current, base)
        if link:
            return link
        current = current.parent
    return None
