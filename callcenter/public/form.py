"""The mailbox form's fields checked (pure): what the citizen typed, trimmed, or the
message for each field that cannot be taken; the text they typed is always given back."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from callcenter.public import vocabulary as words
from callcenter.vocabulary import CATEGORY_LABELS, CATEGORY_ORDER, Category

# The problem is kept whole up to this many characters (100 KB of Chinese is about 34,000).
PROBLEM_MAX_CHARS = 100_000
NAME_MAX_CHARS = 50
PLACE_MAX_CHARS = 200
PHONE = re.compile(r"\+?[0-9]{5,20}")
# A field no person sees (hidden by the stylesheet): only a robot fills it in.
HONEYPOT = "website"

# (value, label) in the order the form lists them.
CATEGORY_CHOICES: tuple[tuple[str, str], ...] = tuple((c.value, CATEGORY_LABELS[c]) for c in CATEGORY_ORDER)


@dataclass(frozen=True)
class MailboxForm:
    """What the citizen typed (trimmed), the hidden field, and a message per field refused."""

    name: str
    phone: str
    problem: str
    category: str
    place: str
    honeypot: str
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def empty(cls) -> MailboxForm:
        return cls("", "", "", "", "", "")

    @property
    def valid(self) -> bool:
        return not self.errors

    @property
    def robot(self) -> bool:
        return bool(self.honeypot.strip())


def _text(fields: Mapping[str, str], key: str) -> str:
    value = fields.get(key, "")
    return value if isinstance(value, str) else ""


def read_form(fields: Mapping[str, str]) -> MailboxForm:
    name = " ".join(_text(fields, "name").split())
    phone = "".join(_text(fields, "phone").split()).replace("-", "")
    problem = _text(fields, "problem").replace("\r\n", "\n").strip()
    category = _text(fields, "category").strip()
    place = " ".join(_text(fields, "place").split())
    errors: dict[str, str] = {}
    if not name:
        errors["name"] = words.NEEDS_NAME
    elif len(name) > NAME_MAX_CHARS:
        errors["name"] = words.NAME_TOO_LONG.format(limit=NAME_MAX_CHARS)
    if not phone:
        errors["phone"] = words.NEEDS_PHONE
    elif not PHONE.fullmatch(phone):
        errors["phone"] = words.BAD_PHONE
    if not problem:
        errors["problem"] = words.NEEDS_PROBLEM
    elif len(problem) > PROBLEM_MAX_CHARS:
        errors["problem"] = words.PROBLEM_TOO_LONG.format(limit=PROBLEM_MAX_CHARS, length=len(problem))
    if category and category not in {c.value for c in Category}:
        errors["category"] = words.BAD_CATEGORY
    if len(place) > PLACE_MAX_CHARS:
        errors["place"] = words.PLACE_TOO_LONG.format(limit=PLACE_MAX_CHARS)
    return MailboxForm(name, phone, problem, category, place, _text(fields, HONEYPOT), errors)
