"""What the console and the command line do with the knowledge base: search it, read an
article and its history, save an edit (who may edit what is decided here), import and
export, and record that an operator answered a call from it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from callcenter.clock import iso_local
from callcenter.knowledge.article import Article, KnowledgeError, article_of, same_content, validity
from callcenter.knowledge.markdown_folder import LINES, read_folder
from callcenter.knowledge.repository import Filters, KnowledgeRepository, Save, StaleVersion
from callcenter.knowledge.search import (
    DATED,
    UNDATED,
    Query,
    index_columns,
    kind_tag,
    marked_html,
    parse_query,
    snippet_html,
    unit_tag,
)
from callcenter.knowledge.synonyms import Synonyms
from callcenter.settings import Settings
from callcenter.store import Row
from callcenter.tickets.directory import Directory
from callcenter.users import OPERATOR, SUPERVISOR, UNIT
from callcenter.vocabulary import KNOWLEDGE_KIND_LABELS, KnowledgeKind

LIMIT_MAX = 100


class NotAllowed(KnowledgeError):
    """The editor may not change this article (another unit's, or a reader's role)."""


class NotFound(KnowledgeError):
    """No such article (or call)."""


class Conflict(KnowledgeError):
    """The article was saved by someone else since the editor opened it."""


@dataclass(frozen=True)
class Editor:
    """Who reads or edits: the console account's name, role and unit (for role unit)."""

    name: str
    role: str
    unit: str | None = None  # a unit's account: its unit's code
    seat: str | None = None  # an operator: the seat


def may_edit(editor: Editor, unit: str) -> bool:
    """Supervisors edit every article; a unit's account only its own unit's."""
    return editor.role == SUPERVISOR or (editor.role == UNIT and editor.unit == unit)


def sees_hidden(editor: Editor) -> bool:
    """Operators answer citizens: articles not valid today are hidden from them."""
    return editor.role != OPERATOR


@dataclass(frozen=True)
class Hit:
    id: int
    title: str
    unit: str
    unit_name: str
    kind: str
    kind_label: str
    title_html: str
    snippet_html: str
    updated_at: str
    validity: str


@dataclass(frozen=True)
class Found:
    query: Query | None
    total: int
    hits: list[Hit]


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    ids: list[int] = field(default_factory=list)


class KnowledgeService:
    def __init__(self, repository: KnowledgeRepository, directory: Directory, synonyms: Synonyms, zone: ZoneInfo,
                 clock: Callable[[], float] = time.time) -> None:
        self.repository = repository
        self.directory = directory
        self.synonyms = synonyms
        self.zone = zone
        self.clock = clock

    def today(self) -> date:
        return datetime.fromtimestamp(self.clock(), self.zone).date()

    def unit_name(self, code: str) -> str:
        unit = self.directory.get(code)
        return unit.name if unit else code

    def _index(self, article: Article) -> tuple[str, str, str, str]:
        unit = self.directory.get(article.unit)
        names = [unit.name, *unit.aliases] if unit else [article.unit]
        dated = DATED if article.valid_from or article.valid_until else UNDATED
        return index_columns(article.title, article.body, ", ".join(article.keywords), names,
                             [unit_tag(article.unit), kind_tag(str(article.kind)), dated])

    # ------------------------------------------------------------------ reading

    def _filters(self, editor: Editor, unit: str | None, kind: str | None) -> Filters:
        if editor.role == UNIT:
            unit = editor.unit  # a unit's account sees its own unit's articles only
        return Filters(unit=unit, kind=kind, valid_on=None if sees_hidden(editor) else self.today().isoformat())

    async def search(self, text: str, editor: Editor, unit: str | None = None, kind: str | None = None,
                     limit: int = 20) -> Found:
        """The articles best matching `text` (every word, else the most of them); without
        a word, the most recently updated."""
        limit = max(1, min(limit, LIMIT_MAX))
        filters = self._filters(editor, unit, kind)
        query = parse_query(text, self.synonyms.of) if text.strip() else None
        if query is None or not query.terms:
            rows, total = await self.repository.listing(filters, limit)
            return Found(query, total, [self._hit(row, []) for row in rows])
        rows, total = await self.repository.search(query, True, filters, limit)
        if not rows and len(query.terms) > 1:
            rows, total = await self.repository.search(query, False, filters, limit)
        return Found(query, total, [self._hit(row, query.words) for row in rows])

    def _hit(self, row: Row, words: Sequence[str]) -> Hit:
        kind = KnowledgeKind(str(row["kind"]))
        return Hit(id=int(str(row["article_id"])), title=str(row["title"]), unit=str(row["unit"]),
                   unit_name=self.unit_name(str(row["unit"])), kind=str(kind), kind_label=KNOWLEDGE_KIND_LABELS[kind],
                   title_html=marked_html(str(row["title"]), words),
                   snippet_html=snippet_html(str(row["body"]), words), updated_at=str(row["updated_at"]),
                   validity=validity(row["valid_from"], row["valid_until"], self.today()))

    async def article(self, article_id: int, editor: Editor) -> Row:
        """The article as it is now; NotFound also for one the editor may not see (an
        operator and an expired article, a unit and another unit's)."""
        row = await self.repository.get(article_id)
        if row is None:
            raise NotFound(f"no article {article_id}")
        if editor.role == UNIT and row["unit"] != editor.unit:
            raise NotFound(f"no article {article_id} of your unit")
        state = validity(row["valid_from"], row["valid_until"], self.today())
        if not sees_hidden(editor) and state != "valid":
            raise NotFound(f"article {article_id} is not valid today")
        return {**row, "validity": state, "unit_name": self.unit_name(str(row["unit"])),
                "kind_label": KNOWLEDGE_KIND_LABELS[KnowledgeKind(str(row["kind"]))],
                "may_edit": may_edit(editor, str(row["unit"]))}

    async def history(self, article_id: int, editor: Editor) -> list[Row]:
        await self.article(article_id, editor)
        return await self.repository.versions(article_id)

    # ------------------------------------------------------------------ writing

    async def create(self, article: Article, editor: Editor) -> int:
        if not may_edit(editor, article.unit):
            raise NotAllowed("只能为本单位添加条目 (you may add articles of your own unit only)")
        index = await asyncio.to_thread(self._index, article)
        saved = await self.repository.save([Save(article.fields(), index)], *self._stamp(editor))
        return saved[0][0]

    async def update(self, article_id: int, article: Article, expected_version: int, editor: Editor) -> int:
        """Save an edit made from `expected_version`; the new version's number."""
        row = await self.repository.get(article_id)
        if row is None:
            raise NotFound(f"no article {article_id}")
        if not may_edit(editor, str(row["unit"])) or not may_edit(editor, article.unit):
            raise NotAllowed("只能修改本单位的条目 (you may edit your own unit's articles only)")
        index = await asyncio.to_thread(self._index, article)
        try:
            saved = await self.repository.save([Save(article.fields(), index, article_id, expected_version)],
                                               *self._stamp(editor))
        except StaleVersion:
            raise Conflict(f"条目已被他人修改，请刷新后再改 (article {article_id} was saved by someone else since"
                           f" version {expected_version})") from None
        return saved[0][1]

    def _stamp(self, editor: Editor) -> tuple[str, float, str]:
        now = self.clock()
        return iso_local(now, self.zone), now, editor.name

    async def import_articles(self, entries: Iterable[tuple[str, dict[str, object]]], by: str,
                              progress: Callable[[int], None] = lambda n: None) -> ImportReport:
        """Articles from files (where, fields): checked all first (KnowledgeError naming
        the file and line, and nothing written), then written in one transaction: an
        article with a stored id, or the same unit and title, is updated when it
        differs; the others are added."""
        articles: list[tuple[str, Article]] = []
        for where, fields in entries:
            try:
                articles.append((where, article_of(fields, self.directory)))
            except KnowledgeError as exc:
                lines = fields.get(LINES)
                line = lines.get(exc.field) if isinstance(lines, dict) and exc.field else None
                raise KnowledgeError(f"{where}: line {line}: {exc}" if line else f"{where}: {exc}") from None
            if len(articles) % 100 == 0:
                progress(len(articles))
        progress(len(articles))
        by_id, by_title = await self.repository.existing(
            [a.article_id for _, a in articles if a.article_id is not None],
            [(a.unit, a.title) for _, a in articles])
        report, saves, seen = ImportReport(), [], set()
        for where, article in articles:
            row = by_id.get(article.article_id) if article.article_id is not None else None
            row = row or (by_title.get((article.unit, article.title)) if article.article_id is None else None)
            key = row["article_id"] if row else (article.article_id or (article.unit, article.title))
            if key in seen:
                raise KnowledgeError(f"{where}: the same article appears twice in the import")
            seen.add(key)
            if row is not None and same_content(article, row):
                report.unchanged += 1
                report.ids.append(int(str(row["article_id"])))
                continue
            index = await asyncio.to_thread(self._index, article)
            if row is None:
                saves.append(Save(article.fields(), index, article.article_id))
                report.created += 1
            else:
                saves.append(Save(article.fields(), index, int(str(row["article_id"])), int(str(row["version"]))))
                report.updated += 1
        try:
            written = await self.repository.save(saves, *self._stamp(Editor(by, SUPERVISOR)))
        except StaleVersion as exc:
            raise Conflict(f"article {exc.article_id} was saved while it was imported: nothing was imported,"
                           " run the import again") from None
        report.ids += [article_id for article_id, _ in written]
        return report

    async def export_rows(self) -> list[Row]:
        return await self.repository.everything()

    async def load_starter(self, folder: Path, by: str = "starter") -> ImportReport | None:
        """The starter articles of `folder`, when the base is empty (None otherwise)."""
        if await self.repository.count() > 0:
            return None
        entries = await asyncio.to_thread(lambda: list(read_folder(folder)))
        return await self.import_articles(entries, by)

    # ------------------------------------------------------------------ calls

    async def answered(self, call_id: str, article_ids: Sequence[int], editor: Editor,
                       live_on_seat: bool = False) -> list[Row]:
        """The call was answered from these articles: linked, the call marked settled from
        the base. NotFound for an unknown call or article, NotAllowed for an operator
        whose seat did not take the call (`live_on_seat`: the floor shows it talking on
        the operator's seat now, before its row names the seat)."""
        call = await self.repository.call(call_id)
        if call is None:
            raise NotFound(f"no call {call_id}")
        own = call["seat"] == editor.seat or live_on_seat
        if editor.role != SUPERVISOR and not (editor.role == OPERATOR and own):
            raise NotAllowed("只能为本坐席接听的电话登记 (only calls your seat took)")
        now = self.clock()
        articles = await self.repository.answered(call_id, list(dict.fromkeys(article_ids)), editor.name,
                                                  iso_local(now, self.zone), now)
        if articles is None:
            raise NotFound("没有这个条目 (no such article)")
        return articles

    async def top(self, limit: int) -> list[Row]:
        """Today's most used articles (the local day)."""
        day = self.today()
        start = datetime.combine(day, datetime.min.time(), tzinfo=self.zone)
        rows = await self.repository.top(start.timestamp(), (start + timedelta(days=1)).timestamp(),
                                         max(1, min(limit, LIMIT_MAX)))
        return [{**row, "unit_name": self.unit_name(str(row["unit"]))} for row in rows]


def starter_folder(settings: Settings) -> Path:
    """The starter articles (`config/knowledge/<unit>/*.md`), loaded at `hotline up`
    when the base is empty."""
    return settings.home / "config" / "knowledge"
