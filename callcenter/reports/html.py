"""The briefing as one HTML page with its charts drawn in inline SVG: no script, no
style sheet or font fetched, nothing loaded from outside (the page's CSP says so)."""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence

from callcenter.reports.figures import Briefing, UnitFigure
from callcenter.reports.text import BRIEF_LABELS, duration_text, headline, pct_text, rate_of, service_lines
from callcenter.vocabulary import SATISFACTION_LABELS, SHIFT_LABELS, Satisfaction

_COLOURS = {"accepted": "#2f6db5", "completed": "#2f6db5", "in_progress": "#e8a33d", "abandoned": "#c8553d",
            "tickets": "#5b8c5a", "grid": "#d9dde3", "text": "#333"}
_CATEGORY_COLOURS = ["#2f6db5", "#c8553d", "#5b8c5a", "#e8a33d", "#7d6ba8"]


def _escaped(value: object) -> str:
    return html.escape(str(value), quote=True)


def _ticks(value: int) -> tuple[int, int]:
    """A round step (1, 2 or 5 times a power of ten) for about five grid lines, and the
    top of the axis: the first multiple of the step at or above `value`."""
    rough = max(1, math.ceil(value / 5))
    magnitude = 10 ** (len(str(rough)) - 1)
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= rough)
    return step * max(1, math.ceil(value / step)), step


def svg_bars(labels: Sequence[str], stacks: Sequence[tuple[str, str, Sequence[int]]], title: str,
             width: int = 760, height: int = 260, every: int = 1) -> str:
    """Stacked vertical bars: `stacks` are (name, colour, values per label)."""
    left, bottom, top, right = 48, 34, 26, 10
    inner_w, inner_h = width - left - right, height - top - bottom
    totals = [sum(s[2][i] for s in stacks) for i in range(len(labels))]
    peak, step = _ticks(max(totals, default=0))
    slot = inner_w / max(1, len(labels))
    bar = max(1.0, slot * 0.72)
    out = [f'<svg class="chart" role="img" aria-label="{_escaped(title)}" viewBox="0 0 {width} {height}" '
           f'width="{width}" height="{height}"><title>{_escaped(title)}</title>']
    for value in range(0, peak + 1, step):
        y = top + inner_h - inner_h * value / peak
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="{_COLOURS["grid"]}"/>'
                   f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" class="axis">{value}</text>')
    for i, label in enumerate(labels):
        x = left + slot * i + (slot - bar) / 2
        base = float(top + inner_h)
        for name, colour, values in stacks:
            h = inner_h * values[i] / peak
            if h > 0:
                out.append(f'<rect x="{x:.1f}" y="{base - h:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                           f'fill="{colour}"><title>{_escaped(label)} {_escaped(name)}: {values[i]}</title></rect>')
            base -= h
        if i % every == 0:
            out.append(f'<text x="{x + bar / 2:.1f}" y="{height - bottom + 16}" text-anchor="middle" '
                       f'class="axis">{_escaped(label)}</text>')
    legend_x = left
    for name, colour, _ in stacks:
        out.append(f'<rect x="{legend_x}" y="6" width="12" height="12" fill="{colour}"/>'
                   f'<text x="{legend_x + 16}" y="16" class="legend">{_escaped(name)}</text>')
        legend_x += 26 + 14 * len(name)
    out.append("</svg>")
    return "".join(out)


def svg_hbars(items: Sequence[tuple[str, int, str]], title: str, width: int = 560, colours: Sequence[str] = ()) -> str:
    """Horizontal bars: (label, value, text shown after the bar)."""
    row, label_w, pad = 26, 190, 8
    height = row * len(items) + 2 * pad
    peak = max((v for _, v, _ in items), default=0) or 1
    inner = width - label_w - 110
    out = [f'<svg class="chart" role="img" aria-label="{_escaped(title)}" viewBox="0 0 {width} {height}" '
           f'width="{width}" height="{height}"><title>{_escaped(title)}</title>']
    for i, (label, value, text) in enumerate(items):
        y = pad + i * row
        colour = colours[i % len(colours)] if colours else _COLOURS["accepted"]
        w = inner * value / peak
        out.append(f'<text x="{label_w - 8}" y="{y + 17}" text-anchor="end" class="label">{_escaped(label)}</text>'
                   f'<rect x="{label_w}" y="{y + 4}" width="{w:.1f}" height="{row - 8}" fill="{colour}"/>'
                   f'<text x="{label_w + w + 6:.1f}" y="{y + 17}" class="label">{_escaped(text)}</text>')
    out.append("</svg>")
    return "".join(out)


def svg_donut(parts: Sequence[tuple[str, int, str]], centre: str, title: str, size: int = 220) -> str:
    radius, stroke = 70, 34
    circumference = 2 * math.pi * radius
    total = sum(v for _, v, _ in parts) or 1
    middle = size / 2  # the ring's centre, x and y
    out = [f'<svg class="chart" role="img" aria-label="{_escaped(title)}" viewBox="0 0 {size + 200} {size}" '
           f'width="{size + 200}" height="{size}"><title>{_escaped(title)}</title>',
           f'<circle cx="{middle}" cy="{middle}" r="{radius}" fill="none" stroke="{_COLOURS["grid"]}" '
           f'stroke-width="{stroke}"/>']
    offset = 0.0
    for i, (label, value, colour) in enumerate(parts):
        length = circumference * value / total
        if length > 0:
            out.append(f'<circle cx="{middle}" cy="{middle}" r="{radius}" fill="none" stroke="{colour}" '
                       f'stroke-width="{stroke}" stroke-dasharray="{length:.2f} {circumference - length:.2f}" '
                       f'stroke-dashoffset="{-offset:.2f}" transform="rotate(-90 {middle} {middle})">'
                       f'<title>{_escaped(label)}: {value}</title></circle>')
        offset += length
        out.append(f'<rect x="{size + 10}" y="{40 + 26 * i}" width="14" height="14" fill="{colour}"/>'
                   f'<text x="{size + 30}" y="{52 + 26 * i}" class="label">{_escaped(label)} {value}</text>')
    out.append(f'<text x="{middle}" y="{middle + 7}" text-anchor="middle" class="centre">'
               f'{_escaped(centre)}</text></svg>')
    return "".join(out)


_CSS = """
body{font-family:"Noto Sans CJK SC","Source Han Sans SC","PingFang SC","Microsoft YaHei",sans-serif;
color:#333;margin:2rem auto;max-width:1000px;padding:0 1rem;line-height:1.6}
h1{font-size:1.6rem;border-bottom:3px solid #2f6db5;padding-bottom:.4rem}
h2{font-size:1.15rem;margin-top:2rem;color:#2f6db5}
.lead{font-size:1.05rem;background:#f4f7fb;padding:1rem;border-left:4px solid #2f6db5}
.cards{display:flex;flex-wrap:wrap;gap:.8rem}
.card{flex:1 1 140px;border:1px solid #d9dde3;border-radius:6px;padding:.6rem .8rem}
.card b{display:block;font-size:1.5rem;color:#2f6db5}
.card.warn b{color:#c8553d}
table{border-collapse:collapse;margin:.5rem 0}
td,th{border:1px solid #d9dde3;padding:.25rem .6rem;text-align:right}
th:first-child,td:first-child{text-align:left}
.chart text{font-size:11px;fill:#333}.chart .centre{font-size:22px;font-weight:bold}
.chart .legend,.chart .label{font-size:12px}
footer{margin-top:2rem;font-size:.85rem;color:#666}
"""


def _unit_note(unit: UnitFigure) -> str:
    note = f"{unit.count}件"
    if unit.overdue:
        note += f"（逾期{unit.overdue}）"
    if unit.urgings:
        note += f"（督办{unit.urgings}次）"
    return note


def _operators_section(b: Briefing) -> str:
    """The per-operator table (工号, 姓名, answered, average talk and wrap-up, satisfaction)."""
    if not b.operators:
        return "<h2>话务员</h2><p>本期没有记录话务员工号的来电。</p>"
    body = "".join(
        f"<tr><td>{_escaped(o.badge)}</td><td>{_escaped(o.name or '-')}</td><td>{o.answered}</td>"
        f"<td>{_escaped(duration_text(o.average_talk_seconds))}</td>"
        f"<td>{_escaped(duration_text(o.average_wrapup_seconds))}</td>"
        f"<td>{o.rated}</td><td>{_escaped(pct_text(o.satisfaction_pct, 2))}%</td></tr>" for o in b.operators)
    return ("<h2>话务员</h2><table class=\"operators\"><tr><th>工号</th><th>姓名</th><th>接听来电</th><th>平均通话</th>"
            f"<th>平均话后处理</th><th>回访件数</th><th>满意率</th></tr>{body}</table>")


_RESPONSE_COLOURS = {"in_time": "#5b8c5a", "answered_late": "#e8a33d", "late": "#c8553d", "waiting": "#9aa5b1"}


def _channels_section(b: Briefing) -> str:
    """Tickets by channel, and the written channels' responses against their limits."""
    if not b.channels:
        return ""
    created = svg_hbars([(c.label, c.tickets, f"{c.tickets}件") for c in b.channels], "各渠道工单",
                        colours=_CATEGORY_COLOURS)
    written = [c for c in b.channels if c.with_limit is not None]
    answered = svg_bars([c.label for c in written], [
        ("按时答复", _RESPONSE_COLOURS["in_time"], [c.answered_in_time or 0 for c in written]),
        ("超时答复", _RESPONSE_COLOURS["answered_late"], [c.answered_late or 0 for c in written]),
        ("超时未答复", _RESPONSE_COLOURS["late"], [c.late_unanswered or 0 for c in written]),
        ("时限内待答复", _RESPONSE_COLOURS["waiting"], [c.waiting or 0 for c in written]),
    ], "书面渠道答复时效", width=560)
    rows = "".join(
        f"<tr><th>{_escaped(c.label)}</th><td>{c.contacts}</td><td>{c.tickets}</td>"
        f"<td>{_escaped('-' if c.with_limit is None else c.with_limit)}</td>"
        f"<td>{_escaped('-' if c.answered_in_time is None else c.answered_in_time)}</td>"
        f"<td>{_escaped('-' if c.late_unanswered is None else c.late_unanswered)}</td>"
        f"<td>{_escaped('-' if c.with_limit is None else pct_text(c.in_time_pct, 2) + '%')}</td></tr>"
        for c in b.channels)
    return (f"<h2>分渠道情况</h2>{created}{answered}<table class=\"channels\"><tr><th>渠道</th><th>来电/来信</th>"
            f"<th>工单</th><th>限时答复</th><th>按时答复</th><th>超时未答复</th><th>按时答复率</th></tr>{rows}</table>")


def _knowledge_section(b: Briefing, unit_names: Mapping[str, str]) -> str:
    """Consultations answered on the spot from the knowledge base (已据此答复): how many, and
    the articles that answered most (the JSON has every unit and the top 50)."""
    k = b.knowledge
    if k is None or not k.answered_from_base:
        return "<h2>据政务信息库当场答复</h2><p>本期没有据政务信息库当场答复的来电记录。</p>"
    names = {u.unit: u.name for u in b.tickets.by_unit} | dict(unit_names)
    body = "".join(
        f"<tr><td>{_escaped(a['title'])}</td><td>{_escaped(names.get(str(a['unit']), a['unit']))}</td>"
        f"<td>{_escaped(a['calls'])}</td></tr>" for a in k.by_article[:10])
    return (f"<h2>据政务信息库当场答复</h2><p>本期 {k.answered_from_base} 件来电据政务信息库当场答复。"
            "使用最多的条目：</p><table class=\"knowledge\"><tr><th>条目</th><th>单位</th><th>答复来电（件）</th></tr>"
            f"{body}</table>")


def format_html(b: Briefing, title: str, unit_names: Mapping[str, str] | None = None) -> str:
    """The briefing as one HTML page; `unit_names` (code -> name, from config/units.toml)
    names the units of knowledge-base articles, which the store keeps by code."""
    c, t, s, q = b.calls, b.tickets, b.service, b.satisfaction

    def card(label: str, value: object, warn: bool = False) -> str:
        return f'<div class="card{" warn" if warn else ""}"><b>{_escaped(value)}</b>{_escaped(label)}</div>'

    cards = [
        card("受理来电（件）", c.accepted),
        card("已办结", f"{pct_text(c.completed_pct, 2)}%"),
        card("办理中（件）", c.in_progress),
        card("日均受理（件）", c.daily_average),
        card("留单（件）", t.total),
        card("逾期未答复（件）", t.overdue, warn=t.overdue > 0),
        card(f"服务水平（{s.service_level_seconds}秒）", f"{pct_text(s.service_level_pct, 2)}%"),
        *([] if b.standard is None else [
            card("接通率", f"{pct_text(b.standard.connection_pct, 2)}%"),
            card("连续24小时最低接通率",
                 f"{pct_text(rate_of(b.standard.worst_24h), 2)}%", warn=b.standard.meets_target is False)]),
        card("满意率", f"{pct_text(q.satisfaction_pct, 2)}%"),
    ]
    labels = [p.key[-2:] if b.kind == "monthly" else f"{int(p.key[-2:])}月" for p in b.series]
    if b.kind == "monthly":
        flow = svg_bars(labels, [("已办结", _COLOURS["completed"], [p.completed for p in b.series]),
                                 ("办理中", _COLOURS["in_progress"], [p.in_progress for p in b.series]),
                                 ("放弃", _COLOURS["abandoned"], [p.abandoned for p in b.series])],
                        "每日来电", every=1 if len(labels) <= 16 else 2)
    else:
        flow = svg_bars(labels, [("已办结", _COLOURS["completed"], [p.completed for p in b.series]),
                                 ("办理中", _COLOURS["in_progress"], [p.in_progress for p in b.series]),
                                 ("放弃", _COLOURS["abandoned"], [p.abandoned for p in b.series])], "各月来电")
    categories = svg_hbars([(BRIEF_LABELS.get(x.category, x.label), x.count, f"{x.count}件 {pct_text(x.pct, 1)}%")
                            for x in t.by_category], "留单分类", colours=_CATEGORY_COLOURS)
    done = svg_donut([("已办结", c.completed, _COLOURS["completed"]),
                      ("办理中", c.in_progress, _COLOURS["in_progress"])],
                     f"{pct_text(c.completed_pct, 2)}%", "办结情况")
    hours = svg_bars([f"{h.hour}" for h in b.hourly], [("接听", _COLOURS["accepted"], [h.accepted for h in b.hourly]),
                                                      ("未接听", _COLOURS["abandoned"],
                                                       [h.offered - h.accepted for h in b.hourly])],
                     "来电时段分布（时）", every=2)
    satisfied = svg_hbars([(SATISFACTION_LABELS[Satisfaction.SATISFIED], q.satisfied, str(q.satisfied)),
                           (SATISFACTION_LABELS[Satisfaction.BASICALLY_SATISFIED], q.basically_satisfied,
                            str(q.basically_satisfied)),
                           (SATISFACTION_LABELS[Satisfaction.DISSATISFIED], q.dissatisfied, str(q.dissatisfied))],
                          "回访满意度", colours=["#5b8c5a", "#2f6db5", "#c8553d"])
    units = svg_hbars([(u.name, u.count, _unit_note(u)) for u in t.by_unit[:10]], "承办单位（前10）", width=640)
    service_rows = [
        ("呼入来电", s.offered), ("接听", s.answered), ("放弃", s.abandoned),
        ("　语音导航中挂机", s.abandoned_ivr), ("　排队中挂机", s.abandoned_queue),
        ("　振铃中挂机", s.abandoned_ringing), ("呼叫失败", s.failed),
        ("放弃率", f"{pct_text(s.abandon_rate_pct, 2)}%"), ("平均等待", duration_text(s.average_wait_seconds)),
        (f"服务水平（{s.service_level_seconds}秒内接听）", f"{pct_text(s.service_level_pct, 2)}%"),
        ("平均通话", duration_text(s.average_talk_seconds)), ("骚扰来电", s.nuisance_calls),
        ("回访件数 / 拨打次数", f"{q.tickets_called_back} / {q.callback_attempts}"),
        ("满意率", f"{pct_text(q.satisfaction_pct, 2)}%"),
    ]
    if b.standard is not None:
        d = b.standard
        service_rows += [
            ("接通率（GB/T 33358）", f"{pct_text(d.connection_pct, 2)}%"),
            (f"{d.answer_seconds}秒接通率", f"{pct_text(d.answer_rate_pct, 2)}%"),
            ("连续24小时最低接通率", f"{pct_text(rate_of(d.worst_24h), 2)}%"),
            (f"接通率低于{d.target_pct:g}%的天数", d.days_below_target),
            *[(f"　{SHIFT_LABELS.get(str(x['shift']), str(x['shift']))}接通率 / {d.answer_seconds}秒接通率",
               f"{pct_text(rate_of(x), 2)}% / {pct_text(rate_of(x, 'answer_rate_pct'), 2)}%") for x in d.by_shift],
        ]
    table = "".join(f"<tr><th>{_escaped(k)}</th><td>{_escaped(v)}</td></tr>" for k, v in service_rows)
    monthly = ""
    if b.kind == "yearly":
        body = "".join(
            f"<tr><td>{_escaped(p.key)}</td><td>{p.accepted}</td><td>{p.completed}</td><td>{p.in_progress}</td>"
            f"<td>{p.tickets}</td></tr>" for p in b.series)
        monthly = ("<h2>各月情况</h2><table><tr><th>月份</th><th>受理来电</th><th>已办结</th><th>办理中</th>"
                   f"<th>留单</th></tr>{body}</table>")
    name = "工作简报" if b.kind == "monthly" else "年度工作情况"
    span = f"统计时段：{b.start} 至 {b.end}（{b.timezone}），按来电到达时间；办理状态截至 {b.generated}。"
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_escaped(title)} {_escaped(b.title)}{name}</title><style>{_CSS}</style></head>
<body>
<h1>{_escaped(title)} {_escaped(b.title)}{name}</h1>
<p class="lead">{_escaped(headline(b))}</p>
<div class="cards">{''.join(cards)}</div>
<h2>{'每日来电' if b.kind == 'monthly' else '各月来电'}</h2>{flow}
<h2>办结情况</h2>{done}
<h2>留单分类</h2>{categories}
<h2>服务指标</h2><table>{table}</table>
<h2>来电时段分布</h2>{hours}
<h2>回访满意度</h2>{satisfied}
<h2>承办单位</h2>{units if t.by_unit else '<p>本期无留单。</p>'}
{_operators_section(b)}
{_knowledge_section(b, unit_names or {})}
{_channels_section(b)}
{monthly}
<footer>{''.join(f'<p>{_escaped(line)}</p>' for line in service_lines(b))}
<p>{_escaped(span)}
已办结与办理中、各类留单的占比按最大余数法取整，合计为100%。</p></footer>
</body></html>
"""
