"""Small pieces every table group's queries share."""

from __future__ import annotations

from collections.abc import Iterable

from monitor.models import (
    Outcome,
    Platform,
    RosterStatus,
)

_PLATFORMS = {p.value: p for p in Platform}

_STATUSES = {s.value: s for s in RosterStatus}

_OUTCOMES = {o.value: o for o in Outcome}


def _id_list(ids: Iterable[int]) -> str:
    """Integer ids for an `IN (...)` list; int() keeps anything else out of the SQL."""
    return ",".join(str(int(i)) for i in ids)
