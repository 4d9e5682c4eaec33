"""An article of the knowledge base, and the checks every way in (form, Markdown file,
CSV row) goes through, so that each refuses the same things with the same words."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import TypeVar

from callcenter.errors import HotlineError
from callcenter.tickets.directory import Directory
from callcenter.tickets.states import TicketError
from callcenter.vocabulary import KNOWLEDGE_KIND_LABELS, KnowledgeKind

TITLE_MAX, BODY_MAX, OWNER_MAX = 200, 50_000, 100
KEYWORDS_MAX, KEYWORD_MAX = 20, 30
# The fields an article is written with, in the order files and forms list them.
T = TypeVar("T")
FIELDS = ("id", "title", "unit", "kind", "keywords", "valid_from", "valid_until", "owner", "body")


class KnowledgeError(HotlineError):
    """An article is refused (the message names the field), or an edit is not allowed."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field  # the article's field at fault, when one is


@dataclass(frozen=True)
class Article:
    title: str
    unit: str  # the unit's code (config/units.toml)
    kind: KnowledgeKind
    body: str  # Markdown
    keywords: tuple[str, ...] = ()
    valid_from: date | None = None
    valid_until: date | None = None
    owner: str = ""  # the office that answers for it, e.g. 泽州县民政局
    article_id: int | None = None  # None: not stored yet

    def fields(self) -> dict[str, object]:
        """The article's columns as the store keeps them."""
        return {"title": self.title, "unit": self.unit, "kind": str(self.kind), "body": self.body,
                "keywords": ", ".join(self.keywords), "owner": self.owner,
                "valid_from": self.valid_from.isoformat() if self.valid_from else None,
                "valid_until": self.valid_until.isoformat() if self.valid_until else None}


def validity(valid_from: object, valid_until: object, today: date) -> str:
    """"valid", "expired" (past its last day) or "pending" (before its first day), from
    the stored ISO dates."""
    if isinstance(valid_until, str) and valid_until and valid_until < today.isoformat():
        return "expired"
    if isinstance(valid_from, str) and valid_from and valid_from > today.isoformat():
        return "pending"
    return "valid"


def _clean(value: str, keep_lines: bool = False) -> str:
    """Control characters never reach the store (line breaks in a body excepted)."""
    allowed = "\n\t" if keep_lines else ""
    text = value.replace("\r\n", "\n").replace("\r", "\n")
    return "".join(ch for ch in text if ch in allowed or (ch >= " " and ch != "\x7f")).strip()


def _text(fields: Mapping[str, object], key: str, limit: int, required: bool, keep_lines: bool = False) -> str:
    value = fields.get(key)
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise KnowledgeError(f"{key} must be text")
    value = _clean(value, keep_lines)
    if required and not value:
        raise KnowledgeError(f"{key} is required (不能为空)")
    if len(value) > limit:
        raise KnowledgeError(f"{key} is longer than {limit} characters (最多 {limit} 个字)")
    return value


def _day(fields: Mapping[str, object], key: str) -> date | None:
    value = fields.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        raise KnowledgeError(f"{key} must be a date like 2026-01-31, got {value!r}")
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise KnowledgeError(f"{key} is not a real date: {value!r}") from None


def parse_kind(value: object) -> KnowledgeKind:
    """A kind by its code (faq) or its label (常见问题)."""
    text = value.strip() if isinstance(value, str) else ""
    for kind, label in KNOWLEDGE_KIND_LABELS.items():
        if text in (str(kind), label):
            return kind
    choices = ", ".join(f"{k} ({label})" for k, label in KNOWLEDGE_KIND_LABELS.items())
    raise KnowledgeError(f"kind must be one of {choices}, got {value!r}")


def parse_keywords(value: object) -> tuple[str, ...]:
    """Keywords as a list, or as text split on commas (either width), 、 or spaces."""
    if value is None:
        return ()
    if isinstance(value, str):
        items: list[object] = list(re.split(r"[,，、;；\s]+", value))
    elif isinstance(value, list | tuple):
        items = list(value)
    else:
        raise KnowledgeError("keywords must be a list of words or text separated by commas")
    words: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise KnowledgeError("keywords must be words")
        word = _clean(item)
        if len(word) > KEYWORD_MAX:
            raise KnowledgeError(f"keyword {word[:40]!r} is longer than {KEYWORD_MAX} characters")
        if word:
            words.append(word)
    words = list(dict.fromkeys(words))
    if len(words) > KEYWORDS_MAX:
        raise KnowledgeError(f"at most {KEYWORDS_MAX} keywords, got {len(words)}")
    return tuple(words)


def parse_id(value: object) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    if isinstance(value, str) and value.strip().isdigit() and int(value.strip()) > 0:
        return int(value.strip())
    raise KnowledgeError(f"id must be a whole number above 0, got {value!r}")


def _field(key: str, check: Callable[[], T]) -> T:
    """`check()`, its KnowledgeError (or the directory's TicketError) tagged with `key`."""
    try:
        return check()
    except (KnowledgeError, TicketError) as exc:
        raise KnowledgeError(str(exc), key) from None


def article_of(fields: Mapping[str, object], directory: Directory) -> Article:
    """An article from untrusted fields (a form, a file's front matter and body, a CSV
    row); KnowledgeError naming the first field that is wrong."""
    title = _field("title", lambda: _text(fields, "title", TITLE_MAX, required=True))
    unit = _field("unit", lambda: directory.find(_text(fields, "unit", 100, required=True)))
    valid_from = _field("valid_from", lambda: _day(fields, "valid_from"))
    valid_until = _field("valid_until", lambda: _day(fields, "valid_until"))
    if valid_from and valid_until and valid_until < valid_from:
        raise KnowledgeError(f"valid_until ({valid_until}) is before valid_from ({valid_from})", "valid_until")
    return Article(
        title=title,
        unit=unit.code,
        kind=_field("kind", lambda: parse_kind(fields.get("kind"))),
        body=_field("body", lambda: _text(fields, "body", BODY_MAX, required=True, keep_lines=True)),
        keywords=_field("keywords", lambda: parse_keywords(fields.get("keywords"))),
        valid_from=valid_from,
        valid_until=valid_until,
        owner=_field("owner", lambda: _text(fields, "owner", OWNER_MAX, required=False)),
        article_id=_field("id", lambda: parse_id(fields.get("id"))),
    )


def same_content(article: Article, row: Mapping[str, object]) -> bool:
    """Whether a stored row already says what `article` says (an import then leaves it)."""
    return all(row.get(key) == value for key, value in article.fields().items())
