"""Monthly reports: build (data) -> render (bytes per format) -> deliver (files).

`build_report` reads the store and judges; the `render_*` functions are pure;
`write_monthly_report` is what the daemon calls.
"""

from monitor.reports.build import build_report
from monitor.reports.deliver import (
    FORMATS,
    format_of_path,
    render,
    write_atomic,
    write_monthly_report,
)
from monitor.reports.model import Report
from monitor.reports.periods import (
    PeriodError,
    month_as_of,
    month_bounds,
    parse_month,
    previous_month,
)

__all__ = [
    "FORMATS",
    "PeriodError",
    "Report",
    "build_report",
    "format_of_path",
    "month_as_of",
    "month_bounds",
    "parse_month",
    "previous_month",
    "render",
    "write_atomic",
    "write_monthly_report",
]
