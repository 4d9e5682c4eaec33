"""The demo's tickets: made from answered calls of a fitting category, forwarded to a
unit of the directory, replied within (mostly) 7 working days, called back with a
satisfaction; duplicates are merged (several calls on one ticket). The calls in progress
are exactly those on the latest tickets, left open, forwarded or reopened."""

from __future__ import annotations

import bisect
import json
import math
import random
from dataclasses import dataclass, field
from datetime import datetime

from callcenter.demo.calls import RowMaker, float_or_zero, int_or_zero
from callcenter.demo.targets import TICKET_CATEGORIES, DemoError, MonthTarget
from callcenter.tickets.deadlines import deadline_from
from callcenter.vocabulary import Category, Outcome, Satisfaction, TicketState
from callcenter.workdays import add_working_days

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
class _Ticket:
    """A ticket being planned: its number, category, first call and the calls merged into it."""

    number: int
    category: Category
    primary: dict[str, object]
    created: int
    calls: list[dict[str, object]] = field(default_factory=list)
    active: bool = False


class TicketLife:
    """One ticket's history, written as the ticket's row, events and callbacks."""

    def __init__(self, maker: RowMaker, ticket: _Ticket, unit_code: str, unit_name: str, summary: str) -> None:
        self.maker = maker
        self.ticket = ticket
        deadline = deadline_from(ticket.created, maker.zone, maker.directory.deadline_working_days)
        self.row: dict[str, object] = {
            "ticket_id": ticket.number, "created": maker.iso(ticket.created), "created_epoch": float(ticket.created),
            "category": str(ticket.category), "summary": summary, "unit": unit_code, "unit_name": unit_name,
            "state": str(TicketState.OPEN), "state_since": maker.iso(ticket.created),
            "state_since_epoch": float(ticket.created), "operator": ticket.primary["seat"],
            "caller_number": ticket.primary["caller_number"], "deadline": deadline.day.isoformat(),
            "deadline_epoch": deadline.end_epoch, "deadline_estimated": int(deadline.estimated),
            "forwarded": None, "forwarded_epoch": None, "reply": None, "reply_by": None, "replied": None,
            "replied_epoch": None, "closed": None, "closed_epoch": None, "reopen_count": 0,
            "satisfaction": None, "callback_attempts": 0, "merged_into": None,
        }
        self.now = ticket.created
        self.event("created", TicketState.OPEN, ticket.created, str(ticket.primary["seat"]),
                   {"unit": unit_code, "calls": [ticket.primary["call_id"]]})

    def event(self, kind: str, state: TicketState, at: int, actor: str | None, data: dict[str, object] | None) -> None:
        self.maker.data.events.append({
            "ticket_id": self.ticket.number, "at": self.maker.iso(at), "at_epoch": float(at), "kind": kind,
            "state": str(state), "actor": actor, "data": None if data is None else json.dumps(data, ensure_ascii=False),
        })
        if str(self.row["state"]) != str(state):
            self.row.update(state=str(state), state_since=self.maker.iso(at), state_since_epoch=float(at))
        self.now = at

    def on_working_day(self, after: int, working_days: int, first_hour: int = 9, last_hour: int = 17) -> int:
        day = datetime.fromtimestamp(after, self.maker.zone).date()
        target = add_working_days(day, working_days).day
        at = int(datetime(target.year, target.month, target.day, first_hour, tzinfo=self.maker.zone).timestamp())
        return max(after + 600, at + self.maker.rng.randrange((last_hour - first_hour) * 3600))

    def forward(self) -> None:
        hour = datetime.fromtimestamp(self.now, self.maker.zone).hour
        # Forwarded the same day when it comes in office hours, otherwise the next
        # working morning (the seed: "第二天上午11时 ... 分别转至阳城、沁水、泽州县政府").
        at = self.now + self.maker.rng.randint(1800, 3 * 3600) if 8 <= hour < 15 else \
            self.on_working_day(self.now, 1, 9, 12)
        self.row.update(forwarded=self.maker.iso(at), forwarded_epoch=float(at))
        self.event("forwarded", TicketState.FORWARDED, at, "office", {"unit": self.row["unit"]})

    def reply(self, working_days: int) -> None:
        at = self.on_working_day(int_or_zero(self.row["created_epoch"]), working_days)
        at = max(at, self.now + 3600)
        text = str(self.row["unit_name"]) + "答复：" + self.maker.rng.choice(REPLIES)
        self.row.update(reply=text, reply_by=self.row["unit_name"], replied=self.maker.iso(at), replied_epoch=float(at))
        late = at >= float_or_zero(self.row["deadline_epoch"])
        self.event("replied", TicketState.REPLIED, at, None,
                   {"reply": text, "by": self.row["unit_name"], "working_days": working_days, "late": late})

    def callback(self, result: str, satisfaction: Satisfaction | None, state: TicketState) -> None:
        at = self.on_working_day(self.now, 1, 9, 18)
        self.maker.data.callbacks.append({
            "ticket_id": self.ticket.number, "at": self.maker.iso(at), "at_epoch": float(at), "result": result,
            "satisfaction": None if satisfaction is None else str(satisfaction), "call_id": None,
            "actor": self.row["operator"], "note": None,
        })
        self.row["callback_attempts"] = int_or_zero(self.row["callback_attempts"]) + 1
        if satisfaction is not None:
            self.row["satisfaction"] = str(satisfaction)
        self.event("callback", state, at, str(self.row["operator"]),
                   {"result": result, "satisfaction": None if satisfaction is None else str(satisfaction)})
        if state is TicketState.CLOSED:
            self.row.update(closed=self.maker.iso(at), closed_epoch=float(at))
        if state is TicketState.REOPENED:
            deadline = deadline_from(at, self.maker.zone, self.maker.directory.deadline_working_days)
            self.row.update(deadline=deadline.day.isoformat(), deadline_epoch=deadline.end_epoch,
                            deadline_estimated=int(deadline.estimated),
                            reopen_count=int_or_zero(self.row["reopen_count"]) + 1)

    def reached(self, then: TicketState, satisfaction: Satisfaction) -> None:
        rng = self.maker.rng
        while rng.random() < 0.2 and int_or_zero(self.row["callback_attempts"]) < 2:
            self.callback(rng.choice(("no_answer", "no_answer", "busy")), None, TicketState.REPLIED)
        self.callback("reached", satisfaction, then)


def _reply_days(rng: random.Random) -> int:
    # Most units answer within the 7 working days; about one ticket in 16 is late.
    return rng.choices(range(1, 11), weights=(4, 8, 12, 14, 12, 8, 5, 2, 1.5, 1))[0]


def _pleased(rng: random.Random) -> Satisfaction:
    return rng.choices((Satisfaction.SATISFIED, Satisfaction.BASICALLY_SATISFIED), weights=(78, 22))[0]


def _unit_and_summary(maker: RowMaker, category: Category) -> tuple[str, str, str]:
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


def make_tickets(maker: RowMaker, calls: list[dict[str, object]], target: MonthTarget, first_number: int) -> None:
    """The month's tickets from its `calls`, numbered from `first_number`, into `maker.data`."""
    rng = maker.rng
    in_progress = target.calls - target.completed
    total = sum(target.tickets)
    eligible = [r for r in calls if r["outcome"] == Outcome.ANSWERED and not r["nuisance"]]
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

    def take(pool: list[int]) -> int | None:
        while pool:
            i = pool.pop()
            if i not in used:
                used.add(i)
                return i
        return None

    categories = [c for c, n in zip(TICKET_CATEGORIES, target.tickets, strict=True) for _ in range(n)]
    rng.shuffle(categories)
    made: list[_Ticket] = []
    for category in categories:
        # A ticket comes from a call whose caller chose its category; an "other" one from a call that chose none.
        index = take(pools.get(None if category is Category.OTHER else category, []))
        if index is None:
            index = take(anyone)
        assert index is not None  # enough eligible calls was checked above
        primary = eligible[index]
        ended = int(datetime.fromisoformat(str(primary["ended"])).timestamp())
        made.append(_Ticket(0, category, primary, ended + rng.randint(60, 900), [primary]))
    made.sort(key=lambda t: (t.created, str(t.primary["call_id"])))
    for n, ticket in enumerate(made):
        ticket.number = first_number + n
    for ticket in made[len(made) - active_count:] if active_count else []:
        ticket.active = True

    times = [float_or_zero(r["arrived_epoch"]) for r in eligible]

    def extra_for(ticket: _Ticket) -> None:
        start = bisect.bisect_right(times, float_or_zero(ticket.primary["arrived_epoch"]))
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
        life = TicketLife(maker, ticket, unit_code, unit_name, summary)
        for call in ticket.calls:
            ended = int(datetime.fromisoformat(str(call["ended"])).timestamp())
            at = max(ended + 120, ticket.created) if call is not ticket.primary else ticket.created
            maker.data.links.append({"call_id": call["call_id"], "ticket_id": ticket.number,
                                     "linked": maker.iso(at), "linked_epoch": float(at)})
        _play_life(life, rng, ticket.active)
        maker.data.tickets.append(life.row)


def _play_life(life: TicketLife, rng: random.Random, active: bool) -> None:
    """Play the ticket's history up to where it stands at the briefing."""
    if active:
        roll = rng.random()
        if roll < 0.15:
            return  # still open: being summarised and checked
        life.forward()
        if roll > 0.9:  # replied, the citizen dissatisfied: reopened, the unit works on it again
            life.reply(_reply_days(rng))
            life.reached(TicketState.REOPENED, Satisfaction.DISSATISFIED)
        return
    life.forward()
    life.reply(_reply_days(rng))
    roll = rng.random()
    if roll < 0.75:
        life.reached(TicketState.CLOSED, _pleased(rng))
    elif roll < 0.83:  # dissatisfied, reopened, replied again
        life.reached(TicketState.REOPENED, Satisfaction.DISSATISFIED)
        life.reply(rng.randint(2, 5) + _reply_days(rng) // 3)
        if rng.random() < 0.5:
            life.reached(TicketState.CLOSED, _pleased(rng))
    elif roll < 0.9:  # called, not reached yet
        life.callback(rng.choice(("no_answer", "busy")), None, TicketState.REPLIED)
