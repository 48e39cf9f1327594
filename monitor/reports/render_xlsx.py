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
from datetime import datetime, time
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.cell_range import CellRange, MultiCellRange
from openpyxl.writer.excel import ExcelWriter

from monitor.reports import labels as L
from monitor.reports.model import Report
from monitor.reports.render_text import FORMULA_STARTS

_THIN = Side(style="thin", color="888888")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_HEADER_FONT = Font(bold=True)
_HEADER_FILL = PatternFill("solid", fgColor="DDE4EE")
_CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)
_MIDDLE = Alignment(vertical="center", wrap_text=True)

# Sheet names are the same in every language: other tools look them up.
SHEETS = ("汇总", "问题账号", "全部账号")
DETAIL_WIDTHS = [12, 30, 22, 22, 14, 12, 22, 16, 10, 40]
ACCOUNT_WIDTHS = [8, 12, 30, 8, 22, 16, 8, 10, 12, 8, 17, 40, 40]


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


def _rows_xml(rows: Iterable[list[Any]], first_row: int, style: int, quoted: int) -> Iterator[str]:
    """Sheet rows as SpreadsheetML text, for sheets too big for openpyxl's cell writer.

    openpyxl without lxml spends ~20 µs a cell; 100,000 accounts x 13 columns would
    take most of the 30 s budget. Strings are inline strings; formula-like text gets
    the `quoted` style (quotePrefix), so it stays text when the cell is edited.
    """
    plain = f' s="{style}"' if style else ""
    quote = f' s="{quoted}"'
    for r, values in enumerate(rows, start=first_row):
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
        yield f'<row r="{r}">{"".join(cells)}</row>'


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


def _summary_sheet(wb: Workbook, report: Report, lang: str) -> None:
    t = L.TEXT[lang]
    ws = wb.create_sheet(SHEETS[0])
    _widths(ws, [26, 30, 12, 12, 12, 12, 12])
    ws.freeze_panes = "A2"
    row = 0

    def put(values: list[Any]) -> None:
        nonlocal row
        ws.append(values)
        row += 1

    title = WriteOnlyCell(ws, L.title(report, lang))
    title.font = Font(bold=True, size=14)
    put([title])
    put(_values(ws, [t["check_date"], report.as_of.isoformat()]))
    put(_values(ws, [t["policy"], L.policy_text(report, lang)]))
    put([])
    put(_header(ws, [t["summary"], ""]))
    for label, value in L.summary_items(report, lang):
        put(_values(ws, [label, int(value) if value.isdigit() else value]))
    put(_values(ws, [t["pass_rate_note"]]))
    put([])
    put(_values(ws, [t["regions"]]))
    put(_header(ws, L.REGION_COLUMNS[lang]))
    first = row
    for r in report.regions:
        cells = _values(ws, L.region_cells(r.region, r.tally))
        rate = WriteOnlyCell(ws, r.tally.pass_rate)
        rate.number_format = "0.0%"
        put([*cells[:-1], rate])
    last = row
    chart_row = row + 2
    put([])
    for _ in range(22):  # room for the chart below the region table
        put([])
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
    for heading, columns, rows in sections:
        put(_values(ws, [f"{heading}: {len(rows)}"]))
        if rows:
            put(_header(ws, columns))
            for cells in rows:
                put(_values(ws, cells))
        put([])
    if report.regions:
        chart = BarChart()
        chart.type = "bar"
        chart.grouping = "clustered"
        chart.title = t["chart"]
        chart.y_axis.title = L.REGION_COLUMNS[lang][1]
        chart.height, chart.width = 11, 18
        data = Reference(ws, min_col=3, max_col=4, min_row=first, max_row=last)
        chart.add_data(data, titles_from_data=True)
        chart.set_categories(Reference(ws, min_col=1, min_row=first + 1, max_row=last))
        ws.add_chart(chart, f"A{chart_row}")


def _detail_sheet(wb: Workbook, report: Report, lang: str) -> Iterator[str]:
    """The official table; its rows are returned as XML for the zip writer to splice in."""
    ws = wb.create_sheet(SHEETS[1])
    _widths(ws, DETAIL_WIDTHS)
    ws.freeze_panes = "A2"
    ws.append(_header(ws, L.DETAIL_COLUMNS[lang]))
    flags = L.continuation(report.rows)
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
    ws.print_title_rows = "1:1"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = "9"  # A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    body = _style_id(ws, border=_BORDER, alignment=_MIDDLE)
    quoted = _style_id(ws, border=_BORDER, alignment=_MIDDLE, quotePrefix=True)

    def cells() -> Iterator[list[Any]]:
        for row, (same_region, same_unit) in zip(report.rows, flags, strict=True):
            values = L.detail_cells(row, lang)
            # The merged cell's value lives in its first row; the rest stay empty.
            if same_region:
                values[0] = None
            if same_unit:
                values[1] = None
            yield values

    return _rows_xml(cells(), 2, body, quoted)


def _merge(merges: list[CellRange], col: int, first: int, last: int) -> None:
    if last > first:
        merges.append(CellRange(min_col=col + 1, min_row=first, max_col=col + 1, max_row=last))


def _accounts_sheet(wb: Workbook, report: Report, lang: str) -> Iterator[str]:
    """Every account; rows returned as XML for the zip writer to splice in."""
    ws = wb.create_sheet(SHEETS[2])
    _widths(ws, ACCOUNT_WIDTHS)
    ws.freeze_panes = "A2"
    ws.append(_header(ws, L.ACCOUNT_COLUMNS[lang]))
    quoted = _style_id(ws, quotePrefix=True)
    return _rows_xml((L.account_cells(a, lang) for a in report.accounts), 2, 0, quoted)


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
    buf = io.BytesIO()
    stamp = (max(report.as_of.year, 1980), report.as_of.month, report.as_of.day, 0, 0, 0)
    archive = _StableZip(buf, stamp)
    # openpyxl numbers worksheets in creation order when it saves.
    archive.rows = {"xl/worksheets/sheet2.xml": detail, "xl/worksheets/sheet3.xml": everyone}
    # ExcelWriter directly: openpyxl's save_workbook would stamp "modified" with now.
    ExcelWriter(wb, archive).save()
    return buf.getvalue()
