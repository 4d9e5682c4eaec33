"""Every SQL statement about forum posts (`forum_posts`)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlite_utils import Database

from callcenter.store import Row, Store


class ForumRepository:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def known(self, keys: Iterable[str]) -> set[str]:
        """Which of these posts were taken in already."""
        wanted = list(keys)

        def read(db: Database) -> set[str]:
            found: set[str] = set()
            for start in range(0, len(wanted), 500):
                chunk = wanted[start:start + 500]
                marks = ", ".join("?" for _ in chunk)
                found |= {str(r["post_key"]) for r in db.query(
                    f"SELECT post_key FROM forum_posts WHERE post_key IN ({marks})", chunk)}
            return found

        return await self.store.reading(read)

    async def add(self, row: Row) -> None:
        await self.store.transaction(lambda db: db.execute(
            "INSERT INTO forum_posts (post_key, ticket_id, link, title, author, posted, posted_epoch, feed, imported,"
            " imported_epoch) VALUES (:post_key, :ticket_id, :link, :title, :author, :posted, :posted_epoch, :feed,"
            " :imported, :imported_epoch)", row))

    async def posts(self) -> list[Row]:
        return await self.store.reading(lambda db: list(db.query(
            "SELECT f.*, t.state, t.unit_name, t.reply FROM forum_posts f JOIN tickets t ON t.ticket_id = f.ticket_id"
            " ORDER BY f.imported_epoch, f.post_key")))
