"""Every SQL statement about forum posts (`forum_posts`)."""

from __future__ import annotations

from collections.abc import Iterable

from callcenter.store import Database, Row, Store


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

    async def mark_result(self, ticket_id: int, text: str, at: str, at_epoch: float, by: str | None) -> bool:
        """The result to post back on the ticket's forum post; False when the ticket came from no post."""

        def write(db: Database) -> bool:
            cursor = db.execute(
                "UPDATE forum_posts SET result = ?, result_marked = ?, result_marked_epoch = ?, result_marked_by = ?,"
                " result_exported_epoch = NULL WHERE ticket_id = ?", [text, at, at_epoch, by, ticket_id])
            return cursor.rowcount > 0

        return await self.store.transaction(write)

    async def marked(self, include_exported: bool) -> list[Row]:
        """The posts with a result marked (not yet exported, unless `include_exported`)."""
        return await self.store.reading(lambda db: list(db.query(
            "SELECT f.*, t.unit_name FROM forum_posts f JOIN tickets t ON t.ticket_id = f.ticket_id"
            " WHERE f.result IS NOT NULL" + ("" if include_exported else " AND f.result_exported_epoch IS NULL")
            + " ORDER BY f.result_marked_epoch, f.post_key")))

    async def exported(self, keys: list[str], at_epoch: float) -> None:
        def write(db: Database) -> None:
            db.conn.executemany("UPDATE forum_posts SET result_exported_epoch = ? WHERE post_key = ?",
                                [(at_epoch, key) for key in keys])

        await self.store.transaction(write)
