"""Reading the websites roster and the columns roster (CSV or XLSX), all problems at once.

Websites (the notice's attachment 1): 网站名称, 网址, 网站标识码, 主办单位, 类别; other
columns of that table (序号, 主要问题, 复查结果) are ignored. A blank 类别 or 主办单位
continues the row above (merged cells in the Excel original); a blank 主办单位 only
while the region stays the same.

Columns: 网站标识码, 栏目名称, 栏目地址, 栏目类型 (动态要闻 / 通知公告 / 政策文件 /
人事信息 / 规划计划 / 其他), optional 日期选择器 (a CSS selector for the dates).

Decoding is `monitor.roster.read` (the accounts roster's reader); every problem names
the file, the spreadsheet row and the column as written in the file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

from selectolax.lexbor import LexborHTMLParser

from monitor.links import http_link
from monitor.models import COLUMN_KIND_LABELS, ColumnKind
from monitor.roster.entry import Problem
from monitor.roster.parse import MAX_CELL_CHARS, header_key
from monitor.roster.read import ReadError, Table, read_table
from monitor.store.sites import ColumnEntry, SiteEntry

T = TypeVar("T")

SITE_CODE = re.compile(r"^[0-9]{10,11}$")
HEADER_SEARCH_ROWS = 10

SITE_HEADERS: dict[str, tuple[str, ...]] = {
    "name": ("网站名称", "site_name"),
    "url": ("网址", "网站地址", "url"),
    "site_code": ("网站标识码", "标识码", "site_code"),
    "unit": ("主办单位", "unit"),
    "region": ("类别", "region"),
}
SITE_IGNORED = ("序号", "主要问题", "复查结果", "备注")
COLUMN_HEADERS: dict[str, tuple[str, ...]] = {
    "site_code": ("网站标识码", "标识码", "site_code"),
    "name": ("栏目名称", "column_name"),
    "url": ("栏目地址", "栏目网址", "column_url"),
    "kind": ("栏目类型", "column_type"),
    "date_selector": ("日期选择器", "date_selector"),
}
COLUMN_OPTIONAL = frozenset({"date_selector"})
_KINDS: dict[str, ColumnKind] = {
    **{header_key(label): kind for kind, label in COLUMN_KIND_LABELS.items()},
    **{kind.value: kind for kind in ColumnKind},
}


# Words in a column's name that tell its type (`monitor sites discover`), checked in
# this order: "人事任免公告" is 人事信息 before it is 通知公告.
KIND_WORDS: tuple[tuple[ColumnKind, tuple[str, ...]], ...] = (
    (ColumnKind.PERSONNEL, ("人事", "任免", "招聘", "招考", "录用", "干部")),
    (ColumnKind.PLANS, ("规划", "计划")),
    (ColumnKind.POLICIES, ("政策", "文件", "法规", "规章", "解读")),
    (ColumnKind.NOTICES, ("通知", "公告", "公示", "通告")),
    (ColumnKind.NEWS, ("要闻", "动态", "新闻", "资讯", "工作信息")),
)


def guess_kind(name: str) -> ColumnKind:
    """A column's type guessed from its name (其他 when no word tells)."""
    for kind, words in KIND_WORDS:
        if any(word in name for word in words):
            return kind
    return ColumnKind.OTHER


@dataclass
class SitesFile(Generic[T]):
    """A sites or columns roster read: its entries (with their rows) and every problem."""

    path: Path
    entries: list[tuple[int, T]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def _find_header(
    rows: list[tuple[int, list[str]]], known: dict[str, str]
) -> tuple[int, dict[str, int]] | None:
    for index, (_, cells) in enumerate(rows[:HEADER_SEARCH_ROWS]):
        fields: dict[str, int] = {}
        for col, text in enumerate(cells):
            name = known.get(header_key(text))
            if name and name not in fields:
                fields[name] = col
        if len(fields) >= 2:
            return index, fields
    return None


def _table(path: Path, sheet: str | None, problems: list[Problem]) -> Table | None:
    try:
        return read_table(path, sheet=sheet)
    except ReadError as exc:
        problems.append(Problem(path.name or str(path), None, None, str(exc)))
        return None


def _rows(
    path: Path,
    sheet: str | None,
    headers: dict[str, tuple[str, ...]],
    optional: frozenset[str],
    problems: list[Problem],
) -> list[tuple[int, dict[str, str], dict[str, str]]]:
    """(row number, values by field, column headers by field) of every row under the header."""
    file = path.name or str(path)
    table = _table(path, sheet, problems)
    if table is None:
        return []
    for row, message in table.row_errors:
        problems.append(Problem(file, row, None, message))
    known = {header_key(alias): name for name, aliases in headers.items() for alias in aliases}
    found = _find_header(table.rows, known)
    if found is None:
        wanted = ", ".join(aliases[0] for aliases in headers.values())
        problems.append(Problem(file, None, None, f"no header row: expected columns {wanted}"))
        return []
    start, fields = found
    header_row, header_cells = table.rows[start]
    missing = [headers[name][0] for name in headers if name not in fields and name not in optional]
    if missing:
        problems.append(Problem(file, header_row, None, f"missing column(s): {', '.join(missing)}"))
        return []
    labels = {name: header_cells[col] for name, col in fields.items()}
    out = []
    for number, cells in table.rows[start + 1 :]:
        values = {name: (cells[col] if col < len(cells) else "") for name, col in fields.items()}
        out.append((number, values, labels))
    if not out:
        problems.append(Problem(file, None, None, "no rows under the header"))
    return out


def _too_long(
    file: str, number: int, values: dict[str, str], labels: dict[str, str]
) -> list[Problem]:
    return [
        Problem(file, number, labels[name], f"longer than {MAX_CELL_CHARS} characters")
        for name, value in values.items()
        if len(value) > MAX_CELL_CHARS
    ]


def read_sites(path: str | Path, sheet: str | None = None) -> SitesFile[SiteEntry]:
    """Read a websites roster; never raises for content (problems name row and column)."""
    path = Path(path)
    file = path.name or str(path)
    result: SitesFile[SiteEntry] = SitesFile(path)
    rows = _rows(path, sheet, SITE_HEADERS, frozenset(), result.problems)
    region = unit = ""
    seen: dict[str, int] = {}
    for number, values, labels in rows:
        problems = _too_long(file, number, values, labels)
        # As in the accounts roster: a merged 主办单位 cell never spans two regions.
        if values["region"] and values["region"] != region:
            unit = ""
        region = values["region"] or region
        unit = values["unit"] or unit
        code, name, url = values["site_code"], values["name"], values["url"]
        if not (code or name or url):
            continue  # a heading row: it only sets 类别 / 主办单位 for the rows below
        if not name:
            problems.append(Problem(file, number, labels["name"], "missing 网站名称"))
        if not SITE_CODE.match(code):
            problems.append(
                Problem(file, number, labels["site_code"], f"{code!r} is not 10–11 digits")
            )
        elif code in seen:
            problems.append(
                Problem(
                    file,
                    number,
                    labels["site_code"],
                    f"网站标识码 {code} is already on row {seen[code]}",
                )
            )
        else:
            seen[code] = number
        link = http_link(url)
        if link is None:
            problems.append(Problem(file, number, labels["url"], f"{url!r} is not an http(s) URL"))
        if not unit:
            problems.append(Problem(file, number, labels["unit"], "missing 主办单位"))
        if not region:
            problems.append(Problem(file, number, labels["region"], "missing 类别"))
        if problems:
            result.problems.extend(problems)
            continue
        assert link is not None
        result.entries.append((number, SiteEntry(code, name, link, unit, region)))
    if rows and not result.entries and not result.problems:
        result.problems.append(Problem(file, None, None, "no websites in the file"))
    return result


def _selector_problem(selector: str) -> str | None:
    try:
        LexborHTMLParser("<p></p>").css(selector)
    except Exception as exc:  # selectolax raises plain Exception/ValueError for bad selectors
        return f"{selector!r} is not a CSS selector ({exc})"
    return None


def read_columns(path: str | Path, sheet: str | None = None) -> SitesFile[ColumnEntry]:
    """Read a columns roster; never raises for content (problems name row and column)."""
    path = Path(path)
    file = path.name or str(path)
    result: SitesFile[ColumnEntry] = SitesFile(path)
    rows = _rows(path, sheet, COLUMN_HEADERS, COLUMN_OPTIONAL, result.problems)
    seen: dict[tuple[str, str], int] = {}
    for number, values, labels in rows:
        problems = _too_long(file, number, values, labels)
        code, name, url = values["site_code"], values["name"], values["url"]
        if not SITE_CODE.match(code):
            problems.append(
                Problem(file, number, labels["site_code"], f"{code!r} is not 10–11 digits")
            )
        if not name:
            problems.append(Problem(file, number, labels["name"], "missing 栏目名称"))
        link = http_link(url)
        if link is None:
            problems.append(Problem(file, number, labels["url"], f"{url!r} is not an http(s) URL"))
        elif (code, link) in seen:
            problems.append(
                Problem(
                    file, number, labels["url"], f"the same column is on row {seen[(code, link)]}"
                )
            )
        else:
            seen[(code, link)] = number
        kind = _KINDS.get(header_key(values["kind"]))
        if kind is None:
            problems.append(
                Problem(
                    file,
                    number,
                    labels["kind"],
                    f"unknown 栏目类型 {values['kind']!r}; use one of "
                    + " / ".join(COLUMN_KIND_LABELS.values()),
                )
            )
        selector = values.get("date_selector", "")
        if selector and (message := _selector_problem(selector)):
            problems.append(Problem(file, number, labels["date_selector"], message))
        if problems:
            result.problems.extend(problems)
            continue
        assert link is not None and kind is not None
        result.entries.append((number, ColumnEntry(code, name, link, kind, selector)))
    if rows and not result.entries and not result.problems:
        result.problems.append(Problem(file, None, None, "no columns in the file"))
    return result
