"""The knowledge tables (`knowledge_articles`, `knowledge_versions`, `knowledge_search`,
`knowledge_uses`, and `calls.answered_from_base`): every SQL statement about them.

An article and its search row change together, in one transaction, with a new row in
`knowledge_versions` (the article as saved, who, when), so the history is complete and
the index never lags. A save names the version it was made from; when another save came
first the update touches nothing and the caller says so (no edit silently lost)."""

from __future__ import annotations

import heapq
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from callcenter.knowledge.search import (
    DATED,
    TS_WEIGHTS,
    UNDATED,
    WEIGHTS,
    Query,
    kind_tag,
    tag_match,
    ts_tag_match,
    unit_tag,
)
from callcenter.store import Database, Row, Store

ARTICLE_COLUMNS = ("title", "unit", "kind", "body", "keywords", "valid_from", "valid_until", "owner")
_LISTED = ("a.article_id, a.title, a.unit, a.kind, a.body, a.keywords, a.valid_from, a.valid_until, a.owner,"
           " a.version, a.updated_at, a.updated_by")


class StaleVersion(Exception):
    """An update was made from a version that is no longer the latest: nothing written."""

    def __init__(self, article_id: int) -> None:
        super().__init__(f"article {article_id} was saved since")
        self.article_id = article_id


@dataclass(frozen=True)
class Save:
    """One article written: `fields` (ARTICLE_COLUMNS), its search columns, and the id
    and version it updates (None: a new article, with `article_id` when the file gave one)."""

    fields: Mapping[str, object]
    index: tuple[str, str, str, str]  # knowledge_search's title, words, chars, tags
    article_id: int | None = None
    expected_version: int | None = None  # for an update: the version it was edited from


@dataclass(frozen=True)
class Filters:
    unit: str | None = None
    kind: str | None = None
    valid_on: str | None = None  # an ISO date: only articles valid that day; None: all


def _rows(db: Database, sql: str, params: Sequence[object] | Mapping[str, object] = ()) -> list[Row]:
    return list(db.query(sql, dict(params) if isinstance(params, Mapping) else list(params)))


def _write(db: Database, save: Save, at: str, at_epoch: float, by: str) -> tuple[int, int] | None:
    """The article saved, with its version row and search row: (id, version); None when
    the update was made from a version that is no longer the latest."""
    columns = [save.fields[c] for c in ARTICLE_COLUMNS]
    if save.expected_version is None:
        # A NULL article_id is numbered by the database (SQLite's rowid, PostgreSQL's identity).
        number = "?" if save.article_id is not None or db.dialect == "sqlite" else "DEFAULT"
        cursor = db.conn.execute(
            f"INSERT INTO knowledge_articles (article_id, {', '.join(ARTICLE_COLUMNS)}, version, updated_at,"
            f" updated_epoch, updated_by) VALUES ({number}, {', '.join('?' for _ in ARTICLE_COLUMNS)}, 1, ?, ?, ?)"
            " RETURNING article_id",
            [*([save.article_id] if number == "?" else []), *columns, at, at_epoch, by])
        article_id, version = int(cursor.fetchone()[0]), 1
        if save.article_id is not None and db.dialect == "postgresql":
            # An id given by an imported file: the identity must number on past it.
            db.conn.execute("SELECT setval(pg_get_serial_sequence('knowledge_articles', 'article_id'),"
                            " (SELECT max(article_id) FROM knowledge_articles))")
    else:
        assert save.article_id is not None
        cursor = db.conn.execute(
            f"UPDATE knowledge_articles SET {', '.join(f'{c} = ?' for c in ARTICLE_COLUMNS)}, version = version + 1,"
            " updated_at = ?, updated_epoch = ?, updated_by = ? WHERE article_id = ? AND version = ?",
            [*columns, at, at_epoch, by, save.article_id, save.expected_version])
        if cursor.rowcount != 1:
            return None
        article_id, version = save.article_id, save.expected_version + 1
        db.conn.execute(_DELETE_SEARCH_ROW[db.dialect], [article_id])
    db.conn.execute(
        f"INSERT INTO knowledge_versions (article_id, {', '.join(ARTICLE_COLUMNS)}, version, saved_at, saved_epoch,"
        f" saved_by) VALUES (?, {', '.join('?' for _ in ARTICLE_COLUMNS)}, ?, ?, ?, ?)",
        [article_id, *columns, version, at, at_epoch, by])
    db.conn.execute(_INSERT_SEARCH_ROW[db.dialect], [article_id, *save.index])
    return article_id, version


# knowledge_search's row of an article: FTS5 numbers it by rowid, PostgreSQL's table has
# an article_id column (`callcenter.store.postgres_schema`).
_DELETE_SEARCH_ROW = {"sqlite": "DELETE FROM knowledge_search WHERE rowid = ?",
                      "postgresql": "DELETE FROM knowledge_search WHERE article_id = ?"}
_INSERT_SEARCH_ROW = {
    "sqlite": "INSERT INTO knowledge_search (rowid, title, words, chars, tags) VALUES (?, ?, ?, ?, ?)",
    "postgresql": "INSERT INTO knowledge_search (article_id, title, words, chars, tags) VALUES (?, ?, ?, ?, ?)",
}
# Rows by a list of numbers given as one parameter: SQLite reads it as JSON, PostgreSQL
# takes the list as an array.
_ARTICLES_AMONG = {"sqlite": "SELECT * FROM knowledge_articles WHERE article_id IN (SELECT value FROM json_each(?))",
                   "postgresql": "SELECT * FROM knowledge_articles WHERE article_id = ANY(?)"}
_ARTICLES_TITLED = {
    "sqlite": "SELECT a.* FROM knowledge_articles a JOIN json_each(?) j"
              " ON a.unit = json_extract(j.value, '$[0]') AND a.title = json_extract(j.value, '$[1]')",
    "postgresql": "SELECT a.* FROM knowledge_articles a JOIN unnest(CAST(? AS text[]), CAST(? AS text[]))"
                  " AS j(unit, title) ON a.unit = j.unit AND a.title = j.title",
}
_LISTED_AMONG = {"sqlite": f"SELECT {_LISTED} FROM knowledge_articles a"
                           " WHERE a.article_id IN (SELECT value FROM json_each(?))",
                 "postgresql": f"SELECT {_LISTED} FROM knowledge_articles a WHERE a.article_id = ANY(?)"}


def _among(db: Database, values: Sequence[object]) -> object:
    """A list as the one parameter of the statements above."""
    return _json_list(values) if db.dialect == "sqlite" else list(values)


def _scores(db: Database, expression: str, dated: bool, valid_on: str | None) -> list[tuple[int, float]]:
    """(article, score) of every article matching, the best score lowest (bm25's way):
    SQLite's FTS5 MATCH, or PostgreSQL's tsvector @@ to_tsquery with ts_rank negated.
    `dated`: only articles with dates, valid on `valid_on`."""
    if db.dialect == "sqlite":
        select = (f"SELECT s.rowid AS id, bm25(knowledge_search, {', '.join(map(str, WEIGHTS))}) AS score"
                  " FROM knowledge_search s")
        join = " JOIN knowledge_articles a ON a.article_id = s.rowid"
        match, params = "knowledge_search MATCH ?", [expression]
    else:
        select = (f"SELECT s.article_id AS id, -ts_rank('{TS_WEIGHTS}', s.document, to_tsquery('simple', ?))"
                  " AS score FROM knowledge_search s")
        join = " JOIN knowledge_articles a ON a.article_id = s.article_id"
        match, params = "s.document @@ to_tsquery('simple', ?)", [expression, expression]
    sql = f"{select}{join} WHERE {match} AND {_VALID_ON}" if dated else f"{select} WHERE {match}"
    rows = db.conn.execute(sql, [*params, valid_on, valid_on] if dated else params).fetchall()
    return [(int(article_id), float(score)) for article_id, score in rows]


_VALID_ON = "(a.valid_until IS NULL OR a.valid_until >= ?) AND (a.valid_from IS NULL OR a.valid_from <= ?)"


def _where(filters: Filters) -> tuple[str, dict[str, object]]:
    """The filters as a WHERE over `knowledge_articles a`, for the list without a query."""
    where: list[str] = ["1 = 1"]
    params: dict[str, object] = {}
    if filters.unit is not None:
        where.append("a.unit = :unit")
        params["unit"] = filters.unit
    if filters.kind is not None:
        where.append("a.kind = :kind")
        params["kind"] = filters.kind
    if filters.valid_on is not None:
        where.append("(a.valid_until IS NULL OR a.valid_until >= :today)"
                     " AND (a.valid_from IS NULL OR a.valid_from <= :today)")
        params["today"] = filters.valid_on
    return " AND ".join(where), params


class KnowledgeRepository:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def count(self) -> int:
        rows = await self.store.reading(lambda db: _rows(db, "SELECT count(*) AS n FROM knowledge_articles"))
        return int(str(rows[0]["n"]))

    async def get(self, article_id: int) -> Row | None:
        rows = await self.store.reading(lambda db: _rows(
            db, "SELECT * FROM knowledge_articles WHERE article_id = ?", [article_id]))
        return rows[0] if rows else None

    async def versions(self, article_id: int) -> list[Row]:
        """Every version of the article, the newest first."""
        return await self.store.reading(lambda db: _rows(
            db, "SELECT * FROM knowledge_versions WHERE article_id = ? ORDER BY version DESC", [article_id]))

    async def everything(self) -> list[Row]:
        """Every article as it is now, by number (for an export)."""
        return await self.store.reading(lambda db: _rows(db, "SELECT * FROM knowledge_articles ORDER BY article_id"))

    async def existing(self, ids: Sequence[int], titles: Sequence[tuple[str, str]]) -> tuple[dict[int, Row],
                                                                                            dict[tuple[str, str], Row]]:
        """The stored articles among `ids`, and among (unit, title) pairs: what an import
        updates rather than adds."""

        def read(db: Database) -> tuple[dict[int, Row], dict[tuple[str, str], Row]]:
            by_id = {int(str(r["article_id"])): r for r in _rows(db, _ARTICLES_AMONG[db.dialect],
                                                                 [_among(db, ids)])}
            pairs: list[object] = ([_json_list([list(pair) for pair in titles])] if db.dialect == "sqlite"
                                   else [[unit for unit, _ in titles], [title for _, title in titles]])
            by_title = {(str(r["unit"]), str(r["title"])): r for r in _rows(db, _ARTICLES_TITLED[db.dialect], pairs)}
            return by_id, by_title

        return await self.store.reading(read)

    async def save(self, saves: Sequence[Save], at: str, at_epoch: float, by: str) -> list[tuple[int, int]]:
        """Write every save in one transaction: per save (id, version). StaleVersion, and
        nothing written, when an update was made from an older version."""

        def write(db: Database) -> list[tuple[int, int]]:
            written = []
            for save in saves:
                result = _write(db, save, at, at_epoch, by)
                if result is None:
                    raise StaleVersion(save.article_id or 0)
                written.append(result)
            return written

        return await self.store.transaction(write)

    async def search(self, query: Query, every: bool, filters: Filters, limit: int) -> tuple[list[Row], int]:
        """The best `limit` articles matching every term of `query` (or any, `every`
        False), best first (bm25 or ts_rank, the title weighing most), and how many match.
        The unit and kind are terms of the match (`search.unit_tag`); for a day's validity
        the undated matches need nothing more, the dated ones are read and checked. One
        pass brings each match's number and score only; Python keeps the best and the
        count, and only the page's articles are read whole."""
        tags = [tag for tag in (None if filters.unit is None else unit_tag(filters.unit),
                                None if filters.kind is None else kind_tag(filters.kind)) if tag is not None]

        def expression(dialect: str, validity: str | None) -> str:
            every_tag = [*tags, *([validity] if validity else [])]
            if dialect == "sqlite":
                return " AND ".join([f"({query.match(every)})", *(tag_match(tag) for tag in every_tag)])
            return " & ".join([f"({query.tsquery(every)})", *(ts_tag_match(tag) for tag in every_tag)])

        def read(db: Database) -> tuple[list[Row], int]:
            if filters.valid_on is None:
                matches = _scores(db, expression(db.dialect, None), False, None)
            else:
                matches = _scores(db, expression(db.dialect, UNDATED), False, None)
                matches += _scores(db, expression(db.dialect, DATED), True, filters.valid_on)
            best = heapq.nsmallest(limit, matches, key=lambda m: (m[1], m[0]))
            order = {article_id: place for place, (article_id, _) in enumerate(best)}
            rows = _rows(db, _LISTED_AMONG[db.dialect], [_among(db, list(order))])
            return sorted(rows, key=lambda row: order[int(str(row["article_id"]))]), len(matches)

        return await self.store.snapshot(read)

    async def listing(self, filters: Filters, limit: int) -> tuple[list[Row], int]:
        """Without a query: the articles most recently updated first."""
        where, params = _where(filters)

        def read(db: Database) -> tuple[list[Row], int]:
            rows = _rows(db, f"SELECT {_LISTED} FROM knowledge_articles a WHERE {where}"
                         " ORDER BY a.updated_epoch DESC, a.article_id LIMIT :limit", {**params, "limit": limit})
            total = _rows(db, f"SELECT count(*) AS n FROM knowledge_articles a WHERE {where}", params)
            return rows, int(str(total[0]["n"]))

        return await self.store.snapshot(read)

    async def call(self, call_id: str) -> Row | None:
        rows = await self.store.reading(lambda db: _rows(
            db, "SELECT call_id, seat, answered_from_base FROM calls WHERE call_id = ?", [call_id]))
        return rows[0] if rows else None

    async def answered(self, call_id: str, article_ids: Sequence[int], user: str, at: str,
                       at_epoch: float) -> list[Row] | None:
        """Link the articles to the call (once each) and mark the call settled from the
        base (the first time only); the call's linked articles, or None when an article
        is missing (nothing written then)."""

        def write(db: Database) -> list[Row] | None:
            found = _rows(db, _ARTICLES_AMONG[db.dialect], [_among(db, article_ids)])
            if len(found) != len(set(article_ids)):
                return None
            # Once each (UNIQUE (call_id, article_id)); "user" is quoted: PostgreSQL reserves it.
            db.conn.executemany('INSERT INTO knowledge_uses (call_id, article_id, "user", at, at_epoch)'
                                " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                                [(call_id, a, user, at, at_epoch) for a in article_ids])
            db.conn.execute("UPDATE calls SET answered_from_base = coalesce(answered_from_base, ?)"
                            " WHERE call_id = ?", [at, call_id])
            return _rows(db, "SELECT a.article_id AS id, a.title FROM knowledge_uses u JOIN knowledge_articles a"
                         " ON a.article_id = u.article_id WHERE u.call_id = ? ORDER BY u.id", [call_id])

        return await self.store.transaction(write)

    async def top(self, since_epoch: float, until_epoch: float, limit: int) -> list[Row]:
        """The articles that answered most calls between the two moments."""
        return await self.store.reading(lambda db: _rows(
            db, "SELECT a.article_id AS id, a.title, a.unit, count(*) AS uses FROM knowledge_uses u"
            " JOIN knowledge_articles a ON a.article_id = u.article_id WHERE u.at_epoch >= ? AND u.at_epoch < ?"
            " GROUP BY a.article_id ORDER BY uses DESC, a.article_id LIMIT ?", [since_epoch, until_epoch, limit]))


def _json_list(values: Sequence[object]) -> str:
    return json.dumps(list(values), ensure_ascii=False)
