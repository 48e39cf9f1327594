"""XLSX renderer: openpyxl in write-only mode, big sheets' rows serialised by us.

openpyxl builds the workbook (styles, merges, chart, print setup); the rows of
问题账号 and 全部账号 are spliced into its sheet XML as the zip is written, so
100,000 accounts take seconds and little memory.

Sheets: 汇总 (summary and a native bar chart), 问题账号 (the official table, region
and unit merged as in the original), 全部账号 (every account). Text that starts
like a formula is stored as a string with Excel's quote prefix, never a formula.
Timestamps inside the file are the as-of date, so the bytes are reproducible.
"""

from __future__ import annotations

import io
import shutil
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.cell_range import CellRange, MultiCellRange
from openpyxl.worksheet.page import PageMargins
from openpyxl.worksheet.properties import PageSetupProperties
from openpyxl.writer.excel import ExcelWriter

from monitor.models import State
from monitor.reports import labels as L
from monitor.reports.model import Problem, Report
from monitor.reports.render_text import FORMULA_STARTS

_THIN = Side(style="thin", color="888888")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_HEADER_FONT = Font(bold=True)
_HEADER_FILL = PatternFill("solid", fgColor="DDE4EE")
_CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)
_MIDDLE = Alignment(vertical="center", wrap_text=True)

# Sheet names are the same in every language: other tools look them up.
SHEETS = ("汇总", "问题账号", "全部账号", "网站检查结果")


class _StableZip(zipfile.ZipFile):
    """A ZipFile whose entries all carry one fixed timestamp (reproducible bytes)."""

    def __init__(self, file: Any, date_time: tuple[int, int, int, int, int, int]):
        super().__init__(file, "w", zipfile.ZIP_DEFLATED, allowZip64=True)
        self._date_time = date_time
        # arcname -> rows to splice into that sheet's <sheetData>
        self.rows: dict[str, Iterable[str]] = {}

    def _info(self, name: str) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, date_time=self._date_time)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o600 << 16
        return info

    def writestr(self, zinfo_or_arcname: Any, data: Any, *args: Any, **kwargs: Any) -> None:
        name = getattr(zinfo_or_arcname, "filename", zinfo_or_arcname)
        super().writestr(self._info(name), data)

    def write(self, filename: Any, arcname: Any = None, *args: Any, **kwargs: Any) -> None:
        # openpyxl streams write-only sheets through temp files: copy, don't load; and
        # splice in the rows this module serialised itself (see _rows_xml).
        rows = self.rows.pop(arcname, None)
        with (
            open(filename, "rb") as src,
            self.open(self._info(arcname), "w", force_zip64=True) as dst,
        ):
            if rows is None:
                shutil.copyfileobj(src, dst, 1 << 20)
                return
            head, sep, tail = src.read().partition(b"</sheetData>")
            if not sep:
                raise ValueError(f"{arcname}: no sheetData to fill")
            dst.write(head)
            chunk: list[str] = []
            for row in rows:
                chunk.append(row)
                if len(chunk) >= 2000:
                    dst.write("".join(chunk).encode("utf-8"))
                    chunk.clear()
            dst.write("".join(chunk).encode("utf-8"))
            dst.write(sep + tail)


_COLUMNS = [get_column_letter(i) for i in range(1, 31)]
_XML_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})

# A row as the zip writer splices it in: values, cell style, quoted-text style, height.
Row = tuple[list[Any], int, int, float | None]


def _rows_xml(rows: Iterable[Row], first_row: int) -> Iterator[str]:
    """Sheet rows as SpreadsheetML text, for sheets too big for openpyxl's cell writer.

    openpyxl without lxml spends ~20 µs a cell; 100,000 accounts x 13 columns would
    take most of the 30 s budget. Strings are inline strings; formula-like text gets
    the row's quoted style (quotePrefix), so it stays text when the cell is edited.
    """
    for r, (values, style, quoted, height) in enumerate(rows, start=first_row):
        plain = f' s="{style}"' if style else ""
        quote = f' s="{quoted}"'
        cells = []
        for col, value in enumerate(values):
            ref = f"{_COLUMNS[col]}{r}"
            if value is None or value == "":
                if plain:
                    cells.append(f'<c r="{ref}"{plain}/>')
            elif isinstance(value, str):
                text = ILLEGAL_CHARACTERS_RE.sub("", value).translate(_XML_ESCAPES)
                attr = quote if value.startswith(FORMULA_STARTS) else plain
                space = ' xml:space="preserve"' if text != text.strip() else ""
                cells.append(f'<c r="{ref}" t="inlineStr"{attr}><is><t{space}>{text}</t></is></c>')
            else:
                cells.append(f'<c r="{ref}"{plain}><v>{value}</v></c>')
        ht = f' ht="{height:g}" customHeight="1"' if height else ""
        yield f'<row r="{r}"{ht}>{"".join(cells)}</row>'


def _style_id(ws: Any, **style: Any) -> int:
    """The workbook's id of a cell style, registered now (the stylesheet is written last)."""
    cell = WriteOnlyCell(ws)
    for key, value in style.items():
        setattr(cell, key, value)
    return int(cell.style_id)


def _cell(ws: Any, value: Any) -> WriteOnlyCell:
    """A cell; formula-like text becomes a quote-prefixed string, never a formula."""
    if isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub("", value)
    cell = WriteOnlyCell(ws, value)
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        cell.data_type = "s"  # openpyxl guesses a formula from '=': it is text
        cell.quotePrefix = True
    return cell


def _text(ws: Any, value: str) -> Any:
    """A plain value where possible (fast), a styled cell when the text looks like a formula."""
    if value.startswith(FORMULA_STARTS) or ILLEGAL_CHARACTERS_RE.search(value):
        return _cell(ws, value)
    return value


def _values(ws: Any, values: list[Any]) -> list[Any]:
    return [_text(ws, v) if isinstance(v, str) else v for v in values]


def _header(ws: Any, names: list[str]) -> list[Any]:
    cells = []
    for name in names:
        cell = WriteOnlyCell(ws, name)
        cell.font, cell.fill, cell.border, cell.alignment = (
            _HEADER_FONT,
            _HEADER_FILL,
            _BORDER,
            _CENTER,
        )
        cells.append(cell)
    return cells


def _widths(ws: Any, widths: list[int]) -> None:
    for i, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width


# -- sizes: column widths in Excel's character units, row heights in points -----------

LINE_PT = 15.0  # one line of the default 11 pt font
SHADES = {  # problem rows stand out on screen and on paper
    State.ZOMBIE: PatternFill("solid", fgColor="FBE3E1"),
    State.SUSPENDED: PatternFill("solid", fgColor="EDE2F3"),
}


def text_width(value: Any) -> int:
    """How many character units a value takes: a CJK character about two, as they print.

    The unit is the width of a digit; letters and CJK glyphs run about a tenth wider.
    """
    if value is None:
        return 0
    text = value if isinstance(value, str) else str(value)
    if text.isascii():  # IDs, links, dates, numbers: the common case, and quick to tell
        return len(text) * 11 // 10
    return (len(text.encode("utf-8")) + len(text)) * 11 // 20


@dataclass(frozen=True, slots=True)
class Fit:
    """A column's width limits; text wider than `most` wraps inside its row."""

    most: int
    least: int = 4


def fit_widths(header: list[str], rows: Iterable[list[Any]], fits: list[Fit]) -> list[int]:
    """Column widths that fit the header and the widest value, within each column's limits."""
    widest = [text_width(h) for h in header]
    for values in rows:
        for i, value in enumerate(values):
            if value is not None:
                w = text_width(value)
                if w > widest[i]:
                    widest[i] = w
    return [max(f.least, min(f.most, w + 2)) for w, f in zip(widest, fits, strict=True)]


def row_height(values: list[Any], widths: list[int]) -> float | None:
    """The height a row needs for its wrapped text, or None when one line does."""
    lines = 1
    for value, width in zip(values, widths, strict=True):
        # At most 2.2 units a character: measure only what may not fit.
        if isinstance(value, str) and len(value) * 11 // 5 > width - 1:
            w = text_width(value)
            if w > width - 1:
                lines = max(lines, -(-w // max(1, width - 2)))
    return LINE_PT * lines + 2 if lines > 1 else None


def _print_setup(ws: Any, report: Report, lang: str, title_rows: str = "1:1") -> None:
    """A4 landscape, one page wide, header rows on every page, page number and month below.

    Must run before the sheet's first row: write-only sheets write their
    properties (where fit-to-page lives) with it.
    """
    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = "9"  # A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0  # as many pages down as the rows need
    ws.page_margins = PageMargins(left=0.4, right=0.4, top=0.5, bottom=0.6, header=0.2, footer=0.25)
    ws.print_options.horizontalCentered = True
    ws.print_title_rows = title_rows
    ws.oddFooter.left.text = L.title(report, lang).replace("&", "&&")
    ws.oddFooter.left.size = 9
    ws.oddFooter.right.text = "第 &P 页，共 &N 页" if lang == "zh" else "Page &P of &N"
    ws.oddFooter.right.size = 9


def _value_cell(ws: Any, value: Any, **style: Any) -> Any:
    cell = _cell(ws, value)
    for key, v in style.items():
        setattr(cell, key, v)
    return cell


def _summary_sheet(wb: Workbook, report: Report, lang: str) -> None:
    t = L.TEXT[lang]
    ws = wb.create_sheet(SHEETS[0])
    _print_setup(ws, report, lang)
    span = len(L.REGION_COLUMNS[lang])  # the sheet's tables are at most this wide
    # Rows first (values, or None for a row of full-width text), so the column widths
    # can be set before the first row is written.
    rows: list[list[Any]] = []
    notes: dict[int, tuple[str, Any]] = {}  # row index -> (text, font) spanning the tables

    def note(text: str, font: Any = None) -> None:
        notes[len(rows)] = (text, font)
        rows.append([])

    note(L.title(report, lang), Font(bold=True, size=14))
    rows.append([t["check_date"], report.as_of.isoformat()])
    note(f"{t['policy']}: {L.policy_text(report, lang)}")
    rows.append([])
    rows.append([t["summary"], ""])
    heads = {len(rows) - 1}
    rates: set[tuple[int, int]] = set()
    for key, label, value in L.summary_values(report, lang):
        if key in L.RATE_KEYS:
            rates.add((len(rows), 1))
        rows.append([label, value])
    note(t["pass_rate_note"])
    rows.append([])
    rows.append([t["regions"]])
    heads.add(len(rows))
    rows.append(list(L.REGION_COLUMNS[lang]))
    first_region = len(rows)
    for r in report.regions:
        cells = L.region_cells(r.region, r.tally)
        rates.add((len(rows), len(cells) - 1))
        rows.append([*cells[:-1], r.tally.pass_rate])
    last_region = len(rows) - 1
    rows.append([])
    sections: list[tuple[str, list[str], list[list[Any]]]] = [
        (
            t["top_units"],
            L.UNIT_COLUMNS[lang],
            [L.unit_cells(u.region, u.unit, u.tally) for u in report.top_units],
        ),
        (
            f"{t['new_problems']} ({report.previous_as_of.isoformat()})",
            L.CHANGE_COLUMNS[lang],
            [L.change_cells(c, lang) for c in report.new_problems],
        ),
        (
            f"{t['recovered']} ({report.previous_as_of.isoformat()})",
            L.CHANGE_COLUMNS[lang],
            [L.change_cells(c, lang) for c in report.recovered],
        ),
        (
            t["roster"],
            L.FINDING_COLUMNS[lang],
            [L.finding_cells(f, lang) for f in report.roster_findings],
        ),
    ]
    for heading, columns, table in sections:
        rows.append([f"{heading}: {len(table)}"])
        if table:
            heads.add(len(rows))
            rows.append(list(columns))
            rows.extend(table)
        rows.append([])

    # Headings and one-cell section titles overflow into empty neighbours: leave them out.
    table_rows = [r for r in rows if len(r) > 1]
    widths = fit_widths([""] * span, (r + [None] * (span - len(r)) for r in table_rows), [
        Fit(24, 10), Fit(30, 10), *[Fit(24, 8)] * (span - 2)
    ])  # fmt: skip
    _widths(ws, [*widths, 2])
    full = sum(widths)
    for i, (text, _font) in notes.items():
        if text_width(text) > full - 2 and i > 0:
            ws.row_dimensions[i + 1].height = LINE_PT * -(-text_width(text) // (full - 4)) + 2
    for i, values in enumerate(rows):
        if i in notes:
            text, font = notes[i]
            style: dict[str, Any] = {"alignment": Alignment(wrap_text=True, vertical="top")}
            if font is not None:
                style["font"] = font
            ws.append([_value_cell(ws, text, **style)])
        elif i in heads:
            ws.append(_header(ws, [str(v) for v in values]))
        else:
            if len(values) > 1:
                height = row_height([*values, *[None] * (span - len(values))][:span], widths)
                if height:
                    ws.row_dimensions[i + 1].height = height
            cells = []
            for col, value in enumerate(values):
                if (i, col) in rates:
                    cell = _value_cell(ws, "—" if value is None else value, border=_BORDER)
                    cell.number_format = "0.0%"
                    cells.append(cell)
                elif len(values) > 2 or (i > 3 and len(values) == 2):
                    cells.append(_value_cell(ws, value, border=_BORDER, alignment=_MIDDLE))
                else:
                    cells.append(_text(ws, value) if isinstance(value, str) else value)
            ws.append(cells)
    ws.merged_cells = MultiCellRange(
        [CellRange(min_col=1, min_row=i + 1, max_col=span, max_row=i + 1) for i in notes]
    )
    if report.regions:
        chart = BarChart()
        chart.type = "bar"
        chart.grouping = "clustered"
        chart.title = t["chart"]
        chart.y_axis.title = L.REGION_COLUMNS[lang][1]
        chart.height, chart.width = 8, 14
        data = Reference(ws, min_col=3, max_col=4, min_row=first_region, max_row=last_region + 1)
        chart.add_data(data, titles_from_data=True)
        chart.set_categories(
            Reference(ws, min_col=1, min_row=first_region + 1, max_row=last_region + 1)
        )
        # Beside the region table, not under it: the summary stays short on paper.
        ws.add_chart(chart, f"{get_column_letter(span + 2)}{first_region}")


DETAIL_FITS = [Fit(12), Fit(30), Fit(24), Fit(24), Fit(14), Fit(12), Fit(24), Fit(64), Fit(8),
               Fit(36)]  # fmt: skip
ACCOUNT_FITS = [Fit(8), Fit(12), Fit(30), Fit(10), Fit(24), Fit(64), Fit(10), Fit(12), Fit(12),
                Fit(8), Fit(18), Fit(60), Fit(66)]  # fmt: skip


def _row_styles(ws: Any, shaded: bool = True) -> dict[State | None, tuple[int, int]]:
    """(plain, quoted) style ids per shade: none, zombie, suspended."""
    out = {}
    for state in (None, *SHADES):
        base: dict[str, Any] = {"border": _BORDER, "alignment": _MIDDLE}
        if state is not None and shaded:
            base["fill"] = SHADES[state]
        out[state] = (_style_id(ws, **base), _style_id(ws, quotePrefix=True, **base))
    return out


def _detail_sheet(wb: Workbook, report: Report, lang: str) -> Iterator[str]:
    """The official table; its rows are returned as XML for the zip writer to splice in."""
    ws = wb.create_sheet(SHEETS[1])
    _print_setup(ws, report, lang)
    header = L.DETAIL_COLUMNS[lang]
    flags = L.continuation(report.rows)

    def cells() -> Iterator[list[Any]]:
        for row, (same_region, same_unit) in zip(report.rows, flags, strict=True):
            values = L.detail_cells(row, lang)
            # The merged cell's value lives in its first row; the rest stay empty.
            if same_region:
                values[0] = None
            if same_unit:
                values[1] = None
            yield values

    widths = fit_widths(header, cells(), DETAIL_FITS)
    _widths(ws, widths)
    ws.freeze_panes = "A2"
    ws.append(_header(ws, header))
    merges: list[CellRange] = []
    starts = [2, 2]  # first data row of the current region / unit run
    for i, (same_region, same_unit) in enumerate(flags, start=2):
        for col, same in ((0, same_region), (1, same_unit)):
            if not same:
                _merge(merges, col, starts[col], i - 1)
                starts[col] = i
    end = len(report.rows) + 1
    _merge(merges, 0, starts[0], end)
    _merge(merges, 1, starts[1], end)
    # One assignment: MultiCellRange.add() checks each new range against all others.
    ws.merged_cells = MultiCellRange(merges)
    styles = _row_styles(ws)

    def rows() -> Iterator[Row]:
        for row, values in zip(report.rows, cells(), strict=True):
            state = State.SUSPENDED if row.problem is Problem.SUSPENDED else State.ZOMBIE
            style, quoted = styles[state]
            yield values, style, quoted, row_height(values, widths)

    return _rows_xml(rows(), 2)


def _merge(merges: list[CellRange], col: int, first: int, last: int) -> None:
    if last > first:
        merges.append(CellRange(min_col=col + 1, min_row=first, max_col=col + 1, max_row=last))


def _accounts_sheet(wb: Workbook, report: Report, lang: str) -> Iterator[str]:
    """Every account; rows returned as XML for the zip writer to splice in."""
    ws = wb.create_sheet(SHEETS[2])
    _print_setup(ws, report, lang)
    header = L.ACCOUNT_COLUMNS[lang]
    # Cells once, measured then written (a second pass of wording costs more than the list).
    cells = [L.account_cells(a, lang) for a in report.accounts]
    widths = fit_widths(header, cells, ACCOUNT_FITS)
    _widths(ws, widths)
    ws.freeze_panes = "A2"
    ws.append(_header(ws, header))
    styles = _row_styles(ws)

    def rows() -> Iterator[Row]:
        for a, values in zip(report.accounts, cells, strict=True):
            style, quoted = styles[a.state if a.state in SHADES else None]
            yield values, style, quoted, row_height(values, widths)

    return _rows_xml(rows(), 2)


def _rectify_sheet(wb: Workbook, report: Report, lang: str) -> None:
    """整改情况 (only when an earlier notice was issued): its cases, then 连续通报."""
    r = report.rectification
    if r is None:
        return
    text = L.RECTIFY_TEXT[lang]
    ws = wb.create_sheet(text["heading"])
    _print_setup(ws, report, lang, title_rows="3:3")
    header = L.CASE_COLUMNS[lang]
    cases = [L.case_cells(c, lang) for c in r.cases]
    repeated = L.repeated_rows(report, lang)
    fits = [Fit(16), Fit(30), Fit(10), Fit(30), Fit(12), Fit(14)]
    _widths(ws, fit_widths(header, [*cases, *([*row, ""] for row in repeated)], fits))
    ws.append([_text(ws, text["intro"].format(month=r.notice, as_of=r.notice_as_of.isoformat()))])
    ws.append([L.rectify_counts(report, lang)])
    ws.append(_header(ws, header))
    for values in cases:
        ws.append([_value_cell(ws, v, border=_BORDER, alignment=_MIDDLE) for v in values])
    ws.append([])
    ws.append([text["repeated"]])
    ws.append(_header(ws, L.REPEATED_COLUMNS[lang]))
    for values in repeated or [[L.TEXT[lang]["none"]]]:
        ws.append([_value_cell(ws, v, border=_BORDER, alignment=_MIDDLE) for v in values])


def _sites_sheet(wb: Workbook, report: Report, lang: str) -> None:
    """The notice's attachment 1: every website, 不合格 first (only when sites are listed)."""
    ws = wb.create_sheet(SHEETS[3])
    _print_setup(ws, report, lang)
    header = L.SITE_COLUMNS[lang]
    cells = [L.site_cells(n, row, lang) for n, row in enumerate(report.sites, start=1)]
    widths = fit_widths(header, cells, [Fit(6, 4), Fit(12, 6), Fit(24, 10), Fit(24, 10),
                                        Fit(40, 12), Fit(14, 10), Fit(10, 6), Fit(48, 10)])  # fmt: skip
    _widths(ws, widths)
    ws.freeze_panes = "A2"
    ws.append(_header(ws, header))
    for values in cells:
        ws.append(_values(ws, values))


def render_xlsx(report: Report, lang: str = "zh") -> bytes:
    """The workbook's bytes; identical for identical reports."""
    wb = Workbook(write_only=True)
    moment = datetime.combine(report.as_of, time.min)
    wb.properties.creator = "newmedia-monitor"
    wb.properties.title = L.title(report, lang)
    wb.properties.created = moment
    wb.properties.modified = moment
    _summary_sheet(wb, report, lang)
    detail = _detail_sheet(wb, report, lang)
    everyone = _accounts_sheet(wb, report, lang)
    _rectify_sheet(wb, report, lang)
    if report.sites:
        _sites_sheet(wb, report, lang)
    buf = io.BytesIO()
    stamp = (max(report.as_of.year, 1980), report.as_of.month, report.as_of.day, 0, 0, 0)
    archive = _StableZip(buf, stamp)
    # openpyxl numbers worksheets in creation order when it saves.
    archive.rows = {"xl/worksheets/sheet2.xml": detail, "xl/worksheets/sheet3.xml": everyone}
    # ExcelWriter directly: openpyxl's save_workbook would stamp "modified" with now.
    ExcelWriter(wb, archive).save()
    return buf.getvalue()
