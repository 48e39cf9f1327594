"""Decode a roster file (CSV or XLSX) into numbered rows of text cells.

This layer knows about bytes, encodings and spreadsheets, nothing about what a
column means (that is `monitor.roster.parse`). It returns a `Table`: every
non-blank row with the number a spreadsheet shows for it (1-based, blank rows
skipped but counted), cells as stripped strings.

Errors: only `ReadError` (one message about the whole file, e.g. "not a CSV or
XLSX file", "unknown sheet", a limit crossed at a named cell); the caller turns
it into a `Problem`. Anything a foreign library raises while decoding is
translated into it here.

Decisions:
- The format is sniffed from the content, not the file name: a ZIP archive is
  XLSX, an OLE2 compound file is the old .xls (refused with advice), anything
  else is CSV text.
- CSV encodings, tried in order: a BOM (UTF-8 / UTF-16, as Excel's "CSV UTF-8"
  and "Unicode text" write them), then strict UTF-8, then strict GB18030 (a
  superset of GBK/GB2312: what Excel on a Chinese Windows writes for "CSV").
- The delimiter is a comma, unless the first non-blank line has tabs (or
  semicolons) and no commas.
- A CSV record is one row even when a quoted cell holds line breaks, as Excel
  shows it.
- XLSX is streamed (never the sheet's whole grid in memory): only cells that
  hold data count, so a formatted empty cell at XFD1048576 (what Excel writes
  when a whole column is styled) costs nothing. The sheet ends at the last row
  and column holding data; a merged range fills its cells up to there with the
  value of its first cell.
- XLSX cells holding a formula are read as the formula's literal text (e.g.
  "=A1&B1"), never evaluated and never replaced by a cached value: a roster is
  data, and a formula in it is almost always a typing accident (a name typed
  as "=..." or "-..."); keeping the literal text makes that visible.
- Numbers are written as a person would type them: 1234567890.0 -> "1234567890".

Limits (`RosterLimits`): far above any real roster (a city lists about 420
accounts, a province a few thousand), they bound the memory and time of any
import, whatever the file holds. Crossing one refuses the file with the sheet
and cell (or row and column) where it happened.
"""

from __future__ import annotations

import codecs
import csv
import io
import math
import os
import re
import stat
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

# Leading/trailing characters removed from every cell (besides str.strip()'s
# whitespace, which includes the full-width space U+3000 and U+00A0).
_EXTRA_STRIP = "\u200b\u200c\u200d\u2060\ufeff"

_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

# Python's csv module refuses fields longer than its limit; the roster limit
# (1000 characters) is checked later, so allow anything a sane file holds.
_CSV_FIELD_LIMIT = 10_000_000


# Characters no spreadsheet text holds: control characters (other than tab and
# line breaks) and Unicode noncharacters. Finding one means the file is binary.
_BINARY = re.compile(r"[\x00-\x08\x0e-\x1f\x7f\ufffe\uffff]")

_MIB = 1 << 20


@dataclass(frozen=True, slots=True)
class RosterLimits:
    """What one roster file may hold; each bound keeps an import's memory and time finite."""

    file_bytes: int = 32 * _MIB  # a 100,000-account CSV is about 7 MB
    rows: int = 250_000  # rows holding data (the header and heading rows included)
    columns: int = 100  # the last column holding data (CV)
    cells: int = 4_000_000  # non-empty cells in all
    merged_cells: int = 2_000_000  # cells filled from merged ranges, in all
    merged_ranges: int = 250_000
    # XLSX parts, uncompressed: the sheet is streamed, other parts (shared
    # strings, styles) are loaded whole by openpyxl.
    sheet_xml_bytes: int = 512 * _MIB
    other_part_bytes: int = 64 * _MIB
    zip_members: int = 10_000


LIMITS = RosterLimits()


class ReadError(Exception):
    """The file as a whole cannot be read; the message names what is wrong."""


@dataclass
class Table:
    """Rows of a roster file: (spreadsheet row number, cells), blank rows left out."""

    rows: list[tuple[int, list[str]]] = field(default_factory=list)
    kind: str = "csv"  # "csv" | "xlsx"
    encoding: str | None = None  # for CSV
    sheet: str | None = None  # for XLSX
    # Problems found while reading that concern one row (e.g. a CSV syntax
    # error): (row, message). Reading stops at such a row.
    row_errors: list[tuple[int, str]] = field(default_factory=list)


def clean(value: str) -> str:
    """A cell's text without surrounding whitespace (incl. U+3000) or zero-width marks."""
    value = value.strip()
    if value and (value[0] in _EXTRA_STRIP or value[-1] in _EXTRA_STRIP):
        value = value.strip(_EXTRA_STRIP + " \t\r\n\u3000\xa0")
    return value


def column_letter(index: int) -> str:
    """Spreadsheet column letters for a 0-based index: 0 -> A, 26 -> AA."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def cell_name(row: int, column: int) -> str:
    """A cell's spreadsheet name from its 1-based row and column: (1048576, 16384) -> XFD1048576."""
    return f"{column_letter(column - 1)}{row}"


def _reason(exc: BaseException) -> str:
    """An exception as text that is never empty (MemoryError() has no message)."""
    return str(exc) or type(exc).__name__


def read_table(path: str | Path, sheet: str | None = None, limits: RosterLimits = LIMITS) -> Table:
    """Read `path` (CSV or XLSX, sniffed) into a `Table`; raise `ReadError` if it cannot be."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            mode = os.fstat(fh.fileno()).st_mode
            if stat.S_ISDIR(mode):
                raise ReadError("cannot read the file: it is a directory")
            if not stat.S_ISREG(mode):
                # A device or pipe may never end (/dev/zero) or never answer (a FIFO).
                raise ReadError("cannot read the file: not a regular file")
            data = fh.read(limits.file_bytes + 1)
    except IsADirectoryError as exc:
        raise ReadError("cannot read the file: it is a directory") from exc
    except FileNotFoundError as exc:
        raise ReadError("cannot read the file: no such file") from exc
    except OSError as exc:
        raise ReadError(f"cannot read the file: {exc.strerror or exc}") from exc
    return read_bytes(data, sheet=sheet, limits=limits)


def read_bytes(data: bytes, sheet: str | None = None, limits: RosterLimits = LIMITS) -> Table:
    """Like `read_table`, from the file's content."""
    if len(data) > limits.file_bytes:
        raise ReadError(
            f"file too large: over {_size(limits.file_bytes)} "
            "(a roster of 100,000 accounts is about 7 MB as CSV)"
        )
    if not data.strip():
        raise ReadError("empty file")
    if data.startswith(_ZIP_MAGIC):
        return _read_xlsx(data, sheet, limits)
    if data.startswith(_OLE_MAGIC):
        raise ReadError(
            "old Excel .xls (or other OLE2) file is not supported: save it as .xlsx or CSV"
        )
    encoding, delimiter = _sniff_text(data)
    return _read_csv(data, encoding, delimiter, limits)


class _Budget:
    """Counts rows and cells holding data against the limits; `where` names the place."""

    def __init__(self, limits: RosterLimits, where: Callable[[int, int], str]):
        self.limits = limits
        self.where = where
        self.rows = 0
        self.cells = 0

    def row(self, number: int, columns: list[int]) -> None:
        """Account for one row holding data in these (1-based) columns."""
        limits = self.limits
        last = max(columns)
        if last > limits.columns:
            raise ReadError(
                f"{self.where(number, last)}: data in column {column_letter(last - 1)}, beyond the "
                f"last column a roster may use ({column_letter(limits.columns - 1)}, "
                f"column {limits.columns})"
            )
        self.rows += 1
        if self.rows > limits.rows:
            raise ReadError(
                f"{self.where(number, min(columns))}: more than {limits.rows:,} rows hold data "
                "(a roster may have at most that many)"
            )
        self.cells += len(columns)
        if self.cells > limits.cells:
            raise ReadError(
                f"{self.where(number, min(columns))}: more than {limits.cells:,} cells hold data "
                "(a roster may have at most that many)"
            )


# --- CSV -------------------------------------------------------------------


def _sniff_text(data: bytes) -> tuple[str, str]:
    """The encoding the text decodes with, and its delimiter; ReadError if it is not text."""
    if data.startswith(codecs.BOM_UTF8):
        candidates = ["utf-8-sig"]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        candidates = ["utf-16"]
    else:
        candidates = ["utf-8", "gb18030"]
    for encoding in candidates:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if _BINARY.search(text):
            raise ReadError("not a CSV or XLSX file (binary content)")
        return encoding, _delimiter(text)
    if len(candidates) == 1:
        raise ReadError(f"cannot decode the file as {candidates[0]} text (corrupt file?)")
    raise ReadError(
        "not a CSV or XLSX file, or text in an unknown encoding "
        "(expected UTF-8, UTF-8 with BOM, UTF-16 or GB18030/GBK)"
    )


def _delimiter(text: str) -> str:
    for line in io.StringIO(text[:65536], newline=""):
        if not line.strip():
            continue
        if "," in line:
            return ","
        if "\t" in line:
            return "\t"
        if ";" in line:
            return ";"
        return ","
    return ","


def _read_csv(data: bytes, encoding: str, delimiter: str, limits: RosterLimits) -> Table:
    table = Table(kind="csv", encoding=encoding)
    budget = _Budget(limits, lambda row, column: f"row {row}, column {column_letter(column - 1)}")
    old_limit = csv.field_size_limit()
    csv.field_size_limit(_CSV_FIELD_LIMIT)
    try:
        # Decoded as it is read: the whole text as one string would take up to
        # four bytes a character once more.
        lines = io.TextIOWrapper(io.BytesIO(data), encoding=encoding, newline="")
        reader = csv.reader(lines, delimiter=delimiter)
        rows = table.rows
        number = 0
        while True:
            number += 1
            try:
                record = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                table.row_errors.append((number, f"cannot read this row as CSV ({exc})"))
                break
            cells = [clean(cell) for cell in record]
            filled = [index + 1 for index, cell in enumerate(cells) if cell]
            if filled:
                budget.row(number, filled)
                del cells[filled[-1] :]
                rows.append((number, cells))
    finally:
        csv.field_size_limit(old_limit)
    return table


# --- XLSX ------------------------------------------------------------------


def _check_parts(data: bytes, limits: RosterLimits) -> None:
    """Refuse a workbook whose parts would inflate past the limits (a ZIP bomb)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as exc:
        raise ReadError(
            f"cannot read the file as XLSX (corrupt or not a workbook: {_reason(exc)})"
        ) from exc
    if len(members) > limits.zip_members:
        raise ReadError(
            f"cannot read the file as XLSX: {len(members):,} parts (at most {limits.zip_members:,})"
        )
    for info in members:
        is_sheet = info.filename.startswith("xl/worksheets/")
        limit = limits.sheet_xml_bytes if is_sheet else limits.other_part_bytes
        if info.file_size > limit:
            raise ReadError(
                f"cannot read the file as XLSX: part {info.filename} is {_size(info.file_size)} "
                f"uncompressed (at most {_size(limit)})"
            )


def _size(count: int) -> str:
    return f"{count / _MIB:,.1f} MB" if count >= _MIB else f"{count:,} bytes"


def _read_xlsx(data: bytes, sheet: str | None, limits: RosterLimits) -> Table:
    import openpyxl  # imported lazily: CSV-only users never pay for it

    _check_parts(data, limits)
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception as exc:  # openpyxl/zipfile/xml raise many types for a bad file
        raise ReadError(
            f"cannot read the file as XLSX (corrupt or not a workbook: {_reason(exc)})"
        ) from exc
    try:
        worksheet = _pick_sheet(workbook, sheet)
        table = Table(kind="xlsx", sheet=worksheet.title)
        table.rows = _SheetReader(workbook, worksheet, limits).rows()
        return table
    except ReadError:
        raise
    except Exception as exc:  # a workbook that loads but breaks while read
        raise ReadError(f"cannot read the file as XLSX ({_reason(exc)})") from exc
    finally:
        workbook.close()


def _pick_sheet(workbook: Any, sheet: str | None) -> Any:
    names = workbook.sheetnames
    if sheet is not None:
        wanted = sheet.strip().casefold()
        matches = [n for n in names if n == sheet] or [
            n for n in names if n.strip().casefold() == wanted
        ]
        if not matches:
            available = ", ".join(repr(n) for n in names)
            raise ReadError(f"no sheet named {sheet!r}; the sheets are: {available}")
        worksheet = workbook[matches[0]]
    else:
        worksheets = workbook.worksheets
        if not worksheets:
            raise ReadError("the workbook has no worksheet")
        worksheet = worksheets[0]
    if not hasattr(worksheet, "iter_rows"):
        raise ReadError(f"sheet {worksheet.title!r} is a chart, not a worksheet")
    return worksheet


class _SheetReader:
    """Streams one worksheet's XML: cells holding data, then merged ranges filled.

    openpyxl's read-only worksheet streams cells but forgets merged ranges, pads
    every row to the widest cell and keeps one record per formatted row; so the
    XML is walked here and openpyxl's own cell parser decodes each cell (shared
    strings, dates by number format, formulas as text, inline and rich text).
    """

    def __init__(self, workbook: Any, worksheet: Any, limits: RosterLimits):
        self.workbook = workbook
        self.worksheet = worksheet
        self.limits = limits
        self.title = worksheet.title
        self.budget = _Budget(limits, self.where)
        self.cells: dict[int, dict[int, str]] = {}  # row -> column -> text
        self.merged: list[tuple[int, int, int, int]] = []  # (min_col, min_row, max_col, max_row)

    def where(self, row: int, column: int) -> str:
        return f"sheet {self.title!r}, cell {cell_name(row, column)}"

    def rows(self) -> list[tuple[int, list[str]]]:
        self._stream()
        self._fill_merged()
        out = []
        for number in sorted(self.cells):
            by_column = self.cells[number]
            cells = [""] * max(by_column)
            for column, text in by_column.items():
                cells[column - 1] = text
            out.append((number, cells))
        return out

    def _stream(self) -> None:
        # Private to openpyxl but stable since 2.6; tests read real workbooks through it.
        from openpyxl.utils.cell import range_boundaries
        from openpyxl.worksheet._reader import WorkSheetParser
        from openpyxl.xml.constants import SHEET_MAIN_NS
        from openpyxl.xml.functions import iterparse

        row_tag = f"{{{SHEET_MAIN_NS}}}row"
        merge_tag = f"{{{SHEET_MAIN_NS}}}mergeCell"
        workbook, worksheet = self.workbook, self.worksheet
        parser = WorkSheetParser(
            None,
            worksheet._shared_strings,
            data_only=False,
            epoch=workbook.epoch,
            date_formats=workbook._date_formats,
            timedelta_formats=workbook._timedelta_formats,
        )
        open_elements: list[Any] = []
        with workbook._archive.open(worksheet._worksheet_path) as source:
            for event, element in iterparse(source, events=("start", "end")):
                if event == "start":
                    open_elements.append(element)
                    continue
                open_elements.pop()
                if element.tag == row_tag:
                    # A row of formatted empty cells (no value, formula or text) is
                    # skipped unparsed; numbering still follows its `r` attribute.
                    if any(len(cell) for cell in element):
                        number, cells = parser.parse_row(element)
                        self._row(number, cells)
                    else:
                        r = element.get("r")
                        parser.row_counter = int(float(r)) if r else parser.row_counter + 1
                    parser.row_dimensions.clear()  # one record per formatted row otherwise
                elif element.tag == merge_tag:
                    if len(self.merged) >= self.limits.merged_ranges:
                        raise ReadError(
                            f"sheet {self.title!r}: more than {self.limits.merged_ranges:,} "
                            "merged ranges"
                        )
                    self.merged.append(range_boundaries(element.get("ref", "")))
                # Drop what was parsed: finished children of the sheet's sections
                # (rows, merged ranges, ...) and finished sections.
                if len(open_elements) in (1, 2):
                    open_elements[-1].clear()

    def _row(self, number: int, cells: list[dict[str, Any]]) -> None:
        values: dict[int, str] = {}
        for cell in cells:
            value = cell["value"]
            if value is None:
                continue
            text = _cell_text(value)
            if text:
                values[cell["column"]] = text
        if not values:
            return
        self.budget.row(number, sorted(values))
        self.cells.setdefault(number, {}).update(values)

    def _fill_merged(self) -> None:
        """Give every cell of a merged range its first cell's value, up to the data's end."""
        if not self.merged or not self.cells:
            return
        last_row = max(self.cells)
        last_column = max(max(columns) for columns in self.cells.values())
        filled = 0
        for min_col, min_row, max_col, max_row in self.merged:
            text = self.cells.get(min_row, {}).get(min_col)
            if not text:
                continue
            max_row, max_col = min(max_row, last_row), min(max_col, last_column)
            area = (max_row - min_row + 1) * (max_col - min_col + 1)
            filled += area
            if filled > self.limits.merged_cells:
                raise ReadError(
                    f"{self.where(min_row, min_col)}: merged cells would fill more than "
                    f"{self.limits.merged_cells:,} cells (this range reaches "
                    f"{cell_name(max_row, max_col)})"
                )
            for row in range(min_row, max_row + 1):
                by_column = self.cells.get(row)
                if by_column is None:
                    by_column = self.cells[row] = {}
                    self.budget.row(row, [min_col])
                for column in range(min_col, max_col + 1):
                    by_column[column] = text


def _cell_text(value: object) -> str:
    """A cell value as the text a person typed (formulas as their literal text)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer() and abs(value) < 1e16:
            return str(int(value))
        return repr(value)
    if isinstance(value, datetime):
        if value.time() == time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, date | time):
        return value.isoformat()
    text = getattr(value, "text", None)  # ArrayFormula and friends
    if isinstance(text, str):
        return clean(text)
    return clean(str(value))
