"""Roster files that would take unbounded memory or time: refused or read in bounded space.

The family: a value or a formatted empty cell at the far end of a sheet
(XFD1048576), whole rows and columns formatted, merged ranges as large as the
sheet, too many rows, columns or cells holding data, ZIP parts that inflate
past a limit, files too large, devices and pipes. Each either reads exactly the
cells that hold data or is refused in one line naming the sheet and cell (or
the row and column, or the part).
"""

from __future__ import annotations

import os
import re
import zipfile
from pathlib import Path

import openpyxl
import pytest
from openpyxl.styles import PatternFill

from monitor.cli import main
from monitor.roster import read_roster
from monitor.roster.read import ReadError, RosterLimits, read_table

HEADER = ["类别", "主办单位", "平台", "账号名称", "账号ID", "状态"]
ROWS = [["市直部门", f"单位{i}", "微博", f"账号{i}", str(1000 + i), "运行"] for i in range(3)]
LAST = 1_048_576

# Any of these would build a grid of up to 17 billion cells if the sheet were
# read as a rectangle; each test guards against a hang with a timeout.
pytestmark = pytest.mark.timeout(120)


def workbook(tmp_path: Path, rows: list[list[object]] | None = None) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "名单"
    for row in [HEADER, *(ROWS if rows is None else rows)]:
        ws.append(row)
    ws["A2"].fill = PatternFill("solid", fgColor="FFFF00")  # so style id 1 exists
    path = tmp_path / "base.xlsx"
    wb.save(path)
    return path


def rewrite_sheet(
    path: Path,
    name: str,
    *,
    rows_xml: str = "",
    merges: tuple[str, ...] = (),
    dimension: str | None = "A1:XFD1048576",
) -> Path:
    """A copy of the workbook whose sheet XML gets extra rows, merged ranges, a dimension."""
    out = path.with_name(name)
    with zipfile.ZipFile(path) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                text = re.sub(r"<dimension ref=\"[^\"]*\"/>", "", data.decode())
                if dimension:
                    text = text.replace(
                        "<sheetViews>", f'<dimension ref="{dimension}"/><sheetViews>'
                    )
                text = text.replace("</sheetData>", rows_xml + "</sheetData>", 1)
                if merges:
                    merged = "".join(f'<mergeCell ref="{m}"/>' for m in merges)
                    text = text.replace(
                        "</sheetData>",
                        f'</sheetData><mergeCells count="{len(merges)}">{merged}</mergeCells>',
                        1,
                    )
                data = text.encode()
            zout.writestr(info, data)
    return out


def cell_xml(ref: str, text: str | None = None) -> str:
    if text is None:
        return f'<c r="{ref}" s="1"/>'
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


def data_extent(path: Path, **limits: int) -> tuple[int, int, int]:
    """(rows read, last row number, widest row) of a file read with these limits."""
    table = read_table(path, limits=RosterLimits(**limits))
    return len(table.rows), table.rows[-1][0], max(len(cells) for _, cells in table.rows)


# --- the far end of the sheet -------------------------------------------------------


@pytest.mark.parametrize("ref", [f"XFD{LAST}", f"A{LAST}", f"CV{LAST}", "IV65536", "XFD5"])
def test_a_formatted_empty_cell_far_away_costs_nothing_and_changes_nothing(tmp_path, ref):
    row = int(re.sub(r"[A-Z]", "", ref))
    path = rewrite_sheet(
        workbook(tmp_path), "styled.xlsx", rows_xml=f'<row r="{row}">{cell_xml(ref)}</row>'
    )
    assert data_extent(path) == (4, 4, 6)
    result = read_roster(path)
    assert result.problems == [] and len(result.entries) == 3


def test_formatted_empty_cells_at_the_end_of_data_rows_change_nothing(tmp_path):
    path = workbook(tmp_path)
    wb = openpyxl.load_workbook(path)
    for ref in ("XFD1", "XFD3", "CW4", "G2"):
        wb.active[ref].fill = PatternFill("solid", fgColor="DDEBF7")
    wb.save(path)
    assert data_extent(path) == (4, 4, 6)


@pytest.mark.parametrize(
    ("ref", "column"), [(f"XFD{LAST}", "XFD"), ("CW2", "CW"), (f"ZZ{LAST}", "ZZ")]
)
def test_data_beyond_the_last_column_is_refused_naming_the_sheet_and_cell(tmp_path, ref, column):
    row = int(re.sub(r"[A-Z]", "", ref))
    base = workbook(tmp_path)
    if row == 2:
        wb = openpyxl.load_workbook(base)
        wb.active[ref] = "x"
        wb.save(base)
        path = base
    else:
        path = rewrite_sheet(
            base, "far.xlsx", rows_xml=f'<row r="{row}">{cell_xml(ref, "x")}</row>'
        )
    result = read_roster(path)
    assert len(result.problems) == 1
    message = str(result.problems[0])
    assert f"sheet '名单', cell {ref}" in message and f"column {column}" in message
    assert "\n" not in message


def test_a_million_formatted_rows_after_the_data_are_read_as_nothing(tmp_path):
    rows = "".join(
        f'<row r="{r}" s="1" customFormat="1" ht="20" customHeight="1">{cell_xml(f"A{r}")}'
        f"{cell_xml(f'XFD{r}')}</row>"
        for r in range(5, 200_001)
    )
    for dimension in ("A1:XFD200000", None):  # with and without a <dimension> (a full scan)
        path = rewrite_sheet(workbook(tmp_path), "rows.xlsx", rows_xml=rows, dimension=dimension)
        assert data_extent(path) == (4, 4, 6)


def test_whole_columns_formatted_are_read_as_nothing(tmp_path):
    path = workbook(tmp_path)
    wb = openpyxl.load_workbook(path)
    for letter in ("A", "B", "XFD"):
        wb.active.column_dimensions[letter].fill = PatternFill("solid", fgColor="DDEBF7")
    wb.save(path)
    assert data_extent(path) == (4, 4, 6)


# --- merged ranges ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("merge", "expected"),
    [
        (f"A2:A{LAST}", (4, 4, 6)),  # a column merged to the end of the sheet
        (f"A2:XFD{LAST}", (4, 4, 6)),  # everything below the header
        (f"A1:XFD{LAST}", (4, 4, 6)),  # the whole sheet
        ("F2:XFD2", (4, 4, 6)),  # one row merged to the last column
    ],
)
def test_a_merged_range_fills_only_up_to_the_last_row_and_column_holding_data(
    tmp_path, merge, expected
):
    path = rewrite_sheet(workbook(tmp_path), "merged.xlsx", merges=(merge,))
    assert data_extent(path) == expected
    table = read_table(path)
    first = merge.split(":")[0]
    value = {"A2": "市直部门", "A1": "类别", "F2": "运行"}[first]
    column = "ABCDEF".index(first[0])
    start = int(first[1:])
    covered = [cells[column] for number, cells in table.rows if number >= start]
    assert covered == [value] * len(covered)


def test_merged_cells_past_the_limit_are_refused_naming_the_range(tmp_path):
    path = rewrite_sheet(workbook(tmp_path), "merged.xlsx", merges=("B2:C4",))
    with pytest.raises(
        ReadError, match=r"sheet '名单', cell B2: merged cells would fill more than 5 cells .*C4"
    ):
        read_table(path, limits=RosterLimits(merged_cells=5))
    assert data_extent(path, merged_cells=6) == (4, 4, 6)


def test_too_many_merged_ranges_are_refused(tmp_path):
    merges = tuple(f"A{r}:B{r}" for r in range(2, 5))
    path = rewrite_sheet(workbook(tmp_path), "merged.xlsx", merges=merges)
    with pytest.raises(ReadError, match="more than 2 merged ranges"):
        read_table(path, limits=RosterLimits(merged_ranges=2))


def test_a_merged_range_over_blank_rows_counts_them_as_rows(tmp_path):
    rows = [ROWS[0], [None] * 6, [None] * 6, ROWS[1]]
    path = rewrite_sheet(workbook(tmp_path, rows), "gap.xlsx", merges=("A2:A5",))
    assert data_extent(path) == (5, 5, 6)
    with pytest.raises(ReadError, match="cell A3: more than 3 rows hold data"):
        read_table(path, limits=RosterLimits(rows=3))


# --- rows, columns, cells: CSV and XLSX alike ----------------------------------------


def write_csv(tmp_path: Path, rows: list[list[str]]) -> Path:
    path = tmp_path / "r.csv"
    path.write_text("\n".join(",".join(r) for r in [HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def test_rows_past_the_limit_are_refused_naming_the_first_row_over_it(tmp_path):
    for path in (write_csv(tmp_path, ROWS), workbook(tmp_path)):
        with pytest.raises(
            ReadError, match=r"(row 4, column A|cell A4): more than 3 rows hold data"
        ):
            read_table(path, limits=RosterLimits(rows=3))
        assert len(read_table(path, limits=RosterLimits(rows=4)).rows) == 4


def test_cells_past_the_limit_are_refused(tmp_path):
    for path in (write_csv(tmp_path, ROWS), workbook(tmp_path)):
        with pytest.raises(ReadError, match="more than 20 cells hold data"):
            read_table(path, limits=RosterLimits(cells=20))


def test_a_csv_value_beyond_the_last_column_is_refused_but_trailing_commas_are_not(tmp_path):
    path = write_csv(tmp_path, [ROWS[0] + [""] * 200])
    assert read_table(path).rows[1][1] == ROWS[0]
    path = write_csv(tmp_path, [ROWS[0] + [""] * 94 + ["x"]])
    with pytest.raises(ReadError, match=r"^row 2, column CW: data in column CW, beyond the last"):
        read_table(path)


# --- the file as a whole ----------------------------------------------------------------


def test_a_file_over_the_size_limit_is_refused_before_it_is_decoded(tmp_path):
    for path in (write_csv(tmp_path, ROWS), workbook(tmp_path)):
        with pytest.raises(ReadError, match="file too large"):
            read_table(path, limits=RosterLimits(file_bytes=100))


@pytest.mark.parametrize(
    ("limits", "part"),
    [
        (RosterLimits(sheet_xml_bytes=200), "xl/worksheets/sheet1.xml"),
        (RosterLimits(other_part_bytes=300), "docProps/core.xml"),
    ],
)
def test_a_zip_part_that_inflates_past_its_limit_is_refused_naming_it(tmp_path, limits, part):
    path = workbook(tmp_path)
    with pytest.raises(ReadError, match=rf"part {re.escape(part)} is [\d,]+ bytes uncompressed"):
        read_table(path, limits=limits)


def test_a_workbook_with_too_many_parts_is_refused(tmp_path):
    path = workbook(tmp_path)
    with zipfile.ZipFile(path, "a") as archive:
        for i in range(12):
            archive.writestr(f"customXml/item{i}.xml", "<x/>")
    with pytest.raises(ReadError, match="parts"):
        read_table(path, limits=RosterLimits(zip_members=10))
    assert len(read_table(path).rows) == 4


def test_devices_and_pipes_are_refused_without_reading_them(tmp_path):
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    for target in (Path("/dev/zero"), Path("/dev/null"), fifo):
        if not target.exists():
            continue
        if target == fifo:
            # Opening a FIFO for reading blocks until a writer comes: give it one.
            writer = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)
        try:
            with pytest.raises(ReadError, match="not a regular file"):
                read_table(target)
        finally:
            if target == fifo:
                os.close(writer)


# --- through the command line ---------------------------------------------------------------


def test_import_of_a_sheet_with_a_value_at_xfd1048576_is_one_line_and_exit_1(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.setenv("MONITOR_DB", str(tmp_path / "m.db"))
    path = rewrite_sheet(
        workbook(tmp_path),
        "bomb.xlsx",
        rows_xml=f'<row r="{LAST}">{cell_xml(f"XFD{LAST}", "x")}</row>',
    )
    assert path.stat().st_size < 10_000
    code = main(["import", "--dry-run", str(path)])
    _out, err = capsys.readouterr()
    assert code == 1
    lines = err.splitlines()
    assert lines[0] == (
        "bomb.xlsx: sheet '名单', cell XFD1048576: data in column XFD, beyond the last "
        "column a roster may use (CV, column 100)"
    )
    assert len(lines) == 2 and "nothing imported" in lines[1]
