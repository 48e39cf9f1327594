"""Interpret a roster table: find the header, pick the form, validate every row.

Two forms:
- long: one account per row, with a 平台/platform column;
- wide: the official notice's table, one column per platform (政务微信,
  政务微博, 政务抖音, ...), every non-empty cell one account of that platform.

Every problem is collected (never only the first), each with the spreadsheet
row number and the column's header as written in the file. Rows are validated
independently; the only cross-row rules are the continuation of blank
类别/主办单位 cells and duplicate/conflicting accounts.

Decisions (documented because a reader of a problem list will ask):
- The header is the first non-blank row, unless one of the first 10
  non-blank rows looks more like a header (two or more known column names):
  rows above it (a title such as "2020年第一季度政务新媒体检查情况") are skipped.
- A row with a 类别 and/or 主办单位 but no account (no platform, name, ...;
  in the wide form no 政务<platform> cell) is a heading row: it only sets what
  the rows below continue.
- A blank 类别 continues the row above. A blank 主办单位 continues the row
  above only while the region stays the same (a merged unit cell never spans
  two regions); under a new region it is "missing unit".
- In the wide form a cell may hold several accounts, one per line (Alt+Enter
  in Excel); in the long form a line break in a name is a problem.
- Text is kept as written: "=...", "+...", "-...", "@..." are plain text.
- An entry is built when platform, name, region, unit and status are all
  known; a row with other problems still yields its entry (so the problem list
  can be checked against it), but `RosterFile.valid_entries()` leaves it out.
- A repeated account (same identity) keeps its first row as the entry; the
  later row gets the problem (naming both rows) and both rows are rejected.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from adapters import roster_aliases, source_names
from monitor.links import http_link
from monitor.models import Platform, RosterStatus
from monitor.roster.entry import Problem, RosterEntry, RosterFile, identity_key
from monitor.roster.read import ReadError, Table, column_letter, read_table

MAX_CELL_CHARS = 1000
HEADER_SEARCH_ROWS = 10

# Canonical field -> accepted headers (compared after `header_key`).
HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "region": ("类别", "region", "地区", "区域", "县区", "所属地区"),
    "unit": ("主办单位", "unit", "单位", "单位名称", "主办单位名称"),
    "platform": ("平台", "platform", "平台类型", "账号类型"),
    "name": ("账号名称", "name", "账号", "名称", "账号名", "account", "account_name"),
    "account_id": ("账号ID", "account_id", "ID", "UID", "账号编号"),
    "status": ("状态", "status", "账号状态", "运行状态"),
    "supervisor": ("主管单位", "supervisor"),
    "contact": ("联系人", "contact", "联系方式"),
    "note": ("备注", "note", "notes", "remark", "remarks", "说明"),
    "source": ("来源", "source", "数据来源", "采集方式"),
    "feed_url": ("订阅地址", "feed_url", "feed", "rss", "RSS地址", "订阅链接"),
    "appid": ("appid", "app_id", "AppID"),
    "secret_env": ("secret_env", "密钥变量", "密钥环境变量"),
}

# The Chinese/English names shown in messages.
FIELD_LABELS: dict[str, str] = {
    "region": "类别/region",
    "unit": "主办单位/unit",
    "platform": "平台/platform",
    "name": "账号名称/name",
    "account_id": "账号ID/account_id",
    "status": "状态/status",
    "supervisor": "主管单位/supervisor",
    "contact": "联系人/contact",
    "note": "备注/note",
    "source": "来源/source",
    "feed_url": "订阅地址/feed_url",
    "appid": "appid",
    "secret_env": "secret_env",
}

# Columns of the official notice that carry no roster information.
IGNORED_HEADERS: tuple[str, ...] = ("序号", "编号", "最后更新时间", "问题类别", "No.", "No")

# Columns that describe one account, so only make sense in the long form.
LONG_ONLY_FIELDS = frozenset(
    {"platform", "name", "account_id", "source", "feed_url", "appid", "secret_env"}
)
# Long form: a row with none of these is a heading row, not an account.
ACCOUNT_FIELDS = ("platform", "name", "account_id", "source", "feed_url", "appid", "secret_env")
# Wide form: these apply to every account of the row.
SHARED_FIELDS = ("status", "supervisor", "contact", "note")

PLATFORM_ALIASES: dict[Platform, tuple[str, ...]] = {
    Platform.WECHAT: ("微信", "wechat", "公众号", "微信公众号", "微信公众平台"),
    Platform.WEIBO: ("微博", "weibo", "新浪微博", "sina weibo"),
    Platform.DOUYIN: ("抖音", "douyin", "抖音号"),
    Platform.TOUTIAO: ("头条", "toutiao", "今日头条", "头条号"),
    Platform.KUAISHOU: ("快手", "kuaishou", "快手号"),
    Platform.BILIBILI: ("哔哩哔哩", "bilibili", "B站", "bili"),
    Platform.FEED: ("feed", "RSS", "atom", "RSS订阅"),
}

STATUS_ALIASES: dict[RosterStatus, tuple[str, ...]] = {
    RosterStatus.OPERATING: (
        "运行",
        "operating",
        "正常",
        "运营",
        "正常运行",
        "正常运营",
        "在运",
        "在运营",
        "开通",
        "启用",
        "active",
        "normal",
        "running",
    ),
    RosterStatus.STOPPED: (
        "停运",
        "stopped",
        "停更",
        "关停",
        "停止",
        "停止运营",
        "停止更新",
        "停用",
        "暂停",
        "暂停更新",
        "停运未注销",
        "stop",
        "suspended",
        "inactive",
    ),
    RosterStatus.CANCELLED: (
        "已注销",
        "cancelled",
        "注销",
        "canceled",
        "deregistered",
    ),
}

PLATFORM_HINT = (
    "use 微信/wechat, 微博/weibo, 抖音/douyin, 头条/toutiao, "
    "快手/kuaishou, 哔哩哔哩/bilibili, RSS/feed"
)
STATUS_HINT = "use 运行/operating, 停运/stopped, 已注销/cancelled"
SECRET_ENV_MESSAGE = "secret_env must name an environment variable, not hold the secret"

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# A WeChat AppSecret is 32 hex digits; long random-looking tokens are secrets too.
_LOOKS_SECRET = re.compile(r"[0-9a-fA-F]{32}|(?=.*[0-9])(?=.*[a-z])(?=.*[A-Z])[A-Za-z0-9]{24,}")
_ANNOTATION = re.compile(r"\s*[(\[【][^()\[\]【】]*[)\]】]\s*$")
_SEPARATORS = re.compile(r"[\s_\-*:：]+")
_LINE_BREAK = re.compile(r"[\r\n\u2028\u2029]+")


def _short(text: str, limit: int = 60) -> str:
    """A value quoted in a message, cut so one bad cell cannot flood the problem list."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def header_key(text: str) -> str:
    """A header compared case- and width-insensitively, without "(注释)", '*' or spaces."""
    key = unicodedata.normalize("NFKC", text).casefold().strip()
    while True:
        stripped = _ANNOTATION.sub("", key)
        if stripped == key or not stripped:
            break
        key = stripped
    return _SEPARATORS.sub("", key)


def _value_key(text: str) -> str:
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", text).casefold())


_HEADER_FIELDS: dict[str, str] = {
    header_key(alias): name for name, aliases in HEADER_ALIASES.items() for alias in aliases
}
_IGNORED: frozenset[str] = frozenset(header_key(h) for h in IGNORED_HEADERS)
_PLATFORMS: dict[str, Platform] = {
    _value_key(alias): platform
    for platform, aliases in PLATFORM_ALIASES.items()
    for alias in (*aliases, platform.value)
}
_STATUSES: dict[str, RosterStatus] = {
    _value_key(alias): status
    for status, aliases in STATUS_ALIASES.items()
    for alias in (*aliases, status.value)
}


_platform_cache: dict[str, Platform | None] = {}
_status_cache: dict[str, RosterStatus | None] = {}


def parse_platform(text: str) -> Platform | None:
    """The platform a cell names (微博, Weibo, 新浪微博, ...), or None if unknown."""
    try:
        return _platform_cache[text]
    except KeyError:
        found = _PLATFORMS.get(_value_key(text))
        if len(_platform_cache) < 10_000:
            _platform_cache[text] = found
        return found


def parse_status(text: str) -> RosterStatus | None:
    """The status a cell names; a blank cell means operating; None if unknown."""
    if not text:
        return RosterStatus.OPERATING
    try:
        return _status_cache[text]
    except KeyError:
        found = _STATUSES.get(_value_key(text))
        if len(_status_cache) < 10_000:
            _status_cache[text] = found
        return found


# --- header ----------------------------------------------------------------


@dataclass
class _Header:
    row: int
    texts: list[str]
    fields: dict[str, int] = field(default_factory=dict)  # field -> column index
    platforms: list[tuple[int, Platform]] = field(default_factory=list)  # wide columns
    used: set[int] = field(default_factory=set)  # every interpreted column
    problems: list[tuple[int | None, str]] = field(default_factory=list)  # (col, message)
    form: str = "unknown"
    fatal: bool = False

    def name(self, index: int) -> str:
        text = self.texts[index] if index < len(self.texts) else ""
        return _short(text) or f"column {column_letter(index)}"

    def column(self, field_name: str) -> str:
        index = self.fields.get(field_name)
        return self.name(index) if index is not None else FIELD_LABELS[field_name]


def _classify_header(text: str) -> tuple[str, object] | None:
    """("field", name) | ("platform", Platform) | ("bad_platform", None) | ("ignored", None)."""
    key = header_key(text)
    if not key:
        return None
    if key in _HEADER_FIELDS:
        return ("field", _HEADER_FIELDS[key])
    if key in _IGNORED:
        return ("ignored", None)
    if key.startswith("政务") and len(key) > 2:
        platform = _PLATFORMS.get(key[2:])
        return ("platform", platform) if platform else ("bad_platform", None)
    return None


def _find_header(rows: list[tuple[int, list[str]]]) -> int:
    """Index (into rows) of the header row."""
    for index, (_, cells) in enumerate(rows[:HEADER_SEARCH_ROWS]):
        known = sum(1 for cell in cells if _classify_header(cell) is not None)
        if known >= 2:
            return index
    return 0


def _read_header(number: int, texts: list[str]) -> _Header:
    header = _Header(row=number, texts=texts)
    first_seen: dict[object, int] = {}
    known_list = ", ".join(FIELD_LABELS.values())
    for index, text in enumerate(texts):
        if not text:
            continue
        kind = _classify_header(text)
        if kind is None:
            header.problems.append(
                (index, f"unknown column {_short(text)!r} (known: {known_list}, 政务<platform>)")
            )
            continue
        what, value = kind
        if what == "ignored":
            continue
        if what == "bad_platform":
            header.problems.append(
                (index, f"unknown platform in column {_short(text)!r} ({PLATFORM_HINT})")
            )
            continue
        ident = (what, value)
        if ident in first_seen:
            other = first_seen[ident]
            header.problems.append(
                (
                    index,
                    f"duplicate column: {_short(text)!r} means the same as "
                    f"{header.name(other)!r} (column {column_letter(other)})",
                )
            )
            continue
        first_seen[ident] = index
        header.used.add(index)
        if what == "field":
            header.fields[str(value)] = index
        else:
            assert isinstance(value, Platform)
            header.platforms.append((index, value))

    has_long = "platform" in header.fields
    has_wide = bool(header.platforms)
    if has_long and has_wide:
        header.problems.append(
            (
                None,
                "both a 平台/platform column and 政务<platform> columns: "
                "use one form (one account per row, or one column per platform)",
            )
        )
        header.fatal = True
    elif not has_long and not has_wide:
        header.problems.append((None, "no 平台/platform column and no 政务<platform> columns"))
        header.fatal = True
    else:
        header.form = "long" if has_long else "wide"

    required = ["region", "unit"] + (["name"] if header.form == "long" else [])
    for name in required:
        if name not in header.fields:
            header.problems.append((None, f"missing column {FIELD_LABELS[name]}"))
            header.fatal = True
    if header.form == "wide":
        for name in sorted(LONG_ONLY_FIELDS & header.fields.keys()):
            index = header.fields.pop(name)
            header.used.discard(index)
            header.problems.append(
                (
                    index,
                    f"column {header.name(index)!r} describes one account and only works "
                    "in the long form (one account per row, with a 平台/platform column)",
                )
            )
    return header


# --- rows ------------------------------------------------------------------


@dataclass
class _Parser:
    file: str
    header: _Header
    problems: list[Problem] = field(default_factory=list)
    entries: list[RosterEntry] = field(default_factory=list)
    rejected: set[int] = field(default_factory=set)
    seen: dict[str, RosterEntry] = field(default_factory=dict)
    region: str = ""
    unit: str = ""
    unheaded: dict[int, int] = field(default_factory=dict)  # column -> first row with data

    def problem(self, row: int | None, column: str | None, message: str) -> None:
        self.problems.append(Problem(self.file, row, column, message))

    def cell(self, cells: list[str], name: str) -> str:
        index = self.header.fields.get(name)
        if index is None or index >= len(cells):
            return ""
        return cells[index]

    def row(self, number: int, cells: list[str]) -> None:
        """Validate one row and add its entries."""
        header = self.header
        self._note_unheaded(number, cells)
        if not any(cells[i] for i in header.used if i < len(cells)):
            return  # only ignored columns (序号, 最后更新时间, ...) hold values
        for index in header.used:
            if index < len(cells) and len(cells[index]) > MAX_CELL_CHARS:
                self.problem(
                    number,
                    header.name(index),
                    f"cell too long ({len(cells[index])} characters; at most {MAX_CELL_CHARS})",
                )
        if not self._has_account(cells):
            # A heading row (only 类别 and/or 主办单位, e.g. a county's name on a
            # row of its own): it sets what the rows below continue, nothing more.
            self._region_unit(number, cells, report=False)
            return
        region, unit = self._region_unit(number, cells)
        status_text = self.cell(cells, "status")
        status = parse_status(status_text)
        if status is None:
            self.problem(
                number,
                header.column("status"),
                f"unknown status {_short(status_text)!r} ({STATUS_HINT})",
            )
        shared = {name: self.cell(cells, name) for name in SHARED_FIELDS if name != "status"}
        if header.form == "long":
            self._long(number, cells, region, unit, status, shared)
        else:
            self._wide(number, cells, region, unit, status, shared)

    def _note_unheaded(self, number: int, cells: list[str]) -> None:
        texts = self.header.texts
        for index in range(len(cells)):
            if cells[index] and (index >= len(texts) or not texts[index]):
                self.unheaded.setdefault(index, number)

    def _has_account(self, cells: list[str]) -> bool:
        header = self.header
        if header.form == "wide":
            return any(cells[i] for i, _ in header.platforms if i < len(cells))
        return any(self.cell(cells, name) for name in ACCOUNT_FIELDS)

    def _region_unit(
        self, number: int, cells: list[str], report: bool = True
    ) -> tuple[str | None, str | None]:
        header = self.header
        region_cell = self.cell(cells, "region")
        unit_cell = self.cell(cells, "unit")
        region: str | None = region_cell or self.region or None
        new_region = bool(region_cell) and region_cell != self.region
        if unit_cell:
            unit: str | None = unit_cell
        elif self.unit and not new_region:
            unit = self.unit
        else:
            unit = None
        if region is None and "region" in header.fields and report:
            self.problem(number, header.column("region"), "missing region (类别)")
        if unit is None and "unit" in header.fields and report:
            if new_region and self.unit:
                message = (
                    "missing unit (主办单位): a blank unit continues the row above "
                    "only within the same region"
                )
            else:
                message = "missing unit (主办单位)"
            self.problem(number, header.column("unit"), message)
        if region:
            self.region = region
        if unit_cell or new_region:
            self.unit = unit_cell
        return region, unit

    def _long(
        self,
        number: int,
        cells: list[str],
        region: str | None,
        unit: str | None,
        status: RosterStatus | None,
        shared: dict[str, str],
    ) -> None:
        header = self.header
        platform_text = self.cell(cells, "platform")
        platform = parse_platform(platform_text) if platform_text else None
        if not platform_text:
            self.problem(number, header.column("platform"), "missing platform (平台)")
        elif platform is None:
            self.problem(
                number,
                header.column("platform"),
                f"unknown platform {_short(platform_text)!r} ({PLATFORM_HINT})",
            )
        name = self.cell(cells, "name")
        if not name:
            if "name" in header.fields:
                self.problem(number, header.column("name"), "missing account name (账号名称)")
        elif _LINE_BREAK.search(name):
            self.problem(number, header.column("name"), "account name contains a line break")
        account_id = self.cell(cells, "account_id")
        if _LINE_BREAK.search(account_id) or " " in account_id:
            self.problem(
                number, header.column("account_id"), "account ID contains spaces or line breaks"
            )
        feed_url = self.cell(cells, "feed_url")
        if feed_url and http_link(feed_url) is None:
            self.problem(
                number, header.column("feed_url"), "feed_url must be an http:// or https:// URL"
            )
        secret_env = self.cell(cells, "secret_env")
        if secret_env and (
            not _ENV_NAME.fullmatch(secret_env) or _LOOKS_SECRET.fullmatch(secret_env)
        ):
            self.problem(number, header.column("secret_env"), SECRET_ENV_MESSAGE)
            secret_env = ""  # never carry what may be the secret itself
        source_text = self.cell(cells, "source")
        # Source names and aliases come from the adapters' manifests.
        known = roster_aliases()
        source = known.get(source_text.lower(), source_text.lower())
        if source and source not in source_names():
            self.problem(
                number,
                header.column("source"),
                f"unknown source {_short(source_text)!r} (use {', '.join(source_names())}, "
                "or leave it blank for the platform default)",
            )
        if platform is None or not name or region is None or unit is None or status is None:
            return
        self._add(
            number,
            dict(
                region=region,
                unit=unit,
                platform=platform,
                name=name,
                account_id=account_id,
                status=status,
                source=source,
                feed_url=feed_url,
                appid=self.cell(cells, "appid"),
                secret_env=secret_env,
                **shared,
            ),
            header.column("name"),
        )

    def _wide(
        self,
        number: int,
        cells: list[str],
        region: str | None,
        unit: str | None,
        status: RosterStatus | None,
        shared: dict[str, str],
    ) -> None:
        ok = region is not None and unit is not None and status is not None
        for index, platform in self.header.platforms:
            text = cells[index] if index < len(cells) else ""
            if not text:
                continue
            for name in _LINE_BREAK.split(text):
                name = name.strip()
                if not name or not ok:
                    continue
                assert region is not None and unit is not None and status is not None
                self._add(
                    number,
                    dict(
                        region=region,
                        unit=unit,
                        platform=platform,
                        name=name,
                        status=status,
                        **shared,
                    ),
                    self.header.name(index),
                )

    def _add(self, number: int, values: dict, column: str) -> None:
        key = identity_key(values["platform"], values.get("account_id", ""), values["name"])
        first = self.seen.get(key)
        if first is None:
            entry = RosterEntry(row=number, order=len(self.entries), **values)
            self.seen[key] = entry
            self.entries.append(entry)
            return
        platform = values["platform"]
        label = f"{platform.label} {_short(values['name'])!r}"
        if values.get("account_id"):
            label += f" (ID {values['account_id']})"
        candidate = RosterEntry(row=number, order=first.order, **values)
        old, new = first.fields(), candidate.fields()
        differ = [name for name in old if old[name] != new[name]]
        self.rejected.add(first.row)
        where = "this row" if first.row == number else f"row {first.row}"
        if not differ:
            self.problem(number, column, f"duplicate account {label}: already listed in {where}")
            return
        details = "; ".join(
            f"{FIELD_LABELS[name]} {_short(str(old[name]))!r} vs {_short(str(new[name]))!r}"
            if name != "secret_env"
            else f"{FIELD_LABELS[name]} differs"
            for name in differ
        )
        first_column = self.header.column(differ[0]) if differ[0] != "name" else column
        self.problem(
            number,
            first_column,
            f"conflicting rows {first.row} and {number} for the same account {label}: {details}",
        )

    def finish(self) -> None:
        for index, first_row in sorted(self.unheaded.items()):
            self.problem(
                self.header.row,
                f"column {column_letter(index)}",
                f"column {column_letter(index)} has no header but holds values "
                f"(first at row {first_row})",
            )


def parse_table(table: Table, file: str) -> RosterFile:
    """Interpret the rows of a decoded roster file."""
    result = RosterFile(path=Path(file), form="unknown", encoding=table.encoding, sheet=table.sheet)
    problems = result.problems
    rows = table.rows
    if not rows and not table.row_errors:
        problems.append(Problem(file, None, None, "empty file"))
        return result
    if rows:
        start = _find_header(rows)
        number, texts = rows[start]
        header = _read_header(number, texts)
        result.form = header.form
        result.columns = frozenset(header.fields) | {"name", "platform"}
        result.rows_read = len(rows) - start - 1
        for index, message in header.problems:
            column = header.name(index) if index is not None else None
            problems.append(Problem(file, number, column, message))
        if header.form != "unknown":
            parser = _Parser(file=file, header=header)
            for row_number, cells in rows[start + 1 :]:
                parser.row(row_number, cells)
            parser.finish()
            problems.extend(parser.problems)
            if not header.fatal:
                result.entries = parser.entries
                result.rejected_rows = parser.rejected
    for row_number, message in table.row_errors:
        problems.append(Problem(file, row_number, None, message))
    if not result.entries and not problems:
        problems.append(Problem(file, None, None, "no accounts in the file"))
    problems.sort(key=lambda p: (p.row is not None, p.row or 0))  # stable: row order
    return result


def read_roster(path: str | Path, sheet: str | None = None) -> RosterFile:
    """Read a roster file (CSV or XLSX) into entries and problems; never raises for content.

    `sheet` picks an XLSX sheet by name (default: the first worksheet); it is
    ignored for CSV. Problems name the file by its base name.
    """
    path = Path(path)
    file = path.name or str(path)
    try:
        table = read_table(path, sheet=sheet)
    except ReadError as exc:
        return RosterFile(path=path, form="unknown", problems=[Problem(file, None, None, str(exc))])
    result = parse_table(table, file)
    result.path = path
    return result
