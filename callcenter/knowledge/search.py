"""Searching the knowledge base: what the FTS5 table stores for an article, the MATCH
expression a query becomes, and the highlighted snippet (pure; the SQL is in
`repository`).

Why three columns. The words come from jieba (`callcenter.words` says why not FTS5's own
tokenizers): `title` and `words` hold the words of the title, and of the body, keywords
and the unit's names, which rank well (bm25) and find 低保 as a word. But a word jieba
cut differently in the article than in the query would be missed, and a one-character
query (水, 电) is no word at all. So `chars` holds every character of the article in
order (a Latin or digit run stays one token): a query word is also looked for there as a
phrase of its characters, which is a plain substring search, for one character, two, or
a whole phrase, that the index answers without scanning. A query is the AND of its
words, each word (or one of its synonyms) found in any of the three; when no article has
them all, the OR ranks the articles that have most. bm25 weighs the title highest.

A word of two or more characters that jieba's dictionary holds (低保, 户口) is looked for
among the words only: full mode indexes every dictionary word wherever it occurs, so
the characters would find nothing more, and a phrase of two very common characters
costs three times the time to match and rank (bench/README.md). Single characters,
names and words jieba does not know are looked for as characters too.

The unit, the kind, and whether an article has dates are tokens of a fourth column, so
a filter is one more term of the match (the index intersects them) rather than a read of
every matching article; only articles with dates are read, to hide from operators those
not valid today.

A query is bounded (`QUERY_MAX` characters, `TERMS_MAX` words), every word is quoted
(FTS5's syntax characters, `"`, `*`, `NEAR(`, are text), and the snippet is escaped
HTML with the hits in <mark>.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from callcenter.words import highlighted, in_dictionary, phrase_words, quoted, segment, ts_quoted

QUERY_MAX = 100  # characters of a query looked at: a pasted page is cut, never refused
TERMS_MAX = 12
SNIPPET_CHARS = 120
# bm25 weights of the columns title, words, chars, tags (a filter, never a reason to rank).
WEIGHTS = (10.0, 4.0, 1.0, 0.0)
# The same for PostgreSQL's ts_rank, whose weights are those of the tsvector's D, C, B and
# A (tags, chars, words, title: `callcenter.store.postgres_schema`), at most 1.
TS_WEIGHTS = "{" + ", ".join(str(weight / max(WEIGHTS)) for weight in reversed(WEIGHTS)) + "}"
# The tags of an article with a first or last day, and of one without: only the first
# need their dates checked against today.
DATED, UNDATED = "dated", "undated"
# Question words and particles: a query 低保怎么申请 looks for 低保 and 申请.
STOP_WORDS = frozenset([
    "的", "了", "是", "在", "吗", "呢", "吧", "啊", "呀", "和", "与", "及", "或", "我", "你", "怎么", "怎样", "如何",
    "什么", "哪里", "哪儿", "哪个", "多少", "请问", "想", "问", "一下", "能", "能否", "可以", "要",
])


def _is_han(ch: str) -> bool:
    return unicodedata.category(ch) == "Lo"


def characters(text: str) -> list[str]:
    """Every Chinese character of `text` as its own token, in order; runs of Latin
    letters and digits as one token each (lower-cased); the rest left out."""
    tokens: list[str] = []
    run = ""
    for ch in text.lower():
        if _is_han(ch):
            if run:
                tokens.append(run)
                run = ""
            tokens.append(ch)
        elif unicodedata.category(ch)[0] in "LN":
            run += ch
        elif run:
            tokens.append(run)
            run = ""
    if run:
        tokens.append(run)
    return tokens


def unit_tag(code: str) -> str:
    """The unit as one token (its code in hex: a `-` would split it)."""
    return "u" + code.encode().hex()


def kind_tag(kind: str) -> str:
    return "k" + kind


def tag_match(tag: str) -> str:
    """The FTS5 expression: articles carrying `tag`."""
    return f"tags : {quoted(tag)}"


def ts_tag_match(tag: str) -> str:
    """The to_tsquery text for PostgreSQL: articles carrying `tag` (weight D: the tags)."""
    return f"{ts_quoted(tag)}:D"


def index_columns(title: str, body: str, keywords: str, unit_names: Sequence[str],
                  tags: Sequence[str]) -> tuple[str, str, str, str]:
    """The `knowledge_search` row of an article: (title, words, chars, tags)."""
    words = segment("\n".join([body, keywords, *unit_names]))
    return (" ".join(segment(title)), " ".join(words), " ".join(characters("\n".join([title, keywords, body]))),
            " ".join(tags))


@dataclass(frozen=True)
class Query:
    """What a search string became: its words, each with its synonyms."""

    text: str  # the string as looked at (cut to QUERY_MAX)
    terms: tuple[tuple[str, ...], ...]  # per word of the query: it and its synonyms
    phrases: tuple[str, ...] = ()  # the query's pieces of more than one word (最低生活保障)

    @property
    def words(self) -> list[str]:
        """The phrases, every word and synonym, for highlighting: a snippet shows the
        place of the longest found first."""
        return [*self.phrases, *(word for term in self.terms for word in term)]

    def match(self, every: bool) -> str | None:
        """The FTS5 MATCH expression: every term (or any, `every` False); None when the
        query has no word."""
        if not self.terms:
            return None
        joiner = " AND " if every else " OR "
        return joiner.join("(" + " OR ".join(_alternative(word) for word in term) + ")" for term in self.terms)

    def tsquery(self, every: bool) -> str | None:
        """The same for PostgreSQL, as to_tsquery('simple', ...) text: the words weigh A
        and B (title, words), the characters C, a phrase of them joined by <->."""
        if not self.terms:
            return None
        joiner = " & " if every else " | "
        return joiner.join("(" + " | ".join(_ts_alternative(word) for word in term) + ")" for term in self.terms)


def _alternative(word: str) -> str:
    as_word = f"{{title words}} : {quoted(word)}"
    chars = characters(word)
    if not chars or (len(chars) > 1 and in_dictionary(word)):
        return as_word
    return f"{as_word} OR chars : {quoted(' '.join(chars))}"


def _ts_alternative(word: str) -> str:
    as_word = f"{ts_quoted(word)}:AB"
    chars = characters(word)
    if not chars or (len(chars) > 1 and in_dictionary(word)):
        return as_word
    return f"{as_word} | (" + " <-> ".join(f"{ts_quoted(ch)}:C" for ch in chars) + ")"


def parse_query(text: str, synonyms: Callable[[str], Iterable[str]]) -> Query:
    """A search string as typed (any length, any characters) into its terms. A piece of
    several words that has synonyms of its own (最低生活保障 for 低保) stays one term, so
    that its synonyms count; the other pieces give a term a word."""
    cut = text[:QUERY_MAX]
    pieces = list(dict.fromkeys(p.lower() for p in re.split(r"[^\w]+", cut) if p))
    words: list[str] = []
    whole: list[str] = []
    phrases: list[str] = []
    for piece in pieces:
        cut_piece = phrase_words(piece)
        if len(cut_piece) > 1:
            phrases.append(piece)
            if any(True for _ in synonyms(piece)):
                whole.append(piece)
                continue
        words.extend(cut_piece)
    meaningful = [w for w in dict.fromkeys(words) if w not in STOP_WORDS] or ([] if whole else words)
    terms = [tuple(dict.fromkeys([word, *(s.lower() for s in synonyms(word))]))
             for word in [*whole, *dict.fromkeys(meaningful)][:TERMS_MAX]]
    return Query(cut, tuple(terms), tuple(phrases))


_MARKUP = re.compile(r"^\s*(?:>\s*)+|^\s*[-+]\s+|[#*_`|]+|\[|\]\([^)]*\)", re.MULTILINE)


def plain_text(markdown: str) -> str:
    """A body's Markdown as one line of text for a snippet (marks and link targets out)."""
    return re.sub(r"\s+", " ", _MARKUP.sub(" ", markdown)).strip()


def marked_html(text: str, words: Iterable[str]) -> str:
    """`text` escaped, the pieces that are one of `words` in <mark>."""
    return "".join(f"<mark>{html.escape(piece)}</mark>" if hit else html.escape(piece)
                   for piece, hit in highlighted(text, words))


def snippet_html(body: str, words: Sequence[str], width: int = SNIPPET_CHARS) -> str:
    """About `width` characters of the body around its first hit, as escaped HTML with
    the hits in <mark>; the body's start when no word is in it (the title matched). The
    place is that of the longest word found (a whole phrase before its pieces)."""
    text = plain_text(body)
    lowered = text.lower()
    found = [(len(w), -at, at) for w in words if w and (at := lowered.find(w)) >= 0]
    start = max(0, max(found)[2] - width // 4) if found else 0
    piece = text[start:start + width]
    return ("…" if start > 0 else "") + marked_html(piece, words) + ("…" if start + width < len(text) else "")
