"""The public site's words, as a citizen reads them (a ticket's state in plain words,
the form's messages); the categories' labels are the shared ones (`callcenter.vocabulary`)."""

from __future__ import annotations

from callcenter.vocabulary import TicketState

# A ticket's state as the status page tells a citizen: whether anyone has it, and whether it is done.
PUBLIC_STATE_LABELS: dict[TicketState, str] = {
    TicketState.OPEN: "受理中",
    TicketState.FORWARDED: "办理中",
    TicketState.REPLIED: "已答复",
    TicketState.CLOSED: "已办结",
    TicketState.REOPENED: "办理中",
}

SITE_TITLE = "市长热线信箱"

FIELD_NAMES = {
    "name": "姓名",
    "phone": "联系电话",
    "problem": "反映的问题",
    "category": "问题类别",
    "place": "发生地点",
}

NEEDS_NAME = "请填写您的姓名。"
NAME_TOO_LONG = "姓名最多 {limit} 个字。"
NEEDS_PHONE = "请填写联系电话。"
BAD_PHONE = "联系电话只能是 5 至 20 位数字（可以“+”开头）。"
NEEDS_PROBLEM = "请填写您反映的问题。"
PROBLEM_TOO_LONG = "反映的问题最多 {limit} 字，您填写了 {length} 字，请删减后再提交。"
BAD_CATEGORY = "请从列表中选择问题类别。"
PLACE_TOO_LONG = "发生地点最多 {limit} 个字。"

NEEDS_TICKET = "请填写工单号（数字）。"
NEEDS_CODE = "请填写查询码。"
NOT_FOUND = "工单号或查询码不正确，请核对后再查询。"

TOO_MANY_FORMS = "您提交得太频繁了，请 {minutes} 分钟后再试。如有急事请拨打 12345。"
TOO_MANY_LOOKUPS = "查询失败次数过多，请 {minutes} 分钟后再试。"
CROSS_SITE = "请从本网站的页面提交。"
TOO_LARGE = "提交的内容太长，请删减后再提交。"
PAGE_NOT_FOUND = "页面不存在。"
STORE_FAILED = "系统繁忙，请稍后再试。如有急事请拨打 12345。"
