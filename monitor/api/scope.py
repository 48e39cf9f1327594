"""What the caller may see: the units of a unit user, or everything."""

from __future__ import annotations

from fastapi import Request


def unit_scope(request: Request) -> frozenset[str] | None:
    """The units the authenticated caller is limited to; None means every unit."""
    units = getattr(request.state, "units", None)
    return frozenset(units) if units is not None else None
