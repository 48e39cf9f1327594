"""Where a command may write a file: never where writing would destroy data.

Every command that writes files (`report -o`, `demo --dir`, `simulate
--scenario-out/--roster-out/--ready-file`, the daemon's monthly reports) checks
its target here first:

- never the database in use or its `-wal`, `-shm` and `-journal` files, nor any
  other SQLite database or write-ahead log (recognised by their first bytes);
- never over something that is not a regular file: a folder, a device such as
  /dev/full or /dev/null, a pipe, a socket;
- into an existing folder only, unless the caller was asked to create it
  (`--mkdir`, `reports.mkdir`);
- an existing regular file is replaced (the writers write atomically), and the
  caller says so: `check_output` tells it.

Errors: OutputRefused, one line naming the path and why.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

SQLITE_HEADER = b"SQLite format 3\x00"
# A write-ahead log starts with one of two magic numbers (big-endian).
WAL_HEADERS = (b"\x37\x7f\x06\x82", b"\x37\x7f\x06\x83")
DATABASE_COMPANIONS = ("", "-wal", "-shm", "-journal")


class OutputRefused(Exception):
    """Writing here could destroy data (or the folder is missing); the message says which."""


def check_output(
    path: str | Path,
    *,
    database: str | Path | None = None,
    mkdir: bool = False,
    mkdir_hint: str = "use --mkdir to create it",
) -> bool:
    """Refuse a target that writing could destroy; create its folder if `mkdir`.

    Returns True when an existing regular file will be replaced.
    """
    target = Path(path)
    if database is not None and _is_database_file(target, Path(database)):
        raise OutputRefused(f"cannot write {target}: it is the database in use")
    try:
        info = os.stat(target)
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise OutputRefused(f"cannot write {target}: {exc.strerror or exc}") from exc
    if info is not None:
        if stat.S_ISDIR(info.st_mode):
            raise OutputRefused(f"cannot write {target}: it is a folder; give a file name")
        if not stat.S_ISREG(info.st_mode):
            raise OutputRefused(
                f"cannot write {target}: not a regular file (a device, pipe or socket)"
            )
        kind = _database_kind(target)
        if kind:
            raise OutputRefused(f"cannot write {target}: it is {kind}")
    _ensure_folder(target.parent, mkdir, mkdir_hint)
    return info is not None


def check_folder(
    folder: str | Path, *, mkdir: bool, mkdir_hint: str = "use --mkdir to create it"
) -> None:
    """Refuse a missing folder unless asked to create it; refuse a file where a folder should be."""
    _ensure_folder(Path(folder), mkdir, mkdir_hint)


def _ensure_folder(folder: Path, mkdir: bool, hint: str) -> None:
    folder = folder if str(folder) else Path(".")
    if folder.is_dir():
        return
    if folder.exists():
        raise OutputRefused(f"cannot write into {folder}: not a folder")
    if not mkdir:
        raise OutputRefused(f"cannot write into {folder}: no such folder ({hint})")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputRefused(f"cannot create the folder {folder}: {exc.strerror or exc}") from exc


def _is_database_file(target: Path, database: Path) -> bool:
    """Whether `target` is the database or one of its companion files, by name or by inode."""
    wanted = os.path.realpath(target)
    for suffix in DATABASE_COMPANIONS:
        companion = Path(f"{database}{suffix}")
        if wanted == os.path.realpath(companion):
            return True
        try:
            if os.path.samefile(target, companion):  # a hard link, another spelling
                return True
        except OSError:
            continue
    return False


def _database_kind(target: Path) -> str | None:
    """ "an SQLite database" or "an SQLite write-ahead log" by the file's first bytes, else None."""
    try:
        with target.open("rb") as fh:
            head = fh.read(len(SQLITE_HEADER))
    except OSError:
        return None  # unreadable: the write itself will say why
    if head.startswith(SQLITE_HEADER):
        return "an SQLite database"
    if head[:4] in WAL_HEADERS:
        return "an SQLite write-ahead log"
    return None
