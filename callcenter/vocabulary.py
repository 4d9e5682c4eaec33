"""The hotline's words, defined once: categories, call outcomes, recording statuses, seat
states, ticket states, ticket channels, satisfactions, callback results, and their
Chinese labels.

Every module imports its values from here; the schema's CHECK constraints are built
from them; the console's pages get the labels from the server (`labels()`), so a new
word or a changed label is one edit.
"""

from __future__ import annotations

from enum import StrEnum


class Category(StrEnum):
    """What the citizen called about (the seed's four kinds, and other)."""

    HELP = "help"
    COMPLAINT = "complaint"
    CONSULTATION = "consultation"
    SUGGESTION = "suggestion"
    OTHER = "other"


# The seed's words: 求助、投诉举报、咨询、建议 and 其他; the briefing says 投诉类.
CATEGORY_LABELS: dict[Category, str] = {
    Category.HELP: "求助",
    Category.COMPLAINT: "投诉举报",
    Category.CONSULTATION: "咨询",
    Category.SUGGESTION: "建议",
    Category.OTHER: "其他",
}
# The order the briefing and the console list them in (most calls are consultations).
CATEGORY_ORDER: tuple[Category, ...] = (
    Category.CONSULTATION, Category.COMPLAINT, Category.HELP, Category.SUGGESTION, Category.OTHER,
)


class Outcome(StrEnum):
    """How a call ended, from where the caller was when it did."""

    ANSWERED = "answered"
    ABANDONED_IVR = "abandoned_ivr"
    ABANDONED_QUEUE = "abandoned_queue"
    ABANDONED_RINGING = "abandoned_ringing"
    FAILED = "failed"
    # Refused when the line was full (callflow.max_waiting): told so, never queued.
    LINE_FULL = "line_full"


OUTCOME_LABELS: dict[Outcome, str] = {
    Outcome.ANSWERED: "已接通",
    Outcome.ABANDONED_IVR: "导航中挂断",
    Outcome.ABANDONED_QUEUE: "排队中放弃",
    Outcome.ABANDONED_RINGING: "振铃中放弃",
    Outcome.FAILED: "失败",
    Outcome.LINE_FULL: "线路已满",
}
ABANDONED: tuple[Outcome, ...] = (Outcome.ABANDONED_IVR, Outcome.ABANDONED_QUEUE, Outcome.ABANDONED_RINGING)


class RecordingStatus(StrEnum):
    """What became of a call's recording once Asterisk closed it (`callcenter.recordings`)."""

    OK = "ok"
    MISSING = "missing"  # no file: MixMonitor could not create it (a full disk, a bad folder)
    EMPTY = "empty"  # a file without audio: not even the header could be written
    TRUNCATED = "truncated"  # far shorter than the call: the disk filled up during it


RECORDING_STATUS_LABELS: dict[RecordingStatus, str] = {
    RecordingStatus.OK: "正常",
    RecordingStatus.MISSING: "录音失败（文件缺失）",
    RecordingStatus.EMPTY: "录音失败（无音频）",
    RecordingStatus.TRUNCATED: "录音失败（录音不完整）",
}


class SeatState(StrEnum):
    """What a seat is doing; `offline` is only shown for a seat never seen."""

    IDLE = "idle"
    RINGING = "ringing"
    TALKING = "talking"
    WRAPUP = "wrapup"


SEAT_STATE_LABELS: dict[SeatState, str] = {
    SeatState.IDLE: "空闲",
    SeatState.RINGING: "振铃中",
    SeatState.TALKING: "通话中",
    SeatState.WRAPUP: "话后整理",
}


class TicketState(StrEnum):
    OPEN = "open"
    FORWARDED = "forwarded"
    REPLIED = "replied"
    CLOSED = "closed"
    REOPENED = "reopened"


TICKET_STATE_LABELS: dict[TicketState, str] = {
    TicketState.OPEN: "待转办",
    TicketState.FORWARDED: "已转办",
    TicketState.REPLIED: "已答复",
    TicketState.CLOSED: "已办结",
    TicketState.REOPENED: "重新办理",
}
IN_PROGRESS: frozenset[TicketState] = frozenset({TicketState.OPEN, TicketState.FORWARDED, TicketState.REOPENED})
COMPLETED: frozenset[TicketState] = frozenset({TicketState.REPLIED, TicketState.CLOSED})


class Channel(StrEnum):
    """How a citizen's problem reached the hotline: most by phone, the rest by the
    mayor's mailbox, text message, the city forum, or typed in by hand."""

    PHONE = "phone"
    MAILBOX = "mailbox"
    SMS = "sms"
    FORUM = "forum"
    MANUAL = "manual"


CHANNEL_LABELS: dict[Channel, str] = {
    Channel.PHONE: "电话",
    Channel.MAILBOX: "市长信箱",
    Channel.SMS: "短信",
    Channel.FORUM: "论坛",
    Channel.MANUAL: "人工录入",
}


# The channels a person must answer within a limit (GB/T 33358); a call is answered in the call.
WRITTEN_CHANNELS: frozenset[Channel] = frozenset({Channel.MAILBOX, Channel.SMS, Channel.FORUM})


class MessageStatus(StrEnum):
    """A line of `ticket_messages`: a citizen's message received, or a message to the
    citizen queued for the SMS gateway, sent, failed for good, or kept (shown on the
    public status page or exported for the forum's moderators: nothing to send)."""

    RECEIVED = "received"
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"
    KEPT = "kept"


MESSAGE_STATUS_LABELS: dict[MessageStatus, str] = {
    MessageStatus.RECEIVED: "已收到",
    MessageStatus.QUEUED: "待发送",
    MessageStatus.SENT: "已发送",
    MessageStatus.FAILED: "发送失败",
    MessageStatus.KEPT: "已留存",
}


class ResponseStanding(StrEnum):
    """Where a written message stands against its response limit."""

    WAITING = "waiting"  # no person has answered; time left
    NEARING = "nearing"  # no person has answered; less than the warning share of the limit left
    LATE = "late"  # no person has answered; past the limit
    IN_TIME = "in_time"  # a person answered within the limit (or followed an acknowledgement in time)
    ANSWERED_LATE = "answered_late"


RESPONSE_STANDING_LABELS: dict[ResponseStanding, str] = {
    ResponseStanding.WAITING: "待答复",
    ResponseStanding.NEARING: "即将超时",
    ResponseStanding.LATE: "已超时",
    ResponseStanding.IN_TIME: "按时答复",
    ResponseStanding.ANSWERED_LATE: "超时答复",
}


class Satisfaction(StrEnum):
    SATISFIED = "satisfied"
    BASICALLY_SATISFIED = "basically_satisfied"
    DISSATISFIED = "dissatisfied"


SATISFACTION_LABELS: dict[Satisfaction, str] = {
    Satisfaction.SATISFIED: "满意",
    Satisfaction.BASICALLY_SATISFIED: "基本满意",
    Satisfaction.DISSATISFIED: "不满意",
}


class CallbackResult(StrEnum):
    REACHED = "reached"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    FAILED = "failed"


CALLBACK_RESULT_LABELS: dict[CallbackResult, str] = {
    CallbackResult.REACHED: "已接通",
    CallbackResult.NO_ANSWER: "无人接听",
    CallbackResult.BUSY: "占线",
    CallbackResult.FAILED: "呼叫失败",
}

# The steps of a call as the call log shows them (call_events.kind).
EVENT_LABELS: dict[str, str] = {
    "ARRIVED": "来电接入", "ANSWERED": "系统应答", "GREETING": "播放欢迎语", "PLAYBACK": "播放提示音",
    "MENU_TIMEOUT": "菜单未选择", "OPERATOR": "选择人工", "CATEGORY": "菜单选择分类", "DTMF_IGNORED": "无效按键",
    "ENTERQUEUE": "进入排队", "POSITION": "播报排队位置", "RINGSEAT": "坐席振铃", "RINGNOANSWER": "坐席未接",
    "RINGFAILED": "坐席振铃失败", "RINGLOST": "控制器离线时振铃结束",
    "CONNECT": "坐席接通", "COMPLETEAGENT": "坐席挂机", "COMPLETECALLER": "来电人挂机",
    "HANGUP": "通话结束", "ABANDON": "来电人放弃", "FAILED": "呼叫失败", "RECORDING": "录音完成",
    "RECORDING_FAILED": "录音失败",
    "READOPTED": "控制器恢复接管", "LOST": "控制器离线时结束", "SUMMARY": "话务员小结",
    "MARKED_NUISANCE": "标记为骚扰", "NUISANCE_WARNING": "播放骚扰提醒", "NUISANCE_FLAGGED": "骚扰号码来电",
    "HARD_LIMIT": "超过呼叫上限挂断",
    "UNIT_DIALLED": "三方通话：呼叫承办单位", "UNIT_JOINED": "三方通话：单位加入", "UNIT_LEFT": "三方通话：单位退出",
    "UNIT_FAILED": "三方通话：单位未接通", "SEAT_LEFT": "三方通话：坐席退出，市民与单位继续通话",
    "RECORDING_PRUNED": "录音已过保存期删除", "RECORDING_COMPRESSED": "录音已压缩",
}
# The call event of a recording deleted for being older than recordings.retention_days.
RECORDING_PRUNED = "RECORDING_PRUNED"
# The call event of a recording compressed to MP3 after the call (recordings.compress).
RECORDING_COMPRESSED = "RECORDING_COMPRESSED"


class RecordingUse(StrEnum):
    """How a member of staff fetched a recording (`recording_access.kind`)."""

    PLAY = "play"  # in the browser's player
    DOWNLOAD = "download"  # saved as a file


RECORDING_USE_LABELS: dict[RecordingUse, str] = {RecordingUse.PLAY: "在线播放", RecordingUse.DOWNLOAD: "下载"}
# Three-way calls (三方通话): why a unit was not reached, and who ended a party's part.
THREE_WAY_LABELS: dict[str, str] = {
    "busy": "占线", "no_answer": "无人接听", "failed": "呼叫失败", "cancelled": "已取消",
    "seat": "坐席挂断单位", "unit": "单位挂机", "caller": "市民挂机", "operator": "坐席退出", "hangup": "坐席挂机",
}
# The steps of a ticket as its timeline shows them (ticket_events.kind).
TICKET_EVENT_LABELS: dict[str, str] = {
    "created": "话务员留单", "linked": "关联来电", "forwarded": "审核转办", "replied": "承办单位答复",
    "closed": "办结", "reopened": "重新办理", "merged": "合并工单", "returned": "退回", "urged": "督办",
    "extension_requested": "申请延期", "extension_granted": "同意延期", "extension_refused": "不同意延期",
    "callback": "回访", "attached": "上传附件", "resubmitted": "话务员补正后重新提交",
    "confidential_set": "设为保密", "confidential_cleared": "取消保密", "revealed": "查看保密信息",
}
# Confidential tickets (工单保密, GB/T 33358): the steps that change or read the secret.
CONFIDENTIAL_SET = "confidential_set"
CONFIDENTIAL_CLEARED = "confidential_cleared"
REVEALED = "revealed"  # a member of staff opened the citizen's details
# What is shown where a confidential ticket's citizen details are withheld.
CONFIDENTIAL_LABEL = "保密"
SHIFT_LABELS: dict[str, str] = {"night": "夜班", "day": "白班", "evening": "晚班"}
NUISANCE_ACTION_LABELS: dict[str, str] = {"flag": "标记", "clear": "解除", "mark": "话务员标记"}
NUISANCE_RULE_LABELS: dict[str, str] = {
    "repeat-short-calls": "短时间内多次短呼", "operator-marks": "话务员多次标记", "manual": "手动标记",
}
PHASE_LABELS: dict[str, str] = {"ringing": "振铃中", "talking": "通话中"}


class KnowledgeKind(StrEnum):
    """What a knowledge-base article (政务信息库) tells about its unit."""

    ORGANISATION = "organisation"
    FUNCTIONS = "functions"
    POLICY = "policy"
    PROCEDURE = "procedure"
    REGULATED = "regulated"
    FAQ = "faq"


KNOWLEDGE_KIND_LABELS: dict[KnowledgeKind, str] = {
    KnowledgeKind.ORGANISATION: "机构设置",
    KnowledgeKind.FUNCTIONS: "职能职责",
    KnowledgeKind.POLICY: "政策依据",
    KnowledgeKind.PROCEDURE: "办事流程",
    KnowledgeKind.REGULATED: "监管事项",
    KnowledgeKind.FAQ: "常见问题",
}
# How an article shown to staff stands against today's date (operators never see the others).
KNOWLEDGE_VALIDITY_LABELS: dict[str, str] = {"valid": "有效", "expired": "已失效", "pending": "未生效"}


def labels() -> dict[str, dict[str, str]]:
    """Every label the console shows, by vocabulary, for the browser (it keeps no copy)."""
    return {
        "outcomes": {str(k): v for k, v in OUTCOME_LABELS.items()},
        "recording_statuses": {str(k): v for k, v in RECORDING_STATUS_LABELS.items()},
        "categories": {str(k): CATEGORY_LABELS[k] for k in CATEGORY_ORDER},
        "seat_states": {str(k): v for k, v in SEAT_STATE_LABELS.items()},
        "ticket_states": {str(k): v for k, v in TICKET_STATE_LABELS.items()},
        "channels": {str(k): v for k, v in CHANNEL_LABELS.items()},
        "message_statuses": {str(k): v for k, v in MESSAGE_STATUS_LABELS.items()},
        "satisfactions": {str(k): v for k, v in SATISFACTION_LABELS.items()},
        "callback_results": {str(k): v for k, v in CALLBACK_RESULT_LABELS.items()},
        "events": dict(EVENT_LABELS),
        "ticket_events": dict(TICKET_EVENT_LABELS),
        "shifts": dict(SHIFT_LABELS),
        "phases": dict(PHASE_LABELS),
        "three_way": dict(THREE_WAY_LABELS),
        "recording_uses": {str(k): v for k, v in RECORDING_USE_LABELS.items()},
        "nuisance_actions": dict(NUISANCE_ACTION_LABELS),
        "rules": dict(NUISANCE_RULE_LABELS),
        "confidential": {"label": CONFIDENTIAL_LABEL},
        "knowledge_kinds": {str(k): v for k, v in KNOWLEDGE_KIND_LABELS.items()},
        "knowledge_validity": dict(KNOWLEDGE_VALIDITY_LABELS),
    }


def sql_among(values: tuple[str, ...] | type[StrEnum]) -> str:
    """`'a', 'b'` for a CHECK (... IN (...)) built from a vocabulary."""
    return ", ".join(f"'{value}'" for value in values)
