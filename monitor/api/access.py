"""Who may see what: the caller's role and units applied to accounts and units (404, not 403)."""

from __future__ import annotations

from fastapi import Request

from monitor.api.errors import ApiError
from monitor.api.params import ctx_of
from monitor.api.scope import unit_scope
from monitor.dates import end_of_day
from monitor.store import SiteRow


def role_of(request: Request) -> str | None:
    """The caller's role; None when no login is configured (open reads on loopback)."""
    return getattr(request.state, "role", None)


def require_admin(request: Request) -> None:
    """Refuse (403) anyone but an admin (or api.token)."""
    if role_of(request) != "admin":
        raise ApiError(403, "only an admin may read this")


def refuse_unit_users(request: Request) -> None:
    """Refuse (403) unit users: for views across every unit that cannot be narrowed."""
    if unit_scope(request) is not None:
        raise ApiError(403, "not available to unit users")


def unit_visible(request: Request, unit: str | None) -> bool:
    """Whether the caller may see this unit (by name)."""
    scope = unit_scope(request)
    return scope is None or (unit is not None and unit in scope)


def account_visible(request: Request, account_id: int) -> bool:
    """Whether the caller may see this account (one of its units' accounts, retired too)."""
    scope = unit_scope(request)
    if scope is None:
        return True
    ctx = ctx_of(request)
    views = ctx.store().accounts_at(
        end_of_day(ctx.today(), ctx.tz), ids=[account_id], include_retired=True
    )
    return bool(views) and views[0].unit in scope


def visible_account_or_404(request: Request, account_id: int, message: str) -> None:
    """404 (the same answer as for an unknown id) for an account of another unit."""
    if not account_visible(request, account_id):
        raise ApiError(404, message)


def visible_sites(request: Request) -> list[SiteRow] | None:
    """The websites of the caller's units; None (every website) when it has no scope."""
    scope = unit_scope(request)
    if scope is None:
        return None
    return [s for s in ctx_of(request).store().sites() if s.unit in scope]


def visible_site_or_404(request: Request, site_id: int, message: str) -> SiteRow:
    """The website, when it exists and the caller may see it; else 404 with `message`."""
    site = ctx_of(request).store().site(site_id)
    if site is None or not unit_visible(request, site.unit):
        raise ApiError(404, message)
    return site
