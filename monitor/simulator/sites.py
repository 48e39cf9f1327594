"""Simulated government websites: pages, a generator with ground truth, and their rosters.

Paths (every site on the simulator's one host):

    /robots.txt                       allows everything but /site/*/private/
    /site/{code}/                     homepage: header and footer with today's date (which
                                      must never count), navigation to the columns, the
                                      homepage's own dated list, links (some broken)
    /site/{code}/col/{i}/             column i's listing (no items: an empty column)
    /site/{code}/art/{i}/{j}.html     an article (200)
    /site/{code}/missing/{k}.html     404: the broken links
    /site/{code}/home                 302 to the homepage (a roster may list either)

Pages are encoded as the site says (UTF-8, GBK or GB2312) and the charset declared
in the Content-Type header, a <meta> tag, or nowhere (the reader must sniff).
"""

from __future__ import annotations

import csv
import random
from datetime import date, timedelta
from html import escape
from pathlib import Path

from monitor.simulator.common import SHANGHAI
from monitor.simulator.http import Request, Response
from monitor.simulator.names import CITY_REGION, COUNTIES, unit_names
from monitor.simulator.scenario import DateForm, SimColumn, SimSite, SiteTruth
from monitor.simulator.world import World

PREFIX = "/site/"
ROBOTS = b"User-agent: *\nDisallow: /site/private/\n"
COLUMN_LABELS = ("动态要闻", "通知公告", "政策文件", "人事信息", "规划计划", "其他")
SITE_COLUMNS = ("site_code", "name", "url")


def written(day: date, form: DateForm) -> str:
    """A date as a listing writes it in `form`."""
    if form == "iso":
        return day.isoformat()
    if form == "slash":
        return f"{day.year}/{day.month:02d}/{day.day:02d}"
    if form == "dot":
        return f"{day.year}.{day.month:02d}.{day.day:02d}"
    if form == "cjk":
        return f"{day.year}年{day.month}月{day.day}日"
    if form == "bracket":
        return f"[{day.month:02d}-{day.day:02d}]"
    if form == "md":
        return f"{day.month:02d}-{day.day:02d}"
    return ""


def _chrome(site: SimSite, today: date) -> tuple[str, str]:
    # Today's date in the header and footer: a reader that takes dates from them would
    # see every site as fresh.
    header = (
        f'<div class="header"><h1>{escape(site.name)}</h1>'
        f"<span>今天是{today.year}年{today.month}月{today.day}日</span></div>"
    )
    footer = (
        f'<div id="footer"><p>主办单位：{escape(site.unit)} 网站标识码：{site.site_code}</p>'
        f"<p>版权所有 Copyright {today.year} 更新时间：{today.isoformat()}</p></div>"
    )
    return header, footer


def _page(site: SimSite, title: str, body: str, today: date) -> str:
    header, footer = _chrome(site, today)
    meta = f'<meta charset="{site.encoding}">' if site.declare == "meta" else ""
    nav = "".join(
        f'<li><a href="{PREFIX}{site.site_code}/col/{i}/">{escape(c.name)}</a></li>'
        for i, c in enumerate(site.columns)
    )
    return (
        f"<!DOCTYPE html><html><head>{meta}<title>{escape(title)}</title></head><body>"
        f'{header}<nav class="nav"><ul><li><a href="{PREFIX}{site.site_code}/">首页</a></li>'
        f"{nav}</ul></nav>{body}{footer}</body></html>"
    )


def _items(site: SimSite, index: int, dates: list[date], form: DateForm, table: bool) -> str:
    base = f"{PREFIX}{site.site_code}/art/{index}"
    if not dates:
        return '<div class="list"><p>暂无信息</p></div>'
    if table:
        rows = "".join(
            f'<tr><td><a href="{base}/{j}.html">信息 {j + 1}</a></td>'
            f'<td class="date">{written(d, form)}</td></tr>'
            for j, d in enumerate(dates)
        )
        return f'<table class="list">{rows}</table>'
    lis = "".join(
        f'<li><a href="{base}/{j}.html">关于{d.year}年工作安排的通知 {j + 1}</a>'
        f"<span>{written(d, form)}</span></li>"
        for j, d in enumerate(dates)
    )
    return f'<ul class="list">{lis}</ul>'


def homepage(site: SimSite, today: date) -> str:
    """The homepage's HTML."""
    broken = "".join(
        f'<a href="{PREFIX}{site.site_code}/missing/{k}.html">专题 {k + 1}</a>'
        for k in range(site.broken_links)
    )
    body = (
        f'<div class="main"><h2>要闻</h2>'
        f"{_items(site, 999, site.homepage_dates, site.homepage_form, False)}"
        f'<div class="links">{broken}</div></div>'
    )
    return _page(site, site.name, body, today)


def column_page(site: SimSite, index: int, today: date) -> str:
    """A column's listing page."""
    column = site.columns[index]
    body = f"<h2>{escape(column.name)}</h2>" + _items(
        site, index, column.dates, column.date_form, column.table
    )
    return _page(site, column.name, body, today)


def _encoded(site: SimSite, html: str, status: int = 200) -> Response:
    body = html.encode(site.encoding)
    kind = "text/html"
    if site.declare == "header":
        kind += f"; charset={site.encoding}"
    return Response(status, body, kind)


def handle(world: World, req: Request) -> Response:
    """Answer a request for /robots.txt or a page under /site/."""
    if req.path == "/robots.txt":
        return Response(200, ROBOTS, "text/plain; charset=utf-8")
    parts = req.path[len(PREFIX) :].split("/")
    site = world.sites.get(parts[0])
    if site is None:
        return Response(404, b"not found", "text/plain; charset=utf-8")
    today = world.now().astimezone(SHANGHAI).date()
    rest = [p for p in parts[1:] if p]
    if not rest:
        n = world.homepage_requests.get(site.site_code, 0)
        world.homepage_requests[site.site_code] = n + 1
        if site.homepage_fault == "down" or (site.homepage_fault == "flaky" and n % 3 == 0):
            return Response(503, b"<html><body>503 Service Unavailable</body></html>", "text/html")
        return _encoded(site, homepage(site, today))
    if rest == ["home"]:
        location = f"{PREFIX}{site.site_code}/"
        return Response(302, b"", "text/html", [("Location", location)])
    if rest[0] == "col" and len(rest) == 2 and rest[1].isdigit():
        index = int(rest[1])
        if index < len(site.columns):
            return _encoded(site, column_page(site, index, today))
    if rest[0] == "art" and len(rest) == 3:
        return _encoded(site, _page(site, "信息", "<p>正文</p>", today))
    return _encoded(site, _page(site, "404", "<p>页面不存在</p>", today), 404)


# -- generation ----------------------------------------------------------------------

# Days before `today` of a column's newest item: fresh for every window, or just stale
# for its type (动态要闻 2 weeks, 通知公告 / 政策文件 6 months, 人事信息 / 规划计划 1 year).
FRESH_DAYS = 2
STALE_DAYS = {"动态要闻": 30, "通知公告": 200, "政策文件": 200, "人事信息": 400, "规划计划": 400}
FORMS: tuple[DateForm, ...] = ("iso", "slash", "dot", "cjk", "bracket", "md")
# Profiles cycled through by generate_sites: (stale columns, empty columns, broken links,
# homepage stale, homepage fault).
PROFILES: tuple[tuple[int, int, int, bool, str | None], ...] = (
    (0, 0, 0, False, None),  # 合格
    (2, 0, 0, False, None),  # 2 个栏目更新不及时
    (0, 1, 0, False, None),  # 1 个空栏目
    (5, 0, 0, False, None),  # >= 5 overdue: 不合格
    (0, 0, 0, True, None),  # homepage silent 2 weeks: 不合格
    (0, 0, 1, False, None),  # 1 个错链接
    (0, 0, 0, False, "down"),  # 站点无法访问 (its homepage would be stale: never judged)
    (0, 0, 0, True, "flaky"),  # the first homepage fetch fails: unavailable, not stale
    (0, 5, 0, False, None),  # 5 个空栏目: 不合格
    (3, 1, 1, False, None),  # the notice's mixed line
)
KIND_ORDER = ("unavailable", "homepage_stale", "stale_column", "empty_column", "broken_link")


def _summary(problems: dict[str, int]) -> str:
    words = {
        "unavailable": lambda n: "站点无法访问",
        "homepage_stale": lambda n: "监测 2 周内首页无信息更新",
        "stale_column": lambda n: f"{n} 个栏目更新不及时",
        "empty_column": lambda n: f"{n} 个空栏目",
        "broken_link": lambda n: f"{n} 个错链接",
    }
    return "；".join(words[k](problems[k]) for k in KIND_ORDER if k in problems)


def _dates(newest: date, count: int) -> list[date]:
    return [newest - timedelta(days=3 * j) for j in range(count)]


def generate_site(index: int, today: date, rng: random.Random, unit: str, region: str) -> SimSite:
    """The index-th generated site (its profile is PROFILES[index % len(PROFILES)])."""
    stale, empty, broken, home_stale, fault = PROFILES[index % len(PROFILES)]
    # Seven columns: every type once, 动态要闻 twice; stale/empty ones picked from
    # the windowed columns (其他 has no window, so it is never the stale one).
    labels = ["动态要闻", "通知公告", "政策文件", "人事信息", "规划计划", "动态要闻", "其他"]
    windowed = [i for i, label in enumerate(labels) if label != "其他"]
    rng.shuffle(windowed)
    stale_at = set(windowed[:stale])
    empty_at = set(windowed[stale : stale + empty]) if empty <= len(windowed) - stale else set()
    columns = []
    for i, label in enumerate(labels):
        form = FORMS[(index + i) % len(FORMS)]
        if i in empty_at:
            dates: list[date] = []
        elif i in stale_at:
            dates = _dates(today - timedelta(days=STALE_DAYS[label]), 5)
            if STALE_DAYS[label] > 300:
                form = ("iso", "cjk", "dot")[i % 3]  # a year-less date cannot be that old
        elif label == "动态要闻" and i == 0 and index % len(PROFILES) == 0:
            dates = _dates(today - timedelta(days=14), 5)  # the boundary day: still on time
        else:
            dates = _dates(today - timedelta(days=FRESH_DAYS + i % 3), 5)
        if label == "其他" and i not in empty_at:
            # Old and partly undated: 其他 has no window, so never overdue.
            dates = _dates(today - timedelta(days=500), 3)
            form = "none" if index % 2 else "iso"
        columns.append(
            SimColumn(
                name=f"{label}{i}",
                kind=label,
                dates=dates,
                date_form=form,
                table=(index % 4 == 3),
            )
        )
    home_newest = today - timedelta(days=20 if home_stale else 1)
    code = f"61{(index * 7919) % 10**8:08d}"
    problems: dict[str, int] = {}
    if fault is not None:
        problems["unavailable"] = 1
    if stale:
        problems["stale_column"] = stale
    if empty:
        problems["empty_column"] = empty
    if broken:
        problems["broken_link"] = broken
    if home_stale and fault is None:
        problems["homepage_stale"] = 1
    fails = fault is not None or (home_stale and fault is None) or stale >= 5 or empty >= 5
    verdict = "fail" if fails else ("issues" if problems else "pass")
    encoding = ("utf-8", "gbk", "gb2312")[index % 3]
    declare = ("header", "meta", "none")[(index // 3) % 3]
    return SimSite(
        site_code=code,
        name=f"{unit}门户网站" if index < 10 else f"{unit}网站{index + 1}",
        unit=unit,
        region=region,
        homepage_dates=_dates(home_newest, 6),
        homepage_form=FORMS[index % len(FORMS)],
        columns=columns,
        broken_links=broken,
        homepage_fault=fault,
        encoding=encoding,
        declare=declare,
        truth=SiteTruth(verdict=verdict, problems=problems, summary=_summary(problems)),
    )


def generate_sites(count: int, today: date, seed: int = 0) -> list[SimSite]:
    """`count` websites cycling through PROFILES, each with its ground truth for `today`."""
    rng = random.Random(seed)
    regions = [CITY_REGION, *COUNTIES]
    sites = []
    for index in range(count):
        region = regions[index % len(regions)]
        units = unit_names(region)
        unit = units[(index // len(regions)) % len(units)][0]
        sites.append(generate_site(index, today, rng, unit, region))
    return sites


def write_sites_roster(sites: list[SimSite], path: str | Path, base_url: str) -> None:
    """The websites roster (UTF-8 CSV with the notice's headers) for these sites."""
    with open(path, "w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["序号", "类别", "主办单位", "网站名称", "网址", "网站标识码"])
        for n, site in enumerate(sites, start=1):
            url = f"{base_url}{PREFIX}{site.site_code}/"
            out.writerow([n, site.region, site.unit, site.name, url, site.site_code])


def write_columns_roster(sites: list[SimSite], path: str | Path, base_url: str) -> None:
    """The columns roster for these sites (日期选择器 "td.date" for table listings)."""
    with open(path, "w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["网站标识码", "栏目名称", "栏目地址", "栏目类型", "日期选择器"])
        for site in sites:
            for i, column in enumerate(site.columns):
                url = f"{base_url}{PREFIX}{site.site_code}/col/{i}/"
                selector = "td.date" if column.table else ""
                out.writerow([site.site_code, column.name, url, column.kind, selector])
