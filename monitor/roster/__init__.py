"""Reading a roster file (CSV or XLSX, long or wide form) into entries and problems.

`read_roster(path)` never raises for bad content: everything wrong is a
`Problem` with the file, the spreadsheet row, the column and a message.
Decoding lives in `read` (bytes -> numbered rows), interpretation in `parse`
(rows -> entries); `apply` compares entries with the store.
"""

from monitor.roster.entry import (
    VERSIONED_FIELDS,
    Problem,
    RosterEntry,
    RosterFile,
    identity_key,
)
from monitor.roster.parse import (
    HEADER_ALIASES,
    PLATFORM_ALIASES,
    STATUS_ALIASES,
    parse_platform,
    parse_status,
    read_roster,
)

__all__ = [
    "HEADER_ALIASES",
    "PLATFORM_ALIASES",
    "STATUS_ALIASES",
    "VERSIONED_FIELDS",
    "Problem",
    "RosterEntry",
    "RosterFile",
    "identity_key",
    "parse_platform",
    "parse_status",
    "read_roster",
]
