"""Checking values before they are queued for the store thread: a bad value fails in the
caller's code, not later inside a batch where it would cost the other writes a retry."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum


class Kind(StrEnum):
    TEXT = "text"
    TIME = "time"  # ISO-8601 with offset, stored cut to the second
    INT = "int"
    REAL = "real"


Columns = Mapping[str, Kind]

_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_text(value: str) -> str:
    # A lone surrogate (a JSON "\udcxx" escape) cannot be encoded for SQLite: it would
    # fail the whole batch later, so it becomes U+FFFD like any other undecodable byte.
    return _SURROGATE.sub("\ufffd", value)


@functools.lru_cache(maxsize=512)
def iso_second(value: str) -> str:
    """An ISO-8601 time with offset (Asterisk's "2026-11-28T21:35:12.345+0800" too) as
    "2026-11-28T21:35:12+08:00", cut to the second; ValueError without an offset.
    Cached: a busy second stamps dozens of a call's steps alike (errors are not cached)."""
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError(f"time {value!r} has no UTC offset")
    return parsed.replace(microsecond=0).isoformat()


def checked(table: str, columns: Columns, fields: Mapping[str, object]) -> dict[str, object]:
    """`fields` with every value checked against its column's kind (TypeError, ValueError)."""
    unknown = sorted(set(fields) - set(columns))
    if unknown:
        raise ValueError(f"unknown {table} column(s): {', '.join(unknown)}; known: {', '.join(columns)}")
    out: dict[str, object] = {}
    for name, value in fields.items():
        kind = columns[name]
        if value is None:
            out[name] = None
        elif kind is Kind.TEXT:
            if not isinstance(value, str):
                raise TypeError(f"{table}.{name} must be str or None, not {type(value).__name__}")
            out[name] = clean_text(value)
        elif kind is Kind.TIME:
            if not isinstance(value, str):
                raise TypeError(f"{table}.{name} must be an ISO-8601 str or None, not {type(value).__name__}")
            out[name] = iso_second(value)
        elif kind is Kind.INT:
            if not isinstance(value, int):
                raise TypeError(f"{table}.{name} must be int or None, not {type(value).__name__}")
            out[name] = int(value)
        else:
            if not isinstance(value, int | float):
                raise TypeError(f"{table}.{name} must be a number or None, not {type(value).__name__}")
            out[name] = float(value)
    return out
