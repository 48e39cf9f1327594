"""What reading a roster produces: entries, problems, and the file's summary."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monitor.models import Platform, RosterStatus, identity_text

# The roster fields whose changes are versioned (what `RosterEntry.fields()` returns).
VERSIONED_FIELDS: tuple[str, ...] = (
    "region",
    "unit",
    "name",
    "status",
    "supervisor",
    "contact",
    "note",
    "source",
    "feed_url",
    "appid",
    "secret_env",
)


def identity_key(platform: Platform | str, account_id: str, name: str) -> str:
    """The identity of an account: by platform ID when known, else by name (see `identity_text`).

    >>> identity_key(Platform.WEIBO, "123", "安康发布")
    'weibo:id:123'
    >>> identity_key("weibo", "", "安康发布\u200b")
    'weibo:name:安康发布'
    """
    code = Platform(platform).value
    if account_id:
        return f"{code}:id:{identity_text(account_id)}"
    return f"{code}:name:{identity_text(name)}"


@dataclass(frozen=True, slots=True)
class RosterEntry:
    """One account as the roster lists it; `row` is the spreadsheet row it came from."""

    row: int
    order: int
    region: str
    unit: str
    platform: Platform
    name: str
    account_id: str = ""
    status: RosterStatus = RosterStatus.OPERATING
    supervisor: str = ""
    contact: str = ""
    note: str = ""
    source: str = ""
    feed_url: str = ""
    appid: str = ""
    secret_env: str = ""

    @property
    def key(self) -> str:
        return identity_key(self.platform, self.account_id, self.name)

    def fields(self) -> dict[str, Any]:
        """The versioned fields (see `VERSIONED_FIELDS`), by name."""
        return {name: getattr(self, name) for name in VERSIONED_FIELDS}


@dataclass(frozen=True, slots=True)
class Problem:
    """Something wrong in a roster file; `row`/`column` are None when it concerns the file."""

    file: str
    row: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = [self.file]
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column:
            where.append(self.column)
        return f"{', '.join(where)}: {self.message}"


@dataclass
class RosterFile:
    """A roster file read: every entry that could be built, and every problem found.

    `form` is "long" or "wide" ("unknown" when the header says neither, or the
    file could not be read). `rows_read` counts the non-blank rows under the
    header. `rejected_rows` are rows rejected without a problem of their own:
    the first row of a duplicate or conflicting pair (the problem sits on the
    later row and names both).
    """

    path: Path
    form: str
    entries: list[RosterEntry] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    rows_read: int = 0
    rejected_rows: set[int] = field(default_factory=set)
    encoding: str | None = None
    sheet: str | None = None
    # The fields the file has columns for: an import keeps an existing account's
    # other fields as they are (a wide-form roster has no 联系人, appid, ...).
    columns: frozenset[str] = frozenset()

    @property
    def ok(self) -> bool:
        return not self.problems

    def valid_entries(self) -> list[RosterEntry]:
        """Entries from rows with no problem (duplicates/conflicts reject every row involved)."""
        bad = {p.row for p in self.problems if p.row is not None} | self.rejected_rows
        return [entry for entry in self.entries if entry.row not in bad]
