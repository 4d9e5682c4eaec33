"""The knowledge base as a folder of Markdown files, one article a file, so that a city
can keep its base in version control: a front matter block of `key: value` lines between
`---` lines, then the body.

    ---
    id: 12
    title: 最低生活保障（低保）申请条件
    unit: zezhou
    kind: policy
    keywords: 低保, 最低生活保障
    valid_from: 2026-01-01
    valid_until:
    owner: 泽州县民政局
    ---
    正文（Markdown）……

`id` is the article's number in the store: present, an import updates that article;
absent (a new file), it updates the article of the same unit and title, or adds one.
`unit` takes a code, name or alias, `kind` a code or its label (常见问题). Values are one
line each; no YAML library is needed. An export writes `<unit>/<id>.md` and adds
`version` and `updated_at`, which an import reads past."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from callcenter.knowledge.article import FIELDS, KnowledgeError
from callcenter.knowledge.text_file import read_text

FENCE = "---"
_INFORMATIONAL = ("version", "updated_at", "updated_by")
FILE_MAX = 200_000  # bytes: a body is at most 50,000 characters


LINES = "_lines"  # the fields' line numbers, for an error about a value found later


def parse_markdown(text: str, name: str) -> dict[str, object]:
    """The fields of one file (front matter and `body`, and under LINES each field's line
    number); KnowledgeError naming the file and line of the first fault."""
    lines = text.lstrip("\ufeff").split("\n")
    if not lines or lines[0].strip() != FENCE:
        raise KnowledgeError(f"{name}: line 1: a file starts with a '---' line, then key: value lines")
    fields: dict[str, object] = {}
    numbers: dict[str, int] = {}
    for number, line in enumerate(lines[1:], start=2):
        stripped = line.strip()
        if stripped == FENCE:
            fields["body"] = "\n".join(lines[number:]).strip("\n")
            numbers["body"] = number + 1
            return {**fields, LINES: numbers}
        if not stripped or stripped.startswith("#"):
            continue
        key, colon, value = stripped.partition(":")
        key = key.strip()
        if not colon or not key:
            raise KnowledgeError(f"{name}: line {number}: expected 'key: value', got {stripped[:60]!r}")
        if (key not in FIELDS and key not in _INFORMATIONAL) or key == "body":
            raise KnowledgeError(f"{name}: line {number}: unknown key {key!r}"
                                 f" (known: {', '.join(k for k in FIELDS if k != 'body')})")
        if key in fields:
            raise KnowledgeError(f"{name}: line {number}: {key!r} given twice")
        if key not in _INFORMATIONAL:
            fields[key] = value.strip()
            numbers[key] = number
    raise KnowledgeError(f"{name}: the front matter has no closing '---' line")


def format_markdown(row: Mapping[str, object]) -> str:
    """A stored article as a file (the inverse of `parse_markdown`)."""
    lines = [FENCE, f"id: {row['article_id']}"]
    for key in ("title", "unit", "kind", "keywords", "valid_from", "valid_until", "owner", "version", "updated_at"):
        value = row.get(key)
        lines.append(f"{key}: {'' if value is None else value}".rstrip())
    return "\n".join([*lines, FENCE, str(row["body"]), ""])


def read_folder(folder: Path) -> Iterator[tuple[str, dict[str, object]]]:
    """(file name, fields) of every `*.md` under `folder`, in name order."""
    if not folder.is_dir():
        raise KnowledgeError(f"{folder}: not a folder")
    for path in sorted(folder.rglob("*.md")):
        yield str(path), parse_markdown(read_text(path, FILE_MAX), str(path))


def write_folder(folder: Path, rows: Sequence[Mapping[str, object]]) -> int:
    """Every article as `<folder>/<unit>/<id>.md`; the number of files written."""
    for row in rows:
        target = folder / str(row["unit"]) / f"{row['article_id']}.md"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(format_markdown(row), encoding="utf-8")
    return len(rows)
