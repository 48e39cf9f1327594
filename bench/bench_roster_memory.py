"""Benchmark: peak memory of `monitor import` for an N-row roster, whatever its formatting.

Usage: python bench/bench_roster_memory.py [--rows 100000] [--keep DIR]
Writes the same long-form roster (N accounts over N/4 units) as CSV, as a plain
XLSX and as a heavily formatted XLSX, then runs `monitor import` on each into a
fresh database as a separate process and reads its peak RSS (os.wait4). The
formatted workbook has every data cell styled, every column formatted out to
XFD, every row after the data formatted down to row 1,048,576 (as Excel writes
a sheet whose rows were formatted as a whole), an empty styled cell at
XFD1048576, and merged 类别 and 主办单位 cells (one range per region run and
per unit). Prints a Markdown table. Target: < 500 MB peak RSS for 100,000 rows.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from monitor.simulator.names import REGIONS

HEADER = ["类别", "主办单位", "平台", "账号名称", "账号ID", "状态", "备注"]
PLATFORMS = ["微博", "微信", "抖音", "头条"]
LAST_ROW = 1_048_576


def rows(n: int) -> list[list[str]]:
    out = []
    for i in range(n):
        region = REGIONS[(i // 400) % len(REGIONS)]
        out.append(
            [region, f"{region}第{i // 4}单位", PLATFORMS[i % 4], f"账号{i}", str(10**9 + i), "运行",
             f"备注{i % 97}"]
        )  # fmt: skip
    return out


def write_csv(path: Path, data: list[list[str]]) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        writer.writerows(data)


def write_xlsx(path: Path, data: list[list[str]], *, styled: bool) -> None:
    import openpyxl
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Border, Font, PatternFill, Side

    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet("名单")
    if not styled:
        ws.append(HEADER)
        for row in data:
            ws.append(row)
        wb.save(path)
        return
    fill = PatternFill("solid", fgColor="FFF2CC")
    thin = Side(style="thin")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    font = Font(name="宋体", size=11, bold=False)

    def styled_row(values: list[str]) -> list[WriteOnlyCell]:
        cells = []
        for value in values:
            cell = WriteOnlyCell(ws, value=value)
            cell.fill, cell.border, cell.font = fill, border, font
            cells.append(cell)
        return cells

    ws.append(styled_row(HEADER))
    for row in data:
        ws.append(styled_row(row))
    wb.save(path)
    _format_beyond_the_data(path, len(data) + 1)


def _format_beyond_the_data(path: Path, last_data_row: int) -> None:
    """Rewrite the sheet XML: whole columns and rows formatted, merged 类别 and 主办单位 cells."""
    tmp = path.with_suffix(".tmp")
    with zipfile.ZipFile(path) as zin, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename.startswith("xl/worksheets/sheet"):
                text = data.decode("utf-8")
                text = re.sub(r"<dimension ref=\"[^\"]*\"/>", "", text)
                text = text.replace(
                    "<sheetData>",
                    '<dimension ref="A1:XFD1048576"/><cols><col min="1" max="16384" width="12" '
                    'style="1" customWidth="1"/></cols><sheetData>',
                    1,
                )
                tail = "".join(
                    f'<row r="{r}" s="1" customFormat="1" ht="18" customHeight="1"/>'
                    for r in range(last_data_row + 1, LAST_ROW)
                )
                tail += f'<row r="{LAST_ROW}"><c r="XFD{LAST_ROW}" s="1"/></row>'
                merges = _merges(last_data_row)
                merged = "".join(f'<mergeCell ref="{ref}"/>' for ref in merges)
                text = text.replace(
                    "</sheetData>",
                    f'{tail}</sheetData><mergeCells count="{len(merges)}">{merged}</mergeCells>',
                    1,
                )
                data = text.encode("utf-8")
            zout.writestr(info, data)
    tmp.replace(path)


def _merges(last_data_row: int) -> list[str]:
    out = []
    for first in range(2, last_data_row + 1, 400):  # a region's run
        out.append(f"A{first}:A{min(first + 399, last_data_row)}")
    for first in range(2, last_data_row + 1, 4):  # a unit's accounts
        out.append(f"B{first}:B{min(first + 3, last_data_row)}")
    return out


def run_measured(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of one process, read with os.wait4."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    err = proc.stderr.read()
    _pid, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}): {err.decode()[-2000:]}")
    return elapsed, usage.ru_maxrss / 1024  # KB on Linux


FILES = {
    "CSV (UTF-8 with BOM)": "roster.csv",
    "XLSX, plain": "roster-plain.xlsx",
    "XLSX, formatted (see above)": "roster-formatted.xlsx",
}


def write_all(folder: Path, n: int) -> None:
    data = rows(n)
    write_csv(folder / FILES["CSV (UTF-8 with BOM)"], data)
    write_xlsx(folder / FILES["XLSX, plain"], data, styled=False)
    write_xlsx(folder / FILES["XLSX, formatted (see above)"], data, styled=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--keep", type=Path, help="Write the rosters here and keep them.")
    parser.add_argument("--write-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.write_only:
        write_all(args.keep, args.rows)
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        # Written by another process: a child forked from a process holding the
        # generated rows would count them in its own peak RSS.
        subprocess.run(
            [
                sys.executable,
                __file__,
                "--write-only",
                "--rows",
                str(args.rows),
                "--keep",
                str(folder),
            ],
            check=True,
        )
        print(f"| roster ({args.rows:,} rows) | file | `monitor import` | peak RSS |")
        print("|---|---|---|---|")
        for label, name in FILES.items():
            path = folder / name
            env = {**os.environ, "MONITOR_DB": str(Path(tmp) / f"{path.stem}.db")}
            seconds, peak = run_measured(
                [sys.executable, "-m", "monitor", "import", str(path)], env
            )
            size = path.stat().st_size / 1e6
            print(f"| {label} | {size:.1f} MB | {seconds:.1f} s | {peak:.0f} MB |")
    print(f"\nTarget: < 500 MB peak RSS. Python {sys.version.split()[0]}, {os.cpu_count()} cores.")


if __name__ == "__main__":
    main()
