"""The mails to a responsible unit, built from what may leave the hotline: the ticket's
number, its deadline and a link to the console. Never the citizen's name, number or
address, nor the summary: a mailbox is read by more people, on more machines, than the
console, so the unit reads the ticket there, logged in.

Pure: no network, no clock (the time is given)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid
from enum import StrEnum
from zoneinfo import ZoneInfo

from callcenter.mail.address import domain_of


class NoticeKind(StrEnum):
    NEW = "new"  # forwarded to the unit (新工单)
    URGED = "urged"  # the supervisor urges the unit (督办)
    DUE_SOON = "due_soon"  # the deadline is near (即将到期)


LABELS: dict[NoticeKind, str] = {
    NoticeKind.NEW: "新工单",
    NoticeKind.URGED: "督办",
    NoticeKind.DUE_SOON: "即将到期",
}


@dataclass(frozen=True)
class Notice:
    """One mail to one unit about one ticket."""

    kind: NoticeKind
    ticket_id: int
    unit_code: str
    unit_name: str
    recipients: tuple[str, ...]
    deadline: date | None
    link: str
    working_days_left: int | None = None  # DUE_SOON: 0 on the deadline day


def ticket_link(console_url: str, ticket_id: int) -> str:
    """Where the unit reads the ticket: its page of the console (log-in needed)."""
    return f"{console_url.rstrip('/')}/unit?ticket={ticket_id}"


def _deadline_text(deadline: date | None) -> str:
    return f"{deadline.year}年{deadline.month}月{deadline.day}日" if deadline else "（见工作台）"


def _lead(notice: Notice, title: str) -> str:
    number, deadline = notice.ticket_id, _deadline_text(notice.deadline)
    if notice.kind is NoticeKind.NEW:
        return f"{title}转办给贵单位一件工单，编号 {number}，请于 {deadline} 前办理并答复。"
    if notice.kind is NoticeKind.URGED:
        return f"{title}对编号 {number} 的工单进行督办，请贵单位抓紧办理，于 {deadline} 前答复。"
    left = notice.working_days_left
    when = "今天到期" if not left else f"还剩 {left} 个工作日"
    return f"编号 {number} 的工单答复期限为 {deadline}，{when}，请贵单位按时答复。"


def subject(notice: Notice, title: str) -> str:
    return f"【{LABELS[notice.kind]}】工单 {notice.ticket_id} - {title}"


def body(notice: Notice, title: str) -> str:
    return "\n".join([
        f"{notice.unit_name}：",
        "",
        _lead(notice, title),
        "",
        "工单内容请登录热线工作台查看：",
        notice.link,
        "",
        "本邮件由系统自动发送，不含来电市民的信息，请勿直接回复。",
        title,
        "",
    ])


def build_message(notice: Notice, *, sender: str, title: str, now: float, zone: ZoneInfo) -> EmailMessage:
    """The mail as it is sent: plain text in UTF-8, marked as automatic (RFC 3834) so
    that no out-of-office reply comes back to the hotline."""
    message = EmailMessage()
    message["From"] = formataddr((title, sender))
    message["To"] = ", ".join(notice.recipients)
    message["Subject"] = subject(notice, title)
    message["Date"] = format_datetime(datetime.fromtimestamp(now, zone))
    message["Message-ID"] = make_msgid(idstring=f"ticket{notice.ticket_id}.{notice.kind}", domain=domain_of(sender))
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"
    message.set_content(body(notice, title))
    return message
