"""Delivery: choosing a renderer, naming files, writing them atomically."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from monitor.dates import today as today_in
from monitor.output_paths import check_folder, check_output
from monitor.reports.build import build_report
from monitor.reports.model import Report
from monitor.reports.periods import month_as_of
from monitor.settings import Settings

Renderer = Callable[[Report, str], bytes]
MKDIR_SETTING_HINT = "set reports.mkdir = true to create it"

FORMATS = ("xlsx", "csv", "md", "html", "json")
BINARY_FORMATS = frozenset({"xlsx"})
EXTENSIONS = {".xlsx": "xlsx", ".csv": "csv", ".md": "md", ".markdown": "md",
              ".html": "html", ".htm": "html", ".json": "json"}  # fmt: skip


def renderer(fmt: str) -> Renderer:
    """The render function of a format (imported on use: openpyxl and jinja2 are slow to load)."""
    if fmt == "xlsx":
        from monitor.reports.render_xlsx import render_xlsx

        return render_xlsx
    if fmt == "html":
        from monitor.reports.render_html import render_html

        return render_html
    from monitor.reports import render_text

    table: dict[str, Renderer] = {
        "csv": render_text.render_csv,
        "md": render_text.render_md,
        "json": render_text.render_json,
    }
    if fmt not in table:
        raise ValueError(f"unknown report format {fmt!r} (use {', '.join(FORMATS)})")
    return table[fmt]


def render(report: Report, fmt: str, lang: str = "zh") -> bytes:
    return renderer(fmt)(report, lang)


def format_of_path(path: str | Path) -> str | None:
    """The format a file name's extension implies, or None."""
    return EXTENSIONS.get(Path(path).suffix.lower())


def period_tag(report: Report) -> str:
    """ "2020-02" for a month's report, "2020-03-04" for an --as-of report."""
    return report.month or report.as_of.isoformat()


# Every report file has one name, wherever it is written (daemon, `monitor report`,
# the demo, the API's downloads): 政务新媒体检查结果-2020-02.xlsx.
FILE_STEM = "政务新媒体检查结果"


def report_filename(period: str, fmt: str) -> str:
    """The file name of a report: the stem, the month (or day) and the format's extension."""
    return f"{FILE_STEM}-{period}.{fmt}"


def write_atomic(path: Path, data: bytes) -> Path:
    """Write through a temp file in the same folder and rename: readers never see half a file.

    The folder must exist; callers check the target first (`monitor.output_paths`).
    """
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_monthly_report(
    store: Any,
    settings: Settings,
    month: str,
    folder: Path,
    formats: list[str],
    *,
    today: date | None = None,
) -> list[Path]:
    """Build `month`'s report once and write `政务新媒体检查结果-YYYY-MM.<ext>` per format.

    For the daemon: the policy, zone and language come from `settings`; the as-of
    date is the month's last day (today while the month is running). The files
    follow `monitor.output_paths` (a missing folder only with `reports.mkdir`);
    OutputRefused before anything is written.
    """
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ValueError(
            f"unknown report format(s) {', '.join(unknown)} (use {', '.join(FORMATS)})"
        )
    targets = {fmt: Path(folder) / report_filename(month, fmt) for fmt in dict.fromkeys(formats)}
    check_folder(folder, mkdir=settings.reports.mkdir, mkdir_hint=MKDIR_SETTING_HINT)
    for path in targets.values():
        check_output(path, database=getattr(store, "path", None))
    tz = settings.tz
    as_of = month_as_of(month, today or today_in(tz))
    report = build_report(
        store,
        as_of,
        settings.policy,
        tz,
        month=month,
        top_units=settings.reports.top_units,
        sites=settings.sites,
    )
    lang = settings.reports.lang
    return [write_atomic(path, render(report, fmt, lang)) for fmt, path in targets.items()]
