"""Chinese text cut into words for full-text search: shared by similar tickets
(`callcenter.tickets.search`) and the knowledge base (`callcenter.knowledge.search`).

Why jieba and not SQLite's own tokenizers: Chinese has no spaces, so FTS5's default
`unicode61` tokenizer sees a whole clause (小区路灯不亮) as one token, and its `trigram`
tokenizer matches only queries of three characters or more, while most Chinese words are
two characters (路灯, 停水, 低保). jieba (pure Python, on PyPI) segments the text into
words in Python; the space-joined words are stored in an FTS5 table, where `unicode61`
splits them again on the spaces.

Two jieba modes are joined: search mode (`cut_for_search`), which also yields the two-
and three-character words inside longer ones (泽州县 -> 泽州, 泽州县), and full mode
(`cut(cut_all=True)`), every dictionary word found anywhere in the text. Search mode
alone follows one segmentation, and that one can split a word the writer meant: it cuts
小区路灯不亮 as 小区 / 路 / 灯不亮, and 路灯 would never match; full mode finds it.

jieba loads its dictionary on first use (about a second, building a cache file once),
so it is initialised lazily, quietly (its log says "Building prefix dict" on stderr),
with its cache in a folder of the system's temporary directory.
"""

from __future__ import annotations

import logging
import os
import tempfile
import unicodedata
from collections.abc import Collection, Iterable, Sequence
from functools import cache
from pathlib import Path
from typing import Any


@cache
def _jieba() -> Any:
    """jieba's default tokenizer, loaded on first use. Two threads asking at once may
    both get here; jieba's `initialize` holds its own lock and loads the dictionary once."""
    import jieba  # type: ignore[import-untyped]  # ships no type information

    jieba.setLogLevel(logging.WARNING)
    folder = Path(tempfile.gettempdir()) / f"callcenter-jieba-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    jieba.dt.tmp_dir = str(folder)
    jieba.dt.initialize()
    return jieba.dt


def is_wordlike(word: str) -> bool:
    """A piece with a letter or a digit in it (not punctuation, not spaces)."""
    return any(unicodedata.category(ch)[0] in "LN" for ch in word)


def segment(text: str, stop_words: Collection[str] = ()) -> list[str]:
    """The words of `text` (both jieba modes, lower-cased), each once, in the order
    they first appear; punctuation and `stop_words` left out."""
    tokenizer = _jieba()
    found = [*tokenizer.cut_for_search(text, HMM=True), *tokenizer.cut(text, cut_all=True)]
    words = (w.strip().lower() for w in found)
    return list(dict.fromkeys(w for w in words if w not in stop_words and is_wordlike(w)))


def phrase_words(text: str) -> list[str]:
    """`text` cut once (jieba's precise mode), lower-cased, punctuation left out: what a
    searcher typed, word by word, in order."""
    words = (w.strip().lower() for w in _jieba().cut(text, HMM=True))
    return [w for w in words if is_wordlike(w)]


def in_dictionary(word: str) -> bool:
    """Whether jieba's dictionary holds `word`: full mode then finds it wherever it is in
    a text, so the words of a text name every place it occurs."""
    return bool(_jieba().FREQ.get(word))


def quoted(word: str) -> str:
    """`word` as one FTS5 string: never read as an operator (AND, NEAR, *, column:)."""
    return '"' + word.replace('"', '""') + '"'


def ts_quoted(word: str) -> str:
    """`word` as one operand of PostgreSQL's to_tsquery: never read as an operator (&, |,
    !, <->, :*)."""
    return "'" + word.replace("\\", "\\\\").replace("'", "''") + "'"


def ts_match_any(words: Sequence[str]) -> str | None:
    """The to_tsquery text of `match_any` for PostgreSQL: any of `words`, each quoted."""
    if not words:
        return None
    return " | ".join(ts_quoted(word) for word in words)


def match_any(words: Sequence[str]) -> str | None:
    """An FTS5 MATCH expression: any of `words`, each quoted; None when there is none."""
    if not words:
        return None
    return " OR ".join(quoted(word) for word in words)


def highlighted(text: str, words: Iterable[str]) -> tuple[tuple[str, bool], ...]:
    """`text` cut into (text, matched) pieces, the pieces that are one of `words` (the
    longest first) marked, for a page to emphasise (each piece still to be escaped there)."""
    terms = sorted({w for w in words if w}, key=len, reverse=True)
    pieces: list[tuple[str, bool]] = []
    plain, at, lowered = "", 0, text.lower()
    while at < len(text):
        term = next((t for t in terms if lowered.startswith(t, at)), None)
        if term is None:
            plain += text[at]
            at += 1
            continue
        if plain:
            pieces.append((plain, False))
            plain = ""
        pieces.append((text[at:at + len(term)], True))
        at += len(term)
    if plain:
        pieces.append((plain, False))
    return tuple(pieces)
