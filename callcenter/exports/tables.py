"""Rows of the store as a table to export: Chinese headers, labels from the vocabulary,
times as the pages show them, and every text cell guarded against formula injection.

A caller's name or a ticket's summary is whatever a citizen said or an operator typed:
a spreadsheet opening `=HYPERLINK("http://x")` or `-2+3+cmd|' /C calc'!A0` would run it
as a formula. OWASP's rule: a cell that begins with =, +, -, @, a tab or a carriage return
gets a leading apostrophe, so that it is shown as the text it is. Numbers are written as
numbers (a negative count of working days is a number, not a formula).

A confidential ticket (保密) leaves no trace of its citizen in a file: its name, numbers
and address are blank and the row says 保密; so are the caller's number and name of
every call on such a ticket in the call log's export."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from callcenter.tickets.confidential import withheld
from callcenter.vocabulary import (
    CATEGORY_LABELS,
    CHANNEL_LABELS,
    CONFIDENTIAL_LABEL,
    OUTCOME_LABELS,
    RECORDING_STATUS_LABELS,
    SATISFACTION_LABELS,
    SHIFT_LABELS,
    TICKET_STATE_LABELS,
)

# An export is one read of the store and one file in memory: past this the list must be narrowed.
MAX_ROWS = 50_000

Cell = str | int | float | None
Row = Mapping[str, object]

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def guard(value: str) -> str:
    """Text that no spreadsheet takes for a formula."""
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


@dataclass(frozen=True)
class Column:
    header: str
    width: int  # in characters, for the XLSX column (a CJK character counts two)
    value: Callable[[Row], Cell]


@dataclass(frozen=True)
class Table:
    title: str  # the sheet's name
    headers: tuple[str, ...]
    widths: tuple[int, ...]
    rows: list[tuple[Cell, ...]]  # text cells already guarded


def _cell(value: Cell) -> Cell:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, str):
        return guard(value)
    return value


def table(title: str, columns: Sequence[Column], rows: Iterable[Row]) -> Table:
    return Table(title, tuple(c.header for c in columns), tuple(c.width for c in columns),
                 [tuple(_cell(c.value(row)) for c in columns) for row in rows])


# ---------------------------------------------------------------- how a value is shown


def _text(key: str) -> Callable[[Row], Cell]:
    def value(row: Row) -> Cell:
        found = row.get(key)
        return "" if found is None else str(found)

    return value


def _number(key: str) -> Callable[[Row], Cell]:
    def value(row: Row) -> Cell:
        found = row.get(key)
        return found if isinstance(found, int | float) and not isinstance(found, bool) else None

    return value


def _time(key: str) -> Callable[[Row], Cell]:
    # Stored as local ISO-8601 with offset ("2026-11-28T21:35:12+08:00"): shown as the pages do.
    def value(row: Row) -> Cell:
        found = row.get(key)
        return str(found)[:19].replace("T", " ") if found else ""

    return value


def _label(key: str, labels: Mapping[str, str], missing: str = "") -> Callable[[Row], Cell]:
    def value(row: Row) -> Cell:
        found = row.get(key)
        if found is None or found == "":
            return missing
        return labels.get(str(found), str(found))

    return value


def _yes_no(key: str) -> Callable[[Row], Cell]:
    return lambda row: "是" if row.get(key) else "否"


def _confidential(row: Row) -> Cell:
    return CONFIDENTIAL_LABEL if row.get("confidential") else ""


def _deadline(row: Row) -> Cell:
    # An estimated deadline (a year without the State Council's holiday notice) is marked *, as on the terminal.
    deadline = str(row.get("deadline") or "")
    return deadline + "*" if deadline and row.get("deadline_estimated") else deadline


def _labels(mapping: Mapping[Any, str]) -> dict[str, str]:
    return {str(key): label for key, label in mapping.items()}


TICKET_COLUMNS = (
    Column("工单编号", 10, _number("ticket_id")),
    Column("创建时间", 20, _time("created")),
    Column("渠道", 8, _label("channel", _labels(CHANNEL_LABELS))),
    Column("分类", 10, _label("category", _labels(CATEGORY_LABELS))),
    Column("诉求内容", 60, _text("summary")),
    Column("承办单位", 20, _text("unit_name")),
    Column("状态", 10, _label("state", _labels(TICKET_STATE_LABELS))),
    Column("答复期限", 12, _deadline),
    Column("剩余工作日", 12, _number("working_days_left")),
    Column("是否超期", 10, _yes_no("overdue")),
    Column("督办次数", 10, _number("urge_count")),
    Column("保密", 6, _confidential),
    Column("市民姓名", 12, _text("citizen_name")),
    Column("联系电话", 16, _text("contact_number")),
    Column("地址", 30, _text("address")),
    Column("答复内容", 60, _text("reply")),
    Column("答复时间", 20, _time("replied")),
    Column("满意度", 10, _label("satisfaction", _labels(SATISFACTION_LABELS))),
)

CALL_COLUMNS = (
    Column("来电时间", 20, _time("arrived")),
    Column("来电号码", 16, _text("caller_number")),
    Column("来电人", 14, _text("caller_name")),
    Column("结果", 12, _label("outcome", _labels(OUTCOME_LABELS), "进行中")),
    Column("分类", 10, _label("category", _labels(CATEGORY_LABELS), "未分类")),
    Column("坐席", 8, _text("seat")),
    Column("班次", 8, _label("shift", SHIFT_LABELS)),
    Column("话务员工号", 10, _text("operator")),
    Column("等待秒数", 10, _number("wait_seconds")),
    Column("通话秒数", 10, _number("talk_seconds")),
    Column("挂断原因", 24, _text("hangup_cause")),
    Column("录音", 22, _label("recording_status", _labels(RECORDING_STATUS_LABELS))),
    Column("骚扰标记", 10, _yes_no("nuisance")),
    Column("保密", 6, _confidential),
)


def ticket_table(rows: Iterable[Row]) -> Table:
    """The ticket list (as `TicketService.listing` returns it) as a table."""
    return table("工单", TICKET_COLUMNS, (withheld(dict(row)) for row in rows))


def call_table(rows: Iterable[Row], confidential_calls: Collection[str] = ()) -> Table:
    """The call log (as `CallRepository.search` returns it) as a table; the calls on
    confidential tickets (`confidential_calls`) without their caller."""

    def shown(row: Row) -> Row:
        if str(row.get("call_id")) not in confidential_calls:
            return row
        return {**row, "caller_number": None, "caller_name": None, "confidential": 1}

    return table("通话记录", CALL_COLUMNS, (shown(row) for row in rows))
