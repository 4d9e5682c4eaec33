"""`hotline demo seed`: a realistic month (or year) of calls and tickets, for demos and tests.

Realistic: calls arrive around the clock on a day curve (quiet at night, peaks in the
morning and afternoon, fewer on holidays and weekends), are answered by the two seats of
the shift on duty (seat1-2 00:00-08:00, seat3-4 08:00-16:00, seat5-6 16:00-24:00), with
IVR categories, queue waits, talk times, abandons in the IVR, the queue and while
ringing, repeat callers and nuisance bursts like the seed's child (six calls in five
minutes). Tickets are made from answered calls of a fitting category, forwarded to a
unit of the directory, replied within (mostly) 7 working days, called back with a
satisfaction; duplicates are merged (several calls on one ticket).

Exact: the accepted calls, the completed ones and the tickets per category are what was
asked (`--calls 5734 --completed 5704 --tickets 19,21,6,7,8`, or `--shape jan-seed`):
the in-progress calls are exactly those on the latest tickets, left open, forwarded or
reopened. Deterministic: the same `--seed` writes the same rows.

Fast: rows are made in Python and written in one transaction on the store thread
(`Store.transaction`), one `executemany` a table.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import math
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

from sqlite_utils import Database

from callcenter.clock import iso_local
from callcenter.errors import HotlineError
from callcenter.reports import Period, parse_month, parse_year
from callcenter.settings import Settings
from callcenter.store import Store
from callcenter.tickets import (
    Category,
    Directory,
    Satisfaction,
    State,
    deadline_from,
    load_directory,
    units_file,
)
from callcenter.workdays import add_working_days, is_working_day


class DemoError(HotlineError):
    """The demo cannot write what was asked: the message says why."""


def _f(value: object) -> float:
    return float(value) if isinstance(value, int | float) else 0.0


def _i(value: object) -> int:
    return int(value) if isinstance(value, int | float) else 0


def _days_in_month(year: int, month: int) -> int:
    return (date(year + month // 12, month % 12 + 1, 1) - date(year, month, 1)).days


CATEGORY_ORDER = (Category.HELP, Category.COMPLAINT, Category.CONSULTATION, Category.SUGGESTION, Category.OTHER)


@dataclass(frozen=True)
class Shape:
    kind: str  # "monthly" or "yearly"
    calls: int
    completed: int
    tickets: tuple[int, ...]  # per CATEGORY_ORDER
    about: str


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


SEED_JANUARY = (19, 21, 6, 7, 8)  # the seed's January tickets per category
SHAPES: dict[str, Shape] = {
    "jan-seed": Shape("monthly", 5734, 5704, SEED_JANUARY,
                      "the seed's January: 5734 calls, 5704 completed, 61 tickets (19/21/6/7/8)"),
    "year-2008": Shape("yearly", 45291, 44551, tuple(split_int(1758, SEED_JANUARY)),
                       "the seed's 2008: 45291 calls, 44551 completed, 1758 tickets"),
}

# Calls per hour of the day (relative), 00h..23h: quiet at night, peaks 10h and 15h.
HOUR_WEIGHTS = (0.6, 0.4, 0.3, 0.25, 0.25, 0.35, 0.8, 1.8, 3.5, 5.5, 6.2, 5.8,
                4.2, 3.8, 5.0, 5.6, 5.4, 4.6, 3.6, 3.4, 3.2, 2.6, 1.8, 1.1)
# The default roster: two seats a shift, three shifts (两人一班，一天三班倒).
SHIFTS = ((0, "night", ("seat1", "seat2")), (8, "day", ("seat3", "seat4")), (16, "evening", ("seat5", "seat6")))
# What callers press in the IVR menu (None: 0 or nothing, straight to an operator).
IVR_CHOICES: tuple[tuple[str | None, float], ...] = (
    ("consultation", 0.55), ("complaint", 0.14), ("help", 0.12), ("suggestion", 0.05), (None, 0.14))
TALK_MEDIAN = {"consultation": 130.0, "complaint": 270.0, "help": 230.0, "suggestion": 180.0, None: 160.0}
# Seasonal weight of each month in a year (heating-coal complaints in winter, a quiet February).
MONTH_WEIGHTS = (1.08, 0.85, 0.95, 0.97, 1.0, 1.0, 1.02, 1.02, 0.98, 0.97, 1.05, 1.1)
MOBILE = ("134", "135", "136", "137", "138", "139", "150", "151", "152", "158", "159", "130", "131", "132", "189")

COUNTIES: dict[str, tuple[str, tuple[str, ...], float]] = {
    "zezhou": ("泽州县", ("高都镇", "柳口镇", "巴公镇", "北石店镇", "金村镇", "南村镇"), 0.30),
    "chengqu": ("城区", ("东街街道", "西街街道", "钟家庄街道", "西上庄街道"), 0.20),
    "gaoping": ("高平市", ("米山镇", "三甲镇", "陈区镇", "河西镇"), 0.15),
    "yangcheng": ("阳城县", ("凤城镇", "北留镇", "润城镇", "町店镇"), 0.12),
    "qinshui": ("沁水县", ("十里乡", "龙港镇", "嘉峰镇", "郑村镇"), 0.10),
    "lingchuan": ("陵川县", ("崇文镇", "礼义镇", "附城镇"), 0.08),
    "development-zone": ("开发区", ("金匠街道", "北石店街道"), 0.05),
}
VILLAGES = ("司家河", "东沟", "南庄", "西坡", "北岭", "后河", "上村", "下庄", "石门", "马村")

# (category, unit code or "county", summary); {county}, {town}, {village} are filled in.
TEMPLATES: tuple[tuple[Category, str, str], ...] = (
    (Category.HELP, "county", "{town}{village}村民反映吃水困难，请求解决饮水问题"),
    (Category.HELP, "county", "{county}{town}居民反映冬季取暖平价煤至今未供应，请求协调"),
    (Category.HELP, "civil-affairs", "{county}{town}困难群众申请低保一直未批，请求帮助"),
    (Category.HELP, "human-resources", "来电人在{county}务工被拖欠工资，请求帮助追讨"),
    (Category.HELP, "water", "{county}{town}停水三天，请求尽快恢复供水"),
    (Category.COMPLAINT, "education", "投诉{county}某中学乱收费"),
    (Category.COMPLAINT, "county", "举报{town}{village}附近煤矿私挖乱采，存在安全隐患"),
    (Category.COMPLAINT, "transport", "投诉运煤车绕站逃费、超载运输，损坏{town}道路"),
    (Category.COMPLAINT, "ecology", "投诉{county}某企业夜间排放烟尘，污染严重"),
    (Category.COMPLAINT, "urban-management", "投诉城区某路段夜间施工噪声超标扰民"),
    (Category.COMPLAINT, "county", "反映{town}农村换届选举中存在拉票贿选问题"),
    (Category.COMPLAINT, "public-security", "反映{town}中学周边有学生团伙劫持学生要钱"),
    (Category.COMPLAINT, "natural-resources", "举报{town}{village}农村违法占地建房"),
    (Category.COMPLAINT, "county", "反映{county}房屋拆迁补偿不到位"),
    (Category.CONSULTATION, "human-resources", "咨询养老保险缴费年限及退休手续办理程序"),
    (Category.CONSULTATION, "civil-affairs", "咨询农村低保申请条件和办理流程"),
    (Category.CONSULTATION, "education", "咨询外地户籍子女在{county}入学所需手续"),
    (Category.CONSULTATION, "human-resources", "咨询教师抚恤金发放标准"),
    (Category.CONSULTATION, "housing", "咨询经济适用房申请条件"),
    (Category.CONSULTATION, "market-regulation", "咨询个体工商户营业执照办理流程"),
    (Category.SUGGESTION, "transport", "建议在{county}{town}增设公交站点，方便群众出行"),
    (Category.SUGGESTION, "urban-management", "建议在城区主要街道增设垃圾箱并及时清运"),
    (Category.SUGGESTION, "housing", "建议对城区老旧小区进行改造"),
    (Category.SUGGESTION, "county", "建议在{town}{village}修建乡村道路路灯"),
    (Category.OTHER, "housing", "反映城区道路破损，要求尽快维修"),
    (Category.OTHER, "urban-management", "反映小区周边垃圾乱堆乱放，长期无人清理"),
    (Category.OTHER, "urban-management", "反映{county}城区乱搭乱建"),
    (Category.OTHER, "state-assets", "反映某国有企业改制中国有资产流失"),
    (Category.OTHER, "county", "反映{town}集体土地补偿款分配不公"),
)
REPLIES = (
    "经核实，反映情况属实，已责成相关部门限期整改，问题已解决。",
    "已派工作人员实地调查，相关问题已协调处理，并已向来电人作了解释。",
    "经调查，反映问题部分属实，已制定解决方案，正在组织实施。",
    "已按政策规定为来电人办理相关手续。",
    "已约谈相关单位负责人，督促其落实整改措施。",
)


@dataclass
class DemoData:
    calls: list[dict[str, object]] = field(default_factory=list)
    tickets: list[dict[str, object]] = field(default_factory=list)  # "ticket_id": 1-based within the data
    links: list[dict[str, object]] = field(default_factory=list)
    events: list[dict[str, object]] = field(default_factory=list)
    callbacks: list[dict[str, object]] = field(default_factory=list)


@dataclass(frozen=True)
class MonthTarget:
    year: int
    month: int
    calls: int
    completed: int
    tickets: tuple[int, ...]  # per CATEGORY_ORDER


# -------------------------------------------------------------------------- calls


class _Maker:
    """Makes the rows of one run; every random choice comes from one seeded generator."""

    def __init__(self, rng: random.Random, zone: ZoneInfo, directory: Directory) -> None:
        self.rng = rng
        self.zone = zone
        self.directory = directory
        self.data = DemoData()
        self.seq = 0
        self.regulars: list[str] = []  # numbers that call again
        self._offsets: dict[int, tuple[int, str]] = {}
        self._dates: dict[int, str] = {}

    def _local(self, epoch: float) -> tuple[int, str]:
        """Local seconds since the epoch and the offset text; the offset is looked up once
        an hour (zones change offset on the hour), not once a timestamp."""
        whole = int(epoch)
        found = self._offsets.get(whole // 3600)
        if found is None:
            text = iso_local(whole, self.zone)[19:]
            sign = -1 if text[0] == "-" else 1
            found = (sign * (int(text[1:3]) * 3600 + int(text[4:6]) * 60), text)
            self._offsets[whole // 3600] = found
        return whole + found[0], found[1]

    def iso(self, epoch: float) -> str:
        """The same text as `clock.iso_local`, a few times faster (a year is 250,000 stamps)."""
        local, offset = self._local(epoch)
        day, second = divmod(local, 86400)
        prefix = self._dates.get(day)
        if prefix is None:
            prefix = self._dates[day] = date.fromordinal(day + 719163).isoformat()
        hour, rest = divmod(second, 3600)
        return f"{prefix}T{hour:02d}:{rest // 60:02d}:{rest % 60:02d}{offset}"

    def hour(self, epoch: float) -> int:
        return self._local(epoch)[0] % 86400 // 3600

    def number(self) -> str:
        rng = self.rng
        if self.regulars and rng.random() < 0.12:
            return rng.choice(self.regulars)
        if rng.random() < 0.3:
            number = "0356" + "".join(rng.choice("23456789") for _ in range(1)) + f"{rng.randrange(10**6):06d}"
        else:
            number = rng.choice(MOBILE) + f"{rng.randrange(10**8):08d}"
        if rng.random() < 0.05:
            self.regulars.append(number)
        return number

    def arrivals(self, year: int, month: int, count: int) -> list[int]:
        """`count` arrival times (epoch seconds) on the day and hour curves, sorted."""
        first = date(year, month, 1)
        days = [first + timedelta(days=n) for n in range(_days_in_month(year, month))]
        day_weights = [1.0 if is_working_day(d) else 0.8 for d in days]
        starts = [int(datetime(d.year, d.month, d.day, tzinfo=self.zone).timestamp()) for d in days]
        picked_days = self.rng.choices(range(len(days)), weights=day_weights, k=count)
        hours = self.rng.choices(range(24), weights=HOUR_WEIGHTS, k=count)
        return sorted(starts[d] + 3600 * h + self.rng.randrange(3600) for d, h in zip(picked_days, hours, strict=True))

    def shift(self, epoch: float) -> tuple[str, str]:
        hour = self.hour(epoch)
        _, name, seats = max((s for s in SHIFTS if s[0] <= hour), key=lambda s: s[0])
        return name, self.rng.choice(seats)

    def call(self, arrived: int, outcome: str, category: str | None, number: str | None = None,
             nuisance: bool = False, talk: int | None = None) -> dict[str, object]:
        rng = self.rng
        busy = HOUR_WEIGHTS[self.hour(arrived)] / max(HOUR_WEIGHTS)
        row: dict[str, object] = {
            "call_id": "", "caller_number": number or self.number(), "caller_name": None,
            "arrived": self.iso(arrived), "answered": None, "queued": None, "seat_answered": None, "ended": None,
            "arrived_epoch": float(arrived), "wait_seconds": None, "talk_seconds": None, "total_seconds": None,
            "outcome": outcome, "hangup_cause": "16 Normal Clearing", "seat": None, "shift": None,
            "category": category, "nuisance": int(nuisance), "recording_path": None, "recording_seconds": None,
            "queue_seq": None, "priority": 0, "state": "done",
        }
        if outcome == "failed":
            row.update(ended=self.iso(arrived + 1), total_seconds=1, hangup_cause="34 No circuit/channel available")
            return row
        answered = arrived + 1
        row["answered"] = self.iso(answered)
        if outcome == "abandoned_ivr":
            ended = answered + rng.randint(3, 14)
            row.update(ended=self.iso(ended), total_seconds=ended - arrived, category=None)
            return row
        queued = answered + rng.randint(8, 14)  # greeting and menu
        row["queued"] = self.iso(queued)
        shift, seat = self.shift(queued)
        if outcome == "abandoned_queue":
            wait = int(rng.expovariate(1 / 45)) + 5
            row.update(ended=self.iso(queued + wait), wait_seconds=wait, total_seconds=queued + wait - arrived)
            return row
        if outcome == "abandoned_ringing":
            wait = rng.randint(3, 15)
            row.update(ended=self.iso(queued + wait), wait_seconds=wait, total_seconds=queued + wait - arrived,
                       seat=seat, shift=shift)
            return row
        wait = min(600, int(rng.expovariate(1 / (3 + 14 * busy))))
        if talk is None:
            talk = max(15, int(rng.lognormvariate(math.log(TALK_MEDIAN[category]), 0.55)))
        seat_answered = queued + wait
        ended = seat_answered + talk
        row.update(seat_answered=self.iso(seat_answered), ended=self.iso(ended), wait_seconds=wait,
                   talk_seconds=talk, total_seconds=ended - arrived, seat=seat, shift=shift)
        return row

    def month_calls(self, target: MonthTarget, abandon_rate: float) -> list[dict[str, object]]:
        rng = self.rng
        rows: list[dict[str, object]] = []
        # Nuisance bursts: a number that calls again and again within minutes, like the
        # seed's child (11:49 to 11:54, six calls); from the third call on it is flagged.
        bursts = target.calls // 400
        sizes = [6] + [rng.randint(3, 6) for _ in range(bursts - 1)] if bursts else []
        while sum(sizes) > target.calls:
            sizes.pop()
        days = _days_in_month(target.year, target.month)
        for n, size in enumerate(sizes):
            day = rng.randrange(days) + 1
            start = datetime(target.year, target.month, day, 11, 49, tzinfo=self.zone) if n == 0 else \
                datetime(target.year, target.month, day, rng.randint(8, 21), rng.randrange(60), tzinfo=self.zone)
            number = "0356" + f"{rng.randrange(2 * 10**6, 10**7):07d}"
            for k in range(size):
                at = int(start.timestamp()) + 60 * k + rng.randrange(30)
                rows.append(self.call(at, "answered", None, number, nuisance=k >= 2, talk=rng.randint(8, 40)))
        regular = target.calls - len(rows)
        ivr = self.rng.choices([c for c, _ in IVR_CHOICES], weights=[w for _, w in IVR_CHOICES], k=regular)
        for at, category in zip(self.arrivals(target.year, target.month, regular), ivr, strict=True):
            rows.append(self.call(at, "answered", category))
        abandoned = round(target.calls * abandon_rate / (1 - abandon_rate))
        kinds = rng.choices(("abandoned_ivr", "abandoned_queue", "abandoned_ringing"), weights=(25, 65, 10),
                            k=abandoned)
        failed = round(target.calls * 0.0015)
        lost = self.arrivals(target.year, target.month, abandoned + failed)
        for at, kind in zip(lost, [*kinds, *["failed"] * failed], strict=True):
            category = rng.choices([c for c, _ in IVR_CHOICES], weights=[w for _, w in IVR_CHOICES])[0]
            rows.append(self.call(at, kind, category))
        rows.sort(key=lambda r: _f(r["arrived_epoch"]))
        for row in rows:
            self.seq += 1
            row["call_id"] = f"demo-{_i(row['arrived_epoch'])}.{self.seq}"
        return rows


# ------------------------------------------------------------------------ tickets


@dataclass
class _Ticket:
    n: int
    category: Category
    primary: dict[str, object]
    created: int
    calls: list[dict[str, object]] = field(default_factory=list)
    active: bool = False


class _Life:
    """One ticket's history, written as the ticket's row, events and callbacks."""

    def __init__(self, maker: _Maker, ticket: _Ticket, unit_code: str, unit_name: str, summary: str) -> None:
        self.m = maker
        self.t = ticket
        wd = maker.directory.deadline_working_days
        deadline = deadline_from(ticket.created, maker.zone, wd)
        self.row: dict[str, object] = {
            "ticket_id": ticket.n, "created": maker.iso(ticket.created), "created_epoch": float(ticket.created),
            "category": str(ticket.category), "summary": summary, "unit": unit_code, "unit_name": unit_name,
            "state": str(State.OPEN), "state_since": maker.iso(ticket.created),
            "state_since_epoch": float(ticket.created), "operator": ticket.primary["seat"],
            "caller_number": ticket.primary["caller_number"], "deadline": deadline.day.isoformat(),
            "deadline_epoch": deadline.end_epoch, "deadline_estimated": int(deadline.estimated),
            "forwarded": None, "forwarded_epoch": None, "reply": None, "reply_by": None, "replied": None,
            "replied_epoch": None, "closed": None, "closed_epoch": None, "reopen_count": 0,
            "satisfaction": None, "callback_attempts": 0, "merged_into": None,
        }
        self.now = ticket.created
        self.event("created", State.OPEN, ticket.created, str(ticket.primary["seat"]),
                   {"unit": unit_code, "calls": [ticket.primary["call_id"]]})

    def event(self, kind: str, state: State, at: int, actor: str | None, data: dict[str, object] | None) -> None:
        self.m.data.events.append({
            "ticket_id": self.t.n, "at": self.m.iso(at), "at_epoch": float(at), "kind": kind, "state": str(state),
            "actor": actor, "data": None if data is None else json.dumps(data, ensure_ascii=False),
        })
        if str(self.row["state"]) != str(state):
            self.row.update(state=str(state), state_since=self.m.iso(at), state_since_epoch=float(at))
        self.now = at

    def on_working_day(self, after: int, working_days: int, first_hour: int = 9, last_hour: int = 17) -> int:
        day = datetime.fromtimestamp(after, self.m.zone).date()
        target = add_working_days(day, working_days).day
        at = int(datetime(target.year, target.month, target.day, first_hour, tzinfo=self.m.zone).timestamp())
        return max(after + 600, at + self.m.rng.randrange((last_hour - first_hour) * 3600))

    def forward(self) -> None:
        hour = datetime.fromtimestamp(self.now, self.m.zone).hour
        # Forwarded the same day when it comes in office hours, otherwise the next
        # working morning (the seed: "第二天上午11时 ... 分别转至阳城、沁水、泽州县政府").
        at = self.now + self.m.rng.randint(1800, 3 * 3600) if 8 <= hour < 15 else \
            self.on_working_day(self.now, 1, 9, 12)
        self.row.update(forwarded=self.m.iso(at), forwarded_epoch=float(at))
        self.event("forwarded", State.FORWARDED, at, "office", {"unit": self.row["unit"]})

    def reply(self, working_days: int) -> None:
        at = self.on_working_day(_i(self.row["created_epoch"]), working_days)
        at = max(at, self.now + 3600)
        text = str(self.row["unit_name"]) + "答复：" + self.m.rng.choice(REPLIES)
        self.row.update(reply=text, reply_by=self.row["unit_name"], replied=self.m.iso(at), replied_epoch=float(at))
        late = at >= _f(self.row["deadline_epoch"])
        self.event("replied", State.REPLIED, at, None,
                   {"reply": text, "by": self.row["unit_name"], "working_days": working_days, "late": late})

    def callback(self, result: str, satisfaction: Satisfaction | None, state: State) -> None:
        at = self.on_working_day(self.now, 1, 9, 18)
        self.m.data.callbacks.append({
            "ticket_id": self.t.n, "at": self.m.iso(at), "at_epoch": float(at), "result": result,
            "satisfaction": None if satisfaction is None else str(satisfaction), "call_id": None,
            "actor": self.row["operator"], "note": None,
        })
        self.row["callback_attempts"] = _i(self.row["callback_attempts"]) + 1
        if satisfaction is not None:
            self.row["satisfaction"] = str(satisfaction)
        self.event("callback", state, at, str(self.row["operator"]),
                   {"result": result, "satisfaction": None if satisfaction is None else str(satisfaction)})
        if state is State.CLOSED:
            self.row.update(closed=self.m.iso(at), closed_epoch=float(at))
        if state is State.REOPENED:
            deadline = deadline_from(at, self.m.zone, self.m.directory.deadline_working_days)
            self.row.update(deadline=deadline.day.isoformat(), deadline_epoch=deadline.end_epoch,
                            deadline_estimated=int(deadline.estimated),
                            reopen_count=_i(self.row["reopen_count"]) + 1)

    def reached(self, then: State, satisfaction: Satisfaction) -> None:
        rng = self.m.rng
        while rng.random() < 0.2 and _i(self.row["callback_attempts"]) < 2:
            self.callback(rng.choice(("no_answer", "no_answer", "busy")), None, State.REPLIED)
        self.callback("reached", satisfaction, then)


def _reply_days(rng: random.Random) -> int:
    # Most units answer within the 7 working days; about one ticket in 16 is late.
    return rng.choices(range(1, 11), weights=(4, 8, 12, 14, 12, 8, 5, 2, 1.5, 1))[0]


def _pleased(rng: random.Random) -> Satisfaction:
    return rng.choices((Satisfaction.SATISFIED, Satisfaction.BASICALLY_SATISFIED), weights=(78, 22))[0]


def _unit_and_summary(maker: _Maker, category: Category) -> tuple[str, str, str]:
    rng = maker.rng
    _, spec, text = rng.choice([t for t in TEMPLATES if t[0] is category])
    codes = list(COUNTIES)
    county = rng.choices(codes, weights=[COUNTIES[c][2] for c in codes])[0]
    short, towns, _ = COUNTIES[county]
    summary = text.format(county=short, town=rng.choice(towns), village=rng.choice(VILLAGES))
    # "其中一半数量集中在各县（市、区）": about half go to the county-level government.
    local = spec == "county" or rng.random() < 0.3
    unit = maker.directory.get(county if local else spec)
    if unit is None or not unit.active:  # a directory without that unit: any active one
        unit = rng.choice([u for u in maker.directory.units if u.active])
    return unit.code, unit.name, summary


def _tickets(maker: _Maker, calls: list[dict[str, object]], target: MonthTarget, first_n: int) -> None:
    rng = maker.rng
    in_progress = target.calls - target.completed
    total = sum(target.tickets)
    eligible = [r for r in calls if r["outcome"] == "answered" and not r["nuisance"]]
    active_count = 0 if in_progress == 0 else min(total, max(1, math.ceil(in_progress / 2)))
    label = f"{target.year:04d}-{target.month:02d}"
    if in_progress and not total:
        raise DemoError(f"{label}: {in_progress} calls in progress need tickets to be in progress on (--tickets)")
    if total + (in_progress - active_count) > len(eligible):
        raise DemoError(f"{label}: {total} tickets and {in_progress} calls in progress need more answered calls "
                        f"than {len(eligible)} (raise --calls)")
    used: set[int] = set()
    pools: dict[object, list[int]] = {}
    for i, row in enumerate(eligible):
        pools.setdefault(row["category"], []).append(i)
    for pool in pools.values():
        rng.shuffle(pool)
    anyone = list(range(len(eligible)))
    rng.shuffle(anyone)
    wanted = {Category.HELP: "help", Category.COMPLAINT: "complaint", Category.CONSULTATION: "consultation",
              Category.SUGGESTION: "suggestion", Category.OTHER: None}

    def take(pool: list[int]) -> int | None:
        while pool:
            i = pool.pop()
            if i not in used:
                used.add(i)
                return i
        return None

    categories = [c for c, n in zip(CATEGORY_ORDER, target.tickets, strict=True) for _ in range(n)]
    rng.shuffle(categories)
    made: list[_Ticket] = []
    for category in categories:
        index = take(pools.get(wanted[category], []))
        if index is None:
            index = take(anyone)
        assert index is not None  # enough eligible calls was checked above
        primary = eligible[index]
        ended = int(datetime.fromisoformat(str(primary["ended"])).timestamp())
        made.append(_Ticket(0, category, primary, ended + rng.randint(60, 900), [primary]))
    made.sort(key=lambda t: (t.created, str(t.primary["call_id"])))
    for n, ticket in enumerate(made):
        ticket.n = first_n + n
    for ticket in made[len(made) - active_count:] if active_count else []:
        ticket.active = True

    times = [_f(r["arrived_epoch"]) for r in eligible]

    def extra_for(ticket: _Ticket) -> None:
        start = bisect.bisect_right(times, _f(ticket.primary["arrived_epoch"]))
        start += rng.randrange(40)
        for k in range(len(eligible)):
            i = (start + k) % len(eligible)
            if i not in used:
                used.add(i)
                ticket.calls.append(eligible[i])
                return
        raise DemoError(f"{label}: not enough answered calls to merge into tickets")

    active = [t for t in made if t.active]
    for index in rng.choices(range(len(active)), k=in_progress - active_count) if active else []:
        extra_for(active[index])
    for ticket in made:
        if not ticket.active and rng.random() < 0.12 and len(used) < len(eligible) - 2:
            for _ in range(rng.choice((1, 1, 2))):
                extra_for(ticket)

    for ticket in made:
        unit_code, unit_name, summary = _unit_and_summary(maker, ticket.category)
        life = _Life(maker, ticket, unit_code, unit_name, summary)
        for call in ticket.calls:
            ended = int(datetime.fromisoformat(str(call["ended"])).timestamp())
            at = max(ended + 120, ticket.created) if call is not ticket.primary else ticket.created
            maker.data.links.append({"call_id": call["call_id"], "ticket_id": ticket.n,
                                     "linked": maker.iso(at), "linked_epoch": float(at)})
        _live(life, rng, ticket.active)
        maker.data.tickets.append(life.row)


def _live(life: _Life, rng: random.Random, active: bool) -> None:
    """Play the ticket's history up to where it stands at the briefing."""
    if active:
        roll = rng.random()
        if roll < 0.15:
            return  # still open: being summarised and checked
        life.forward()
        if roll > 0.9:  # replied, the citizen dissatisfied: reopened, the unit works on it again
            life.reply(_reply_days(rng))
            life.reached(State.REOPENED, Satisfaction.DISSATISFIED)
        return
    life.forward()
    life.reply(_reply_days(rng))
    roll = rng.random()
    if roll < 0.75:
        life.reached(State.CLOSED, _pleased(rng))
    elif roll < 0.83:  # dissatisfied, reopened, replied again
        life.reached(State.REOPENED, Satisfaction.DISSATISFIED)
        life.reply(rng.randint(2, 5) + _reply_days(rng) // 3)
        if rng.random() < 0.5:
            life.reached(State.CLOSED, _pleased(rng))
    elif roll < 0.9:  # called, not reached yet
        life.callback(rng.choice(("no_answer", "busy")), None, State.REPLIED)


# --------------------------------------------------------------------------- plan


def month_targets(period: Period, calls: int, completed: int, tickets: Sequence[int]) -> list[MonthTarget]:
    """The per-month targets that add up to the period's: a month as asked; a year split
    by days and season, with the calls in progress on the later months' tickets."""
    if period.kind == "monthly":
        return [MonthTarget(period.start.year, period.start.month, calls, completed, tuple(tickets))]
    year = period.start.year
    days = [_days_in_month(year, m) for m in range(1, 13)]
    month_calls = split_int(calls, [d * w for d, w in zip(days, MONTH_WEIGHTS, strict=True)])
    per_category = [split_int(n, days) for n in tickets]
    month_tickets = [tuple(per_category[c][m] for c in range(len(tickets))) for m in range(12)]
    in_progress = split_int(calls - completed, [sum(month_tickets[m]) * (m + 1) ** 2 for m in range(12)])
    return [MonthTarget(year, m + 1, month_calls[m], month_calls[m] - in_progress[m], month_tickets[m])
            for m in range(12)]


def make_demo(period: Period, *, calls: int, completed: int, tickets: Sequence[int], zone: ZoneInfo,
              directory: Directory, seed: int = 12345, abandon_rate: float = 0.03) -> DemoData:
    """The rows of a demo period (nothing written). DemoError when the targets cannot be met."""
    if calls < 0 or completed < 0 or any(n < 0 for n in tickets):
        raise DemoError("counts cannot be negative")
    if completed > calls:
        raise DemoError(f"--completed {completed} is more than --calls {calls}")
    if len(tickets) != len(CATEGORY_ORDER):
        raise DemoError("--tickets takes five counts: help, complaint, consultation, suggestion, other")
    if not 0 <= abandon_rate < 0.9:
        raise DemoError(f"--abandon-rate must be from 0 to 0.9, got {abandon_rate}")
    maker = _Maker(random.Random(seed), zone, directory)
    for target in month_targets(period, calls, completed, tickets):
        rows = maker.month_calls(target, abandon_rate)
        maker.data.calls.extend(rows)
        _tickets(maker, rows, target, len(maker.data.tickets) + 1)
    return maker.data


@dataclass(frozen=True)
class Written:
    calls: int
    tickets: int
    first_ticket: int


def _insert_many(db: Database, table: str, rows: list[dict[str, object]]) -> None:
    """Rows that all carry the same columns, in one executemany. sqlite-utils'
    `insert_all` does the same in chunks of 999 variables (43 call rows) and inspects
    every value, which made a year's write four times slower."""
    if not rows:
        return
    columns = list(rows[0])
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})"
    db.conn.executemany(sql, ([row[c] for c in columns] for row in rows))


async def write_demo(store: Store, period: Period, data: DemoData) -> Written:
    """Write the rows in one transaction; DemoError if the period already has calls."""

    def write(db: Database) -> Written:
        existing = db.execute("SELECT count(*) FROM calls WHERE arrived_epoch >= ? AND arrived_epoch < ?",
                              [period.start_epoch, period.end_epoch]).fetchone()[0]
        if existing:
            raise DemoError(f"{store.path} already holds {existing} calls in {period.label}: "
                            "seed another period or another database (--database)")
        base = db.execute("SELECT coalesce(max(ticket_id), 0) FROM tickets").fetchone()[0]

        def shifted(rows: list[dict[str, object]], key: str) -> list[dict[str, object]]:
            return [{**row, key: _i(row[key]) + base} for row in rows]

        _insert_many(db, "calls", data.calls)
        _insert_many(db, "tickets", shifted(data.tickets, "ticket_id"))
        _insert_many(db, "ticket_calls", shifted(data.links, "ticket_id"))
        _insert_many(db, "ticket_events", shifted(data.events, "ticket_id"))
        _insert_many(db, "ticket_callbacks", shifted(data.callbacks, "ticket_id"))
        return Written(len(data.calls), len(data.tickets), base + 1)

    return await store.transaction(write)


# ---------------------------------------------------------------------------- CLI


def parse_tickets(text: str) -> tuple[int, ...]:
    """'19,21,6,7,8' (help, complaint, consultation, suggestion, other) or a total, split
    like the seed's January."""
    parts = [p.strip() for p in text.split(",")]
    if not all(p.isdigit() for p in parts) or len(parts) not in (1, len(CATEGORY_ORDER)):
        raise DemoError(f"--tickets {text!r}: give five counts (help,complaint,consultation,suggestion,other), "
                        "e.g. 19,21,6,7,8, or one total")
    numbers = [int(p) for p in parts]
    return tuple(split_int(numbers[0], SEED_JANUARY)) if len(numbers) == 1 else tuple(numbers)


def _defaults(period: Period) -> tuple[int, int, tuple[int, ...]]:
    """About 150 calls a day, 99.5% completed, 146 tickets a month (the seed's 2008)."""
    months = 1 if period.kind == "monthly" else 12
    calls = 150 * period.days
    return calls, calls - round(calls * 0.005), tuple(split_int(146 * months, SEED_JANUARY))


def cli_demo(settings: Settings, args: argparse.Namespace) -> int:
    """`hotline demo seed --month YYYY-MM | --year YYYY [--shape ...] [--calls N] ...`."""
    from callcenter.tickets import database_path

    zone = settings.zone
    if bool(args.month) == bool(args.year):
        raise DemoError("give either --month YYYY-MM or --year YYYY")
    period = parse_month(args.month, zone) if args.month else parse_year(args.year, zone)
    now = time.time()
    if period.end_epoch > now:
        raise DemoError(f"{period.label} has not ended yet: the demo writes whole past periods")
    calls, completed, tickets = _defaults(period)
    if args.shape:
        shape = SHAPES[args.shape]
        if shape.kind != period.kind:
            other = "--year" if shape.kind == "yearly" else "--month"
            raise DemoError(f"--shape {args.shape} is {shape.about}: use it with {other}")
        calls, completed, tickets = shape.calls, shape.completed, shape.tickets
    if args.calls is not None:
        calls = args.calls
        if args.completed is None and not args.shape:
            completed = calls - round(calls * 0.005)
    if args.completed is not None:
        completed = args.completed
    if args.tickets is not None:
        tickets = parse_tickets(args.tickets)
    directory = load_directory(units_file(settings))
    started = time.perf_counter()
    data = make_demo(period, calls=calls, completed=completed, tickets=tickets, zone=zone, directory=directory,
                     seed=args.seed, abandon_rate=args.abandon_rate)
    path = database_path(settings, args, must_exist=False)

    async def run() -> Written:
        async with Store(path) as store:
            return await write_demo(store, period, data)

    written = asyncio.run(run())
    took = time.perf_counter() - started
    lost = written.calls - calls
    names = ", ".join(f"{c} {n}" for c, n in zip(CATEGORY_ORDER, tickets, strict=True))
    print(f"wrote {period.label} into {path} in {took:.2f} s (seed {args.seed}):")
    print(f"  calls    {written.calls} offered: {calls} accepted ({completed} completed, "
          f"{calls - completed} in progress), {lost} abandoned or failed")
    last = written.first_ticket + written.tickets - 1
    print(f"  tickets  {written.tickets} (numbers {written.first_ticket}-{last}): {names}")
    kind = f"monthly --month {period.label}" if period.kind == "monthly" else f"yearly --year {period.label}"
    print(f"next: hotline report {kind}" + (f" --database {args.database}" if args.database else ""))
    return 0
