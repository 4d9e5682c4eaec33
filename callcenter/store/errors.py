"""The store's one error: what a caller of the store may have to tell a person."""

from __future__ import annotations

from callcenter.errors import HotlineError


class StoreError(HotlineError):
    """The database cannot be opened, migrated or written: the message names the file
    (or the PostgreSQL URL, without its password)."""
