"""Words of a ticket's summary, for finding similar tickets (相似工单) while the operator
is still on the call.

Why jieba and not SQLite's own tokenizers: Chinese has no spaces, so FTS5's default
`unicode61` tokenizer sees a whole clause (小区路灯不亮) as one token, and its `trigram`
tokenizer matches only queries of three characters or more, while most Chinese words in a
summary are two characters (路灯, 停水, 噪音). jieba (pure Python, on PyPI) segments
the text into words in Python; the space-joined words are stored in an FTS5 table
(`ticket_search`), where `unicode61` splits them again on the spaces, and a query is an
OR of the words of the new summary, ranked by bm25.

Two jieba modes are joined: search mode (`cut_for_search`), which also yields the two-
and three-character words inside longer ones (泽州县 -> 泽州, 泽州县), and full mode
(`cut(cut_all=True)`), every dictionary word found anywhere in the text. Search mode
alone follows one segmentation, and that one can split a word the citizen meant: it cuts
小区路灯不亮 as 小区 / 路 / 灯不亮, and 路灯 would never match; full mode finds it.
Words that say nothing about the problem (particles, punctuation, the hotline's own
phrases such as 市民反映) are dropped, so they never make two tickets look alike.

jieba loads its dictionary on first use (about a second, building a cache file once),
so it is initialised lazily, on the first summary, quietly (its log says "Building prefix
dict" on stderr), with its cache in a folder of the system's temporary directory.
"""

from __future__ import annotations

import logging
import os
import tempfile
import unicodedata
from collections.abc import Iterable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

# Words of any summary, or of the way operators write them: never a reason to suggest.
_STOP_TEXT = (
    "的 了 是 在 我 你 他 她 它 们 我们 他们 有 和 与 及 或 就 也 都 很 吗 呢 吧 啊 呀 把 被 给 让 对 向 从 到 说"
    " 要 去 来 这 那 这个 那个 个 一 一个 还 又 没 没有 不 不是 能 会 可以 已 已经 并 等 其 该 之 于 以 而 但"
    " 市民 来电 反映 称 表示 问题 希望 要求 请求 情况 相关 部门 处理 解决 尽快 目前 现在 一直"
)
STOP_WORDS: frozenset[str] = frozenset(_STOP_TEXT.split())


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


def _meaningful(word: str) -> bool:
    """A word with a letter or a digit in it that is not a stop-word."""
    return word not in STOP_WORDS and any(unicodedata.category(ch)[0] in "LN" for ch in word)


def search_words(text: str) -> list[str]:
    """The meaningful words of `text`, each once, in the order they first appear."""
    tokenizer = _jieba()
    found = [*tokenizer.cut_for_search(text, HMM=True), *tokenizer.cut(text, cut_all=True)]
    return list(dict.fromkeys(w.strip().lower() for w in found if _meaningful(w.strip().lower())))


def index_text(summaries: Iterable[str]) -> str:
    """What the search table stores for a ticket: its words, space-joined."""
    words: dict[str, None] = {}
    for summary in summaries:
        words.update(dict.fromkeys(search_words(summary)))
    return " ".join(words)


def query_words(text: str) -> list[str]:
    """The words of a new summary to look for. Single characters (坏, 路) are left out
    when the summary has longer words: alone they would pair 路灯坏了 with 电梯坏了. A
    summary of one character is looked for as it is."""
    words = search_words(text)
    longer = [w for w in words if len(w) > 1]
    return longer or words


def match_query(words: Sequence[str]) -> str | None:
    """An FTS5 MATCH expression: any of `words`, each quoted (a word is never an FTS5
    operator); None when there is no word to look for."""
    if not words:
        return None
    return " OR ".join('"' + word.replace('"', '""') + '"' for word in words)


def highlighted(summary: str, words: Iterable[str]) -> tuple[tuple[str, bool], ...]:
    """`summary` cut into (text, matched) pieces, the pieces that are one of `words`
    marked, for a page to emphasise (each piece still to be escaped there)."""
    terms = sorted({w for w in words if w}, key=len, reverse=True)
    pieces: list[tuple[str, bool]] = []
    plain, at, lowered = "", 0, summary.lower()
    while at < len(summary):
        term = next((t for t in terms if lowered.startswith(t, at)), None)
        if term is None:
            plain += summary[at]
            at += 1
            continue
        if plain:
            pieces.append((plain, False))
            plain = ""
        pieces.append((summary[at:at + len(term)], True))
        at += len(term)
    if plain:
        pieces.append((plain, False))
    return tuple(pieces)
