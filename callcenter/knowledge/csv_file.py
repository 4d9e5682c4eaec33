"""The knowledge base as one CSV file (a spreadsheet's view of it): a header row with
the article's fields (`article.FIELDS`), then one row an article; UTF-8 with a byte-order
mark, which Excel needs to read Chinese. A cell Excel would run as a formula (= + - @ at
its start) is written with a leading apostrophe, and read back without it."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from callcenter.knowledge.article import FIELDS, KnowledgeError
from callcenter.knowledge.text_file import read_text

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
FILE_MAX = 100_000_000


def _guarded(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def _unguarded(text: str) -> str:
    return text[1:] if text.startswith("'") and text[1:].startswith(_FORMULA_STARTS) else text


def format_csv(rows: Sequence[Mapping[str, object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(FIELDS)
    for row in rows:
        writer.writerow([_guarded(row.get("article_id") if key == "id" else row.get(key)) for key in FIELDS])
    return "\ufeff" + out.getvalue()


def parse_csv(text: str, name: str) -> Iterator[tuple[str, dict[str, object]]]:
    """(where, fields) of each row; KnowledgeError naming the file and line of a fault."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise KnowledgeError(f"{name}: empty file (a header row {','.join(FIELDS)} comes first)") from None
    except csv.Error as exc:
        raise KnowledgeError(f"{name}: line 1: {exc}") from None
    keys = [h.strip() for h in header]
    unknown = [k for k in keys if k not in FIELDS]
    missing = [k for k in ("title", "unit", "kind", "body") if k not in keys]
    if unknown or missing:
        problem = f"unknown column {unknown[0]!r}" if unknown else f"no column {missing[0]!r}"
        raise KnowledgeError(f"{name}: line 1: {problem} (columns: {','.join(FIELDS)})")
    while True:
        first_line = reader.line_num + 1  # a row's cells may span lines: it is named by its first
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise KnowledgeError(f"{name}: line {first_line}: {exc}") from None
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(keys):
            raise KnowledgeError(f"{name}: line {first_line}: {len(cells)} cells, the header has {len(keys)}")
        yield f"{name}: line {first_line}", {k: _unguarded(c) for k, c in zip(keys, cells, strict=True)}


def read_csv(path: Path) -> Iterator[tuple[str, dict[str, object]]]:
    yield from parse_csv(read_text(path, FILE_MAX, "; save it as CSV UTF-8"), str(path))
