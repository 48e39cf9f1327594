"""The demo city's XLSX as an office opens and prints it: LibreOffice Calc to PDF, pages counted.

Needs Debian's `libreoffice-calc` (and `fonts-wqy-zenhei` for the Chinese glyphs);
without it the test skips on a developer's machine and fails in CI, where `.ci/run`
installs it. With $SCREENSHOT_DIR set, the printed 问题账号 page is also written
there as `printed-problems.png` (`pdftoppm`, from poppler-utils).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader
from system_tools import missing_tool

from monitor.demo import run_demo

ACCOUNTS_PER_PAGE = 40  # the whole workbook prints on at most one page per 40 accounts
PROBLEM_PAGES = 2  # the official 问题账号 table of the demo city on at most two pages


@pytest.fixture(scope="module")
def demo_workbook(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("print") / "demo"
    result = run_demo(folder, formats=("xlsx",))
    (path,) = result.reports
    return path


def _to_pdf(xlsx: Path, out: Path) -> Path:
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        missing_tool("LibreOffice not found; install with: apt-get install -y libreoffice-calc")
    profile = out / "lo-profile"
    subprocess.run(
        [
            soffice,
            f"-env:UserInstallation=file://{profile}",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(out),
            str(xlsx),
        ],
        check=True,
        capture_output=True,
        timeout=240,
    )
    pdf = out / (xlsx.stem + ".pdf")
    assert pdf.exists(), f"LibreOffice wrote no PDF into {out}"
    return pdf


def _sheet_of(text: str) -> str:
    """Which sheet a printed page belongs to, by the header row repeated on each page."""
    if "问题类别" in text and "证据链接" in text:
        return "问题账号"
    if "名单状态" in text:
        return "全部账号"
    if "网站标识码" in text:
        return "网站检查结果"
    return "汇总"


def test_the_demo_report_prints_on_few_pages_with_whole_ids(demo_workbook, tmp_path):
    book = load_workbook(demo_workbook)
    accounts = book["全部账号"].max_row - 1
    problems = book["问题账号"].max_row - 1
    assert accounts == 420 and problems > 10

    pdf = _to_pdf(demo_workbook, tmp_path)
    pages = [page.extract_text() for page in PdfReader(pdf).pages]
    sheets = [_sheet_of(text) for text in pages]
    print(f"printed: {len(pages)} pages: " + ", ".join(f"{s} {sheets.count(s)}" for s in SHEETS))
    assert len(pages) <= accounts // ACCOUNTS_PER_PAGE, sheets
    assert 1 <= sheets.count("问题账号") <= PROBLEM_PAGES, sheets
    assert sheets.count("汇总") <= 2 and sheets.count("全部账号") >= 2
    # The demo's six websites (the notice's attachment 1) print on one page.
    assert sheets.count("网站检查结果") == 1, sheets
    # Sheets print in order, each page with its footer: the month and the page number.
    assert sheets == sorted(sheets, key=SHEETS.index)
    month = book.properties.title
    for number, text in enumerate(pages, start=1):
        assert month in text and f"第 {number} 页，共 {len(pages)} 页" in text
    # IDs print whole (WeChat AppIDs, Douyin's 44-character ids), each on one line.
    printed = "\n".join(pages)
    ids = [row[5] for row in book["全部账号"].iter_rows(min_row=2, values_only=True)]
    cut = [i for i in ids if i and i not in printed]
    assert not cut, f"IDs not printed whole: {cut[:5]}"

    if os.environ.get("SCREENSHOT_DIR"):
        _picture_of_the_problem_page(pdf, sheets.index("问题账号") + 1)


SHEETS = ["汇总", "问题账号", "全部账号", "网站检查结果"]


def _picture_of_the_problem_page(pdf: Path, page: int) -> None:
    pdftoppm = shutil.which("pdftoppm")
    if pdftoppm is None:
        missing_tool("pdftoppm not found; install with: apt-get install -y poppler-utils")
    folder = Path(os.environ["SCREENSHOT_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    stem = folder / "printed-problems"
    subprocess.run(
        [pdftoppm, "-png", "-r", "80", "-singlefile", "-f", str(page), "-l", str(page),
         str(pdf), str(stem)],
        check=True,
        timeout=60,
    )  # fmt: skip
    assert stem.with_suffix(".png").stat().st_size > 10_000
