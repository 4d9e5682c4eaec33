"""`store.url`: which database the store is (pure; nothing is reached here).

Empty is the SQLite file at `paths.database`; `postgresql://user:password@host:port/db`
(or `postgres://`) a PostgreSQL database. Anything else is refused when the settings are
read, so a typing slip never silently opens an empty SQLite store beside the real one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from callcenter.settings import Settings

SCHEMES = ("postgresql", "postgres")


class StoreUrlError(ValueError):
    """The URL names no database the store can use: the message says what is wrong."""


@dataclass(frozen=True, slots=True)
class StoreUrl:
    url: str = ""

    @property
    def shown(self) -> str:
        """The URL without its password, for messages and logs."""
        return redacted(self.url)


def parse_store_url(url: str) -> StoreUrl | None:
    """None for empty (SQLite); the PostgreSQL URL checked; StoreUrlError otherwise."""
    if not url.strip():
        return None
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise StoreUrlError(f"is not a valid URL ({exc}): {redacted(url)!r}") from None
    if parts.scheme not in SCHEMES:
        raise StoreUrlError(f"must be empty (the SQLite file at paths.database) or "
                            f"postgresql://user:password@host:port/database, got {redacted(url)!r}")
    if not parts.hostname:
        raise StoreUrlError(f"names no host: {redacted(url)!r} (postgresql://user:password@host:port/database)")
    if not parts.path.strip("/"):
        raise StoreUrlError(f"names no database: {redacted(url)!r} (postgresql://user:password@host:port/database)")
    if port is not None and not 1 <= port <= 65535:
        raise StoreUrlError(f"has a port out of range: {redacted(url)!r}")
    return StoreUrl(url.strip())


def redacted(url: str) -> str:
    """`url` with its password replaced by ***."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(an unreadable URL)"
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rsplit("@", 1)[1]
    return parts._replace(netloc=f"{user}:***@{host}").geturl()


def store_target(settings: Settings, database: Path | None = None) -> Path | str:
    """The store the engine opens: the file `database` when one is named (a command's
    --database), else the PostgreSQL database of `store.url` when set, else the SQLite
    file at `paths.database`."""
    if database is not None:
        return database
    return settings.store.url.strip() or settings.paths.database
