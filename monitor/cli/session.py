"""What a command needs: settings, the database, the store; the two errors; output helpers.

Errors at this edge: UsageProblem (how the command was called: exit 2) and WorkFailed
(the work could not be done: exit 1); `monitor.cli.main` turns them into one line.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from datetime import date
from typing import Any, NoReturn

import typer

from monitor.cli.options import PolicyFlags
from monitor.dates import DateInputError, parse_date, today
from monitor.durations import Duration, DurationError
from monitor.settings import Policy, Settings, database_path, load_settings, policy_problem


class UsageProblem(Exception):
    """A mistake in how the command was called (exit 2)."""


class WorkFailed(Exception):
    """The command could not do its work (exit 1)."""


@dataclass
class Globals:
    db: str | None = None
    config: str | None = None


class Session:
    """What one command needs: settings, the database path, the store (opened lazily)."""

    def __init__(self, ctx: typer.Context, db: str | None, config: str | None):
        g: Globals = ctx.find_root().obj or Globals()
        self.config = config or g.config
        self.settings: Settings = load_settings(self.config)
        self.db_path = database_path(db or g.db, self.settings)
        self._store: Any = None

    @property
    def tz(self):
        return self.settings.tz

    @property
    def store(self):
        if self._store is None:
            from monitor.store import Store

            self._store = Store.open(self.db_path)
        return self._store

    def as_of(self, text: str | None) -> date:
        if text is None:
            return today(self.tz)
        try:
            return parse_date(text)
        except DateInputError as exc:
            raise UsageProblem(f"--as-of: {exc}") from exc

    def policy(self, flags: PolicyFlags | None = None) -> Policy:
        """The configured policy with the command's policy flags applied."""
        flags = flags or PolicyFlags()
        overrides = {}
        for key in ("zombie_after", "suspended_after", "warn_before", "evidence_max_age"):
            value = getattr(flags, key)
            if value is not None:
                try:
                    overrides[key] = Duration.parse(value)
                except DurationError as exc:
                    raise UsageProblem(f"--{key.replace('_', '-')}: {exc}") from exc
        policy = self.settings.policy.model_copy(update=overrides)
        problem = policy_problem(policy)
        if problem:
            raise UsageProblem(problem)
        return policy

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


def rich_console():
    from rich.console import Console

    # Piped output keeps whole cells: the table is for reading, --json for machines.
    return Console(highlight=False, soft_wrap=False, width=None if sys.stdout.isatty() else 200)


def fail(message: str) -> NoReturn:
    raise WorkFailed(message)
