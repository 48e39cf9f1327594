"""Turning a read roster into database changes: plan (pure comparison), then apply.

Re-importing the same file plans nothing. Accounts missing from a new roster
are kept and reported ("not in this roster"); `prune` retires them with a new
version. History is never deleted: every change is a new version.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from monitor.checks.record import reclassify
from monitor.dates import utcnow
from monitor.roster import Problem, RosterEntry, identity_key, read_roster
from monitor.settings import Settings
from monitor.store import VERSIONED_FIELDS, AccountChange, ImportRecord, Store, StoredAccount

# Every roster form gives these for each account.
ALWAYS_GIVEN = frozenset({"name", "region"})


@dataclass(slots=True)
class ImportPlan:
    """What an import would do; `changes` is what gets written."""

    added: list[AccountChange] = field(default_factory=list)
    updated: list[tuple[AccountChange, list[str]]] = field(default_factory=list)
    unchanged: list[StoredAccount] = field(default_factory=list)
    not_in_roster: list[StoredAccount] = field(default_factory=list)
    retired: list[AccountChange] = field(default_factory=list)
    units_added: list[str] = field(default_factory=list)
    units_unchanged: list[str] = field(default_factory=list)
    units_not_in_roster: list[str] = field(default_factory=list)
    rejected_rows: int = 0

    @property
    def changes(self) -> list[AccountChange]:
        return [*self.added, *(c for c, _ in self.updated), *self.retired]

    @property
    def is_noop(self) -> bool:
        return not self.changes

    def summary(self) -> dict[str, Any]:
        return {
            "units": {
                "added": len(self.units_added),
                "unchanged": len(self.units_unchanged),
                "not_in_roster": len(self.units_not_in_roster),
            },
            "accounts": {
                "added": len(self.added),
                "updated": len(self.updated),
                "unchanged": len(self.unchanged),
                "not_in_roster": len(self.not_in_roster),
                "retired": len(self.retired),
                "rejected": self.rejected_rows,
            },
        }


def plan_import(
    store: Store,
    entries: Sequence[RosterEntry],
    *,
    prune: bool = False,
    rejected_rows: int = 0,
    columns: Collection[str] | None = None,
) -> ImportPlan:
    """Compare roster entries with the accounts in the store; nothing is written.

    With `columns` (the fields the file has), an existing account keeps the
    stored value of every field the file has no column for.
    """
    stored = store.roster()
    plan = ImportPlan(rejected_rows=rejected_rows)
    next_order = store.max_roster_order() + 1
    matched: set[str] = set()
    for entry in sorted(entries, key=lambda e: e.order):
        given = entry.fields()
        fields = {k: str(given.get(k, "")) for k in VERSIONED_FIELDS}
        current = stored.get(entry.key)
        new_identity = None
        if current is None and entry.account_id:
            # An account first listed by name may gain its platform id later.
            by_name = stored.get(identity_key(entry.platform, "", entry.name))
            if by_name is not None and not by_name.account_id and by_name.identity not in matched:
                current, new_identity = by_name, entry.key
        if current is not None and columns is not None:
            for name in VERSIONED_FIELDS:
                if name not in columns and name not in ALWAYS_GIVEN:
                    fields[name] = current.fields.get(name, "")
        change = AccountChange(
            identity=entry.key,
            platform=entry.platform,
            account_id=entry.account_id,
            unit=entry.unit,
            fields=fields,
        )
        if current is None:
            change.roster_order = next_order + entry.order
            plan.added.append(change)
            continue
        matched.add(current.identity)
        change.account = current.id
        change.new_identity = new_identity
        changed = [k for k, v in fields.items() if current.fields.get(k, "") != v]
        if current.unit != entry.unit:
            changed.append("unit")
        if current.retired:
            changed.append("retired")
        if new_identity:
            changed.append("account_id")
        if changed:
            plan.updated.append((change, changed))
        else:
            plan.unchanged.append(current)
    for identity, account in stored.items():
        if identity in matched or account.retired:
            continue
        plan.not_in_roster.append(account)
        if prune:
            plan.retired.append(
                AccountChange(
                    identity=identity,
                    platform=account.platform,
                    account_id=account.account_id,
                    unit=account.unit,
                    fields=dict(account.fields),
                    account=account.id,
                    retired=True,
                )
            )
    known_units = {a.unit for a in stored.values()}
    roster_units = list(dict.fromkeys(e.unit for e in sorted(entries, key=lambda e: e.order)))
    plan.units_added = [u for u in roster_units if u not in known_units]
    plan.units_unchanged = [u for u in roster_units if u in known_units]
    active_units = {a.unit for a in stored.values() if not a.retired}
    plan.units_not_in_roster = sorted(active_units - set(roster_units))
    return plan


def apply_plan(
    store: Store,
    plan: ImportPlan,
    *,
    file: str,
    form: str,
    now: datetime,
    effective_at: datetime | None = None,
    settings: Settings | None = None,
) -> int | None:
    """Write the plan in one transaction; the import's id, or None when nothing changed.

    With `settings`, the current verdicts of the accounts it touched follow at once
    (and their unit alerts), instead of at the next daily reclassification.
    """
    if plan.is_noop:
        return None
    record = ImportRecord(
        file=file, form=form, imported_at=now, effective_at=effective_at, summary=plan.summary()
    )
    with store.transaction():  # the roster and the verdicts it implies land together
        import_id = store.apply_import(record, plan.changes)
        if settings is not None:
            reclassify(store, settings, now, store.accounts_of_import(import_id))
    return import_id


class RosterRejected(Exception):
    """An import that wrote nothing because of bad rows; `problems` name file, row and field."""

    def __init__(self, message: str, problems: Sequence[Problem]):
        super().__init__(message)
        self.problems = list(problems)


@dataclass(slots=True)
class ImportOutcome:
    """What one roster file import read, planned and wrote."""

    file: str
    form: str
    read: int
    plan: ImportPlan
    problems: list[Problem]
    dry_run: bool
    prune: bool
    import_id: int | None = None


def import_file(
    store: Store,
    file: Path,
    *,
    sheet: str | None = None,
    skip_invalid: bool = False,
    prune: bool = False,
    dry_run: bool = False,
    effective_at: datetime | None = None,
    settings: Settings | None = None,
) -> ImportOutcome:
    """Read, plan and (unless `dry_run`) apply a roster file: all or nothing, unless
    `skip_invalid`. Raises RosterRejected when bad rows stop it."""
    roster = read_roster(file, sheet=sheet)
    entries, rejected = roster.entries, 0
    if roster.problems:
        if not skip_invalid:
            raise RosterRejected(
                f"{file}: {len(roster.problems)} problem(s); nothing imported "
                "(fix them, or use --skip-invalid to import the valid rows)",
                roster.problems,
            )
        entries = roster.valid_entries()
        rejected = len({p.row for p in roster.problems if p.row is not None})
        if not entries:
            raise RosterRejected(f"{file}: no valid rows to import", roster.problems)
    plan = plan_import(store, entries, prune=prune, rejected_rows=rejected, columns=roster.columns)
    outcome = ImportOutcome(
        str(file), roster.form, len(entries), plan, roster.problems, dry_run, prune
    )
    if not dry_run:
        outcome.import_id = apply_plan(
            store, plan, file=str(file), form=roster.form, now=utcnow(),
            effective_at=effective_at, settings=settings,
        )  # fmt: skip
    return outcome
