"""Words of a ticket's summary, for finding similar tickets (相似工单) while the operator
is still on the call.

The summary is cut into words by `callcenter.words` (jieba, and why not FTS5's own
tokenizers); the space-joined words are stored in an FTS5 table (`ticket_search`), and a
query is an OR of the words of the new summary, ranked by bm25. Words that say nothing
about the problem (particles, the hotline's own phrases such as 市民反映) are dropped,
so they never make two tickets look alike.
"""

from __future__ import annotations

from collections.abc import Iterable

from callcenter.words import segment

# Words of any summary, or of the way operators write them: never a reason to suggest.
_STOP_TEXT = (
    "的 了 是 在 我 你 他 她 它 们 我们 他们 有 和 与 及 或 就 也 都 很 吗 呢 吧 啊 呀 把 被 给 让 对 向 从 到 说"
    " 要 去 来 这 那 这个 那个 个 一 一个 还 又 没 没有 不 不是 能 会 可以 已 已经 并 等 其 该 之 于 以 而 但"
    " 市民 来电 反映 称 表示 问题 希望 要求 请求 情况 相关 部门 处理 解决 尽快 目前 现在 一直"
)
STOP_WORDS: frozenset[str] = frozenset(_STOP_TEXT.split())


def search_words(text: str) -> list[str]:
    """The meaningful words of `text`, each once, in the order they first appear."""
    return segment(text, STOP_WORDS)


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
