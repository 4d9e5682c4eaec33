"""The briefing as text, in the seed's own wording: the opening paragraph (`headline`),
the service, satisfaction and ticket lines, and for a year the table of its months."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from callcenter.reports.figures import Briefing, StandardFigures, largest_remainder
from callcenter.terminal import display_width, fit
from callcenter.vocabulary import CATEGORY_LABELS, Category

# The briefing's own words for the categories: the label and 类 (求助类), but 投诉类
# rather than 投诉举报类, and a bare 其他.
BRIEF_LABELS: dict[str, str] = {
    **{c: f"{CATEGORY_LABELS[c]}类" for c in (Category.HELP, Category.CONSULTATION, Category.SUGGESTION)},
    Category.COMPLAINT: "投诉类",
    Category.OTHER: CATEGORY_LABELS[Category.OTHER],
}


def pct_text(value: float | None, decimals: int) -> str:
    return "—" if value is None else f"{value:.{decimals}f}"


def _count_text(value: int | None) -> str:
    return "—" if value is None else str(value)


def duration_text(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    whole = round(seconds)
    return f"{whole // 60}分{whole % 60}秒" if whole >= 60 else f"{seconds:.1f}秒"


def _category_sentence(b: Briefing) -> str:
    parts = [f"{BRIEF_LABELS.get(c.category, c.label)}{c.count}件，占留单受理量的{pct_text(c.pct, 1)}%"
             for c in b.tickets.by_category]
    return "，其中：" + "；".join(parts) if b.tickets.total else ""


def headline(b: Briefing) -> str:
    """The briefing's opening paragraph, in the seed's own wording."""
    c = b.calls
    if b.kind == "monthly":
        return (
            f"受理来电{c.accepted}件，其中，已办结来电{c.completed}件，占来电总件数的{pct_text(c.completed_pct, 2)}%；"
            f"处在办理中的来电为{c.in_progress}件，占来电总件数的{pct_text(c.in_progress_pct, 2)}%。"
            f"月日均受理来电{_count_text(c.daily_average)}件，留单受理{b.tickets.total}件{_category_sentence(b)}。"
        )
    return (
        f"{b.title}，市长热线累计受理来电{c.accepted}件，其中，办结的来电为{c.completed}件，"
        f"办结率达{pct_text(c.completed_pct, 2)}%；处在办理中的来电为{c.in_progress}件，"
        f"占来电总件数的{pct_text(c.in_progress_pct, 2)}%。每月受理来电{_count_text(c.monthly_average)}件，"
        f"平均每天受理{_count_text(c.daily_average)}件。通过政府部门办理的留单达{b.tickets.total}个，"
        f"每月办理数达{_count_text(b.tickets.monthly_average)}个{_category_sentence(b)}。"
    )


def service_lines(b: Briefing) -> list[str]:
    """The service, satisfaction, ticket and unit sentences after the opening paragraph."""
    s, q, t = b.service, b.satisfaction, b.tickets
    lines = [
        f"服务情况：呼入来电{s.offered}件，接听{s.answered}件；放弃{s.abandoned}件"
        f"（语音导航中挂机{s.abandoned_ivr}件，排队中挂机{s.abandoned_queue}件，振铃中挂机{s.abandoned_ringing}件），"
        f"放弃率{pct_text(s.abandon_rate_pct, 2)}%；呼叫失败{s.failed}件"
        + (f"，线路已满未能排队{s.line_full}件" if s.line_full else "") + "。"
        f"平均等待{duration_text(s.average_wait_seconds)}，服务水平（{s.service_level_seconds}秒内接听）"
        f"{pct_text(s.service_level_pct, 2)}%，平均通话{duration_text(s.average_talk_seconds)}。"
        + (f"其中骚扰来电{s.nuisance_calls}件。" if s.nuisance_calls else ""),
        f"回访满意度：回访{q.tickets_called_back}件（共拨打{q.callback_attempts}次），其中听取意见{q.rated}件："
        f"满意{q.satisfied}件，基本满意{q.basically_satisfied}件，不满意{q.dissatisfied}件，"
        f"满意率{pct_text(q.satisfaction_pct, 2)}%。",
        f"留单办理：办理中{t.in_progress}件，其中逾期未答复{t.overdue}件；已答复{t.replied}件，"
        f"其中超过{t.deadline_working_days}个工作日答复{t.replied_late}件。",
    ]
    if b.standard is not None:
        lines.append(standard_line(b.standard))
    if t.by_unit:
        top = "，".join(f"{u.name}{u.count}件" for u in t.by_unit[:10])
        more = f"等{len(t.by_unit)}个单位" if len(t.by_unit) > 10 else ""
        lines.append(f"承办单位：{top}{more}。")
    return lines


def standard_line(d: StandardFigures) -> str:
    """GB/T 33358's figures in one sentence."""
    worst = d.worst_24h
    worst_text = "" if worst is None else (
        f"连续24小时最低接通率{pct_text(rate_of(worst), 2)}%"
        f"（{str(worst.get('start'))[5:16].replace('T', ' ')}起），"
        + ("达到" if d.meets_target else "未达到") + f"不低于{d.target_pct:g}%的要求；")
    return (f"国家标准（GB/T 33358）：呼入{d.offered}件，接通{d.connected}件，接通率{pct_text(d.connection_pct, 2)}%；"
            f"{d.answer_seconds}秒内接通{d.answered_within}件，"
            f"{d.answer_seconds}秒接通率{pct_text(d.answer_rate_pct, 2)}%；"
            f"{worst_text}接通率低于{d.target_pct:g}%的天数{d.days_below_target}天。")


def rate_of(figures: Mapping[str, object] | None, key: str = "connection_pct") -> float | None:
    """A percentage out of a figures record (JSON-shaped), None when there is none."""
    value = None if figures is None else figures.get(key)
    return float(value) if isinstance(value, int | float) else None


def channel_lines(b: Briefing) -> list[str]:
    """The split by channel; for the written channels the responses against GB/T 33358's
    limits. After the seed's lines: the seed's January reads as before above them."""
    lines = []
    for c in b.channels:
        if c.channel == "phone":
            lines.append(f"{c.label}：来电 {c.contacts} 个（受理 {c.accepted}），留单 {c.tickets} 件")
        elif c.with_limit is None:
            lines.append(f"{c.label}：工单 {c.tickets} 件")
        else:
            lines.append(
                f"{c.label}：来信 {c.contacts} 条，工单 {c.tickets} 件；限时答复 {c.with_limit} 件，"
                f"按时 {c.answered_in_time}，超时答复 {c.answered_late}，超时未答复 {c.late_unanswered}，"
                f"时限内待答复 {c.waiting}；按时答复率 {pct_text(c.in_time_pct, 2)}%")
    return ["", "分渠道情况：", *lines] if lines else []


def format_text(b: Briefing, title: str) -> str:
    name = "工作简报" if b.kind == "monthly" else "年度工作情况"
    head = f"{title} {b.title}{name}"
    lines = [head, "=" * display_width(head), "", headline(b), "", *service_lines(b)]
    if b.kind == "yearly":
        widths = (8, 10, 10, 10, 10, 8)

        def row(cells: Sequence[object]) -> str:
            return fit(cells[0], widths[0]) + "".join(fit(c, w, True) for c, w in zip(cells[1:], widths[1:],
                                                                                      strict=True))

        lines += ["", "各月情况：", row(("月份", "受理来电", "已办结", "办理中", "办结率%", "留单"))]
        for p in b.series:
            rate = largest_remainder([p.completed, p.in_progress], 2)
            lines.append(row((p.key, p.accepted, p.completed, p.in_progress, pct_text(rate[0] if rate else None, 2),
                              p.tickets)))
    lines += channel_lines(b)
    lines += ["", f"统计时段：{b.start} 至 {b.end}（{b.timezone}），按来电到达时间；办理状态截至 {b.generated}。"]
    return "\n".join(lines)
