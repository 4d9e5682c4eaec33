"""An article's Markdown as HTML for the page. markdown-it-py (pure Python, CommonMark)
with raw HTML off: a <script> or <img onerror> in a body is shown as text, never
parsed; its link check refuses javascript: and data: targets. Tables are on (procedures
are often tables); nothing else is added."""

from __future__ import annotations

from functools import cache

from markdown_it import MarkdownIt


@cache
def _renderer() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable("table")


def body_html(markdown: str) -> str:
    return str(_renderer().render(markdown))
