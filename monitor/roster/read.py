"""Decode a roster file (CSV or XLSX) into numbered rows of text cells.

This layer knows about bytes, encodings and spreadsheets, nothing about what a
column means (that is `monitor.roster.parse`). It returns a `Table`: every
non-blank row with the number a spreadsheet shows for it (1-based, blank rows
skipped but counted), cells as stripped strings.

Errors: only `ReadError` (one message about the whole file, e.g. "not a CSV or
XLSX file", "unknown sheet"); the caller turns it into a `Problem`. Anything a
foreign library raises while decoding is translated into it here.

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
- XLSX is opened in normal (not read-only) mode because read-only mode does not
  know merged cells; the value of a merged range fills every cell of it.
- XLSX cells holding a formula are read as the formula's literal text (e.g.
  "=A1&B1"), never evaluated and never replaced by a cached value: a roster is
  data, and a formula in it is almost always a typing accident (a name typed
  as "=..." or "-..."); keeping the literal text makes that visible.
- Numbers are written as a person would type them: 1234567890.0 -> "1234567890".
"""

from __future__ import annotations

import codecs
import csv
import io
import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path

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


def read_table(path: str | Path, sheet: str | None = None) -> Table:
    """Read `path` (CSV or XLSX, sniffed) into a `Table`; raise `ReadError` if it cannot be."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except IsADirectoryError as exc:
        raise ReadError("cannot read the file: it is a directory") from exc
    except FileNotFoundError as exc:
        raise ReadError("cannot read the file: no such file") from exc
    except OSError as exc:
        raise ReadError(f"cannot read the file: {exc.strerror or exc}") from exc
    return read_bytes(data, sheet=sheet)


def read_bytes(data: bytes, sheet: str | None = None) -> Table:
    """Like `read_table`, from the file's content."""
    if not data.strip():
        raise ReadError("empty file")
    if data.startswith(_ZIP_MAGIC):
        return _read_xlsx(data, sheet)
    if data.startswith(_OLE_MAGIC):
        raise ReadError(
            "old Excel .xls (or other OLE2) file is not supported: save it as .xlsx or CSV"
        )
    text, encoding = _decode(data)
    return _read_csv(text, encoding)


# --- CSV -------------------------------------------------------------------


def _decode(data: bytes) -> tuple[str, str]:
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
        return text, encoding
    if len(candidates) == 1:
        raise ReadError(f"cannot decode the file as {candidates[0]} text (corrupt file?)")
    raise ReadError(
        "not a CSV or XLSX file, or text in an unknown encoding "
        "(expected UTF-8, UTF-8 with BOM, UTF-16 or GB18030/GBK)"
    )


def _delimiter(text: str) -> str:
    for line in io.StringIO(text, newline=""):
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


def _read_csv(text: str, encoding: str) -> Table:
    table = Table(kind="csv", encoding=encoding)
    old_limit = csv.field_size_limit()
    csv.field_size_limit(_CSV_FIELD_LIMIT)
    try:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
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
            if any(cells):
                rows.append((number, cells))
    finally:
        csv.field_size_limit(old_limit)
    return table


# --- XLSX ------------------------------------------------------------------


def _read_xlsx(data: bytes, sheet: str | None) -> Table:
    import openpyxl  # imported lazily: CSV-only users never pay for it

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=False, data_only=False)
    except Exception as exc:  # openpyxl/zipfile/xml raise many types for a bad file
        raise ReadError(f"cannot read the file as XLSX (corrupt or not a workbook: {exc})") from exc
    try:
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
        table = Table(kind="xlsx", sheet=worksheet.title)
        grid = [
            [_cell_text(value) for value in row] for row in worksheet.iter_rows(values_only=True)
        ]
        for merged in worksheet.merged_cells.ranges:
            _fill_merged(grid, merged.min_row, merged.max_row, merged.min_col, merged.max_col)
        for index, cells in enumerate(grid):
            if any(cells):
                table.rows.append((index + 1, cells))
        return table
    except ReadError:
        raise
    except Exception as exc:  # a workbook that loads but breaks while read
        raise ReadError(f"cannot read the file as XLSX ({exc})") from exc
    finally:
        workbook.close()


def _fill_merged(grid: list[list[str]], r1: int, r2: int, c1: int, c2: int) -> None:
    if r1 > len(grid):
        return
    first = grid[r1 - 1]
    value = first[c1 - 1] if c1 - 1 < len(first) else ""
    for r in range(r1, min(r2, len(grid)) + 1):
        row = grid[r - 1]
        if len(row) < c2:
            row.extend([""] * (c2 - len(row)))
        for c in range(c1, c2 + 1):
            row[c - 1] = value


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
