"""Removing what identifies a citizen from a text to be published: mainland mobile and
fixed-line numbers, ID card numbers, licence plates, and the citizen's name (also as
surname + 先生/女士). Pure: the redacted text and each removal with its place, so the page
can show what went."""

from __future__ import annotations

import re
from dataclasses import dataclass

# Longest first: an 18-digit ID number must not be taken for a phone number inside it.
_ID = r"(?<![0-9])[1-9][0-9]{5}(?:19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9Xx](?![0-9])"
_ID15 = r"(?<![0-9])[1-9][0-9]{7}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])[0-9]{3}(?![0-9])"
_MOBILE = r"(?<![0-9])(?:\+?86[- ]?)?1[3-9][0-9](?:[- ]?[0-9]{4}){2}(?![0-9])"
_FIXED = r"(?<![0-9])(?:0[1-9][0-9]{1,2}[- ]?)?[2-8][0-9]{6,7}(?![0-9])"
_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_PLATE = rf"[{_PROVINCES}][A-Z][·・ ]?[A-Z0-9]{{5,6}}(?![A-Z0-9])"

_PATTERNS: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("id_number", re.compile(_ID), "[身份证号]"),
    ("id_number", re.compile(_ID15), "[身份证号]"),
    ("phone", re.compile(_MOBILE), "[电话]"),
    ("plate", re.compile(_PLATE), "[车牌]"),
    ("phone", re.compile(_FIXED), "[电话]"),
)
_HONORIFICS = ("先生", "女士", "同志", "师傅", "老师")


@dataclass(frozen=True)
class Removal:
    kind: str  # phone, id_number, plate, name
    text: str  # what was removed
    start: int  # where its replacement starts in the redacted text
    end: int


@dataclass(frozen=True)
class Redacted:
    text: str
    removals: tuple[Removal, ...]


def _name_patterns(name: str | None) -> list[re.Pattern[str]]:
    name = (name or "").strip()
    if not name:
        return []
    patterns = [re.compile(re.escape(name))]
    if 2 <= len(name) <= 4 and all("\u4e00" <= ch <= "\u9fff" for ch in name):
        patterns.append(re.compile(re.escape(name[0]) + f"(?:{'|'.join(_HONORIFICS)})"))
    return patterns


def redact(text: str, citizen_name: str | None = None) -> Redacted:
    """`text` with the citizen's details replaced by placeholders, and what was removed."""
    spans: list[tuple[int, int, str, str]] = []  # start, end, kind, placeholder

    def free(start: int, end: int) -> bool:
        return all(end <= s or start >= e for s, e, _, _ in spans)

    for pattern in _name_patterns(citizen_name):
        spans += [(m.start(), m.end(), "name", "某某") for m in pattern.finditer(text) if free(m.start(), m.end())]
    for kind, pattern, placeholder in _PATTERNS:
        spans += [(m.start(), m.end(), kind, placeholder) for m in pattern.finditer(text)
                  if free(m.start(), m.end())]
    spans.sort()
    out: list[str] = []
    removals: list[Removal] = []
    at = 0
    length = 0
    for start, end, kind, placeholder in spans:
        out.append(text[at:start])
        length += start - at
        out.append(placeholder)
        removals.append(Removal(kind, text[start:end], length, length + len(placeholder)))
        length += len(placeholder)
        at = end
    out.append(text[at:])
    return Redacted("".join(out), tuple(removals))
