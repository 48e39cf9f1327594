"""The store's errors: StoreError and the two a user can act on distinctly."""

from __future__ import annotations


class StoreError(Exception):
    """A database problem a user can act on."""


class DatabaseVersionError(StoreError):
    """The database was written by a newer version of the monitor."""


class AccountLookupError(StoreError):
    """An account query that matches nothing, or more than one account."""
