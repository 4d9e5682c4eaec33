"""What a demo period must come out as: the seed's shapes, a period's defaults, `--tickets`
parsed, and a year split into months whose targets add up to the year's."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from fractions import Fraction

from callcenter.errors import HotlineError
from callcenter.reports.periods import Period
from callcenter.vocabulary import Category


class DemoError(HotlineError):
    """The demo cannot write what was asked: the message says why."""


# The order of the ticket counts (`--tickets H,C,Q,S,O`, the shapes): the seed's table's.
TICKET_CATEGORIES: tuple[Category, ...] = (
    Category.HELP, Category.COMPLAINT, Category.CONSULTATION, Category.SUGGESTION, Category.OTHER,
)


def days_in_month(year: int, month: int) -> int:
    return (date(year + month // 12, month % 12 + 1, 1) - date(year, month, 1)).days


def split_int(total: int, weights: Sequence[float | int]) -> list[int]:
    """`total` split in proportion to `weights`, whole numbers that add up (largest remainder)."""
    whole = sum(Fraction(w) for w in weights)
    if total == 0 or whole == 0:
        return [0] * len(weights)
    exact = [Fraction(total) * Fraction(w) / whole for w in weights]
    parts = [math.floor(x) for x in exact]
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - parts[i]), i))
    for i in order[: total - sum(parts)]:
        parts[i] += 1
    return parts


@dataclass(frozen=True)
class Shape:
    kind: str  # "monthly" or "yearly"
    calls: int
    completed: int
    tickets: tuple[int, ...]  # per TICKET_CATEGORIES
    about: str


SEED_JANUARY = (19, 21, 6, 7, 8)  # the seed's January tickets per category
SHAPES: dict[str, Shape] = {
    "jan-seed": Shape("monthly", 5734, 5704, SEED_JANUARY,
                      "the seed's January: 5734 calls, 5704 completed, 61 tickets (19/21/6/7/8)"),
    "year-2008": Shape("yearly", 45291, 44551, tuple(split_int(1758, SEED_JANUARY)),
                       "the seed's 2008: 45291 calls, 44551 completed, 1758 tickets"),
}
# Seasonal weight of each month in a year (heating-coal complaints in winter, a quiet February).
MONTH_WEIGHTS = (1.08, 0.85, 0.95, 0.97, 1.0, 1.0, 1.02, 1.02, 0.98, 0.97, 1.05, 1.1)


@dataclass(frozen=True)
class MonthTarget:
    year: int
    month: int
    calls: int
    completed: int
    tickets: tuple[int, ...]  # per TICKET_CATEGORIES


def month_targets(period: Period, calls: int, completed: int, tickets: Sequence[int]) -> list[MonthTarget]:
    """The per-month targets that add up to the period's: a month as asked; a year split
    by days and season, with the calls in progress on the later months' tickets."""
    if period.kind == "monthly":
        return [MonthTarget(period.start.year, period.start.month, calls, completed, tuple(tickets))]
    year = period.start.year
    days = [days_in_month(year, m) for m in range(1, 13)]
    month_calls = split_int(calls, [d * w for d, w in zip(days, MONTH_WEIGHTS, strict=True)])
    per_category = [split_int(n, days) for n in tickets]
    month_tickets = [tuple(per_category[c][m] for c in range(len(tickets))) for m in range(12)]
    in_progress = split_int(calls - completed, [sum(month_tickets[m]) * (m + 1) ** 2 for m in range(12)])
    return [MonthTarget(year, m + 1, month_calls[m], month_calls[m] - in_progress[m], month_tickets[m])
            for m in range(12)]


def parse_tickets(text: str) -> tuple[int, ...]:
    """'19,21,6,7,8' (help, complaint, consultation, suggestion, other) or a total, split
    like the seed's January."""
    parts = [p.strip() for p in text.split(",")]
    if not all(p.isdigit() for p in parts) or len(parts) not in (1, len(TICKET_CATEGORIES)):
        raise DemoError(f"--tickets {text!r}: give five counts (help,complaint,consultation,suggestion,other), "
                        "e.g. 19,21,6,7,8, or one total")
    numbers = [int(p) for p in parts]
    return tuple(split_int(numbers[0], SEED_JANUARY)) if len(numbers) == 1 else tuple(numbers)


def default_targets(period: Period) -> tuple[int, int, tuple[int, ...]]:
    """About 150 calls a day, 99.5% completed, 146 tickets a month (the seed's 2008)."""
    months = 1 if period.kind == "monthly" else 12
    calls = 150 * period.days
    return calls, calls - round(calls * 0.005), tuple(split_int(146 * months, SEED_JANUARY))
