"""The words of live supervision and their Chinese labels, defined once (the schema's
CHECK constraints and the console's labels come from here)."""

from __future__ import annotations

from enum import StrEnum


class Mode(StrEnum):
    """What the supervisor does on the seat's call."""

    LISTEN = "listen"  # hears operator and citizen; nobody hears the supervisor
    WHISPER = "whisper"  # hears both; only the operator hears the supervisor
    BARGE = "barge"  # hears both; both hear the supervisor


MODE_LABELS: dict[Mode, str] = {
    Mode.LISTEN: "监听",
    Mode.WHISPER: "密语",
    Mode.BARGE: "强插",
}


class EndReason(StrEnum):
    """Why one stretch of supervision (one mode, from - to) ended."""

    STOPPED = "stopped"  # 结束 on the wallboard
    SWITCHED = "switched"  # the supervisor chose another mode (a new line follows)
    SUPERVISOR_HUNG_UP = "supervisor_hung_up"
    CALL_ENDED = "call_ended"  # the seat's call ended (or the operator left it)
    NO_ANSWER = "no_answer"  # the supervisor's phone did not answer in time (or refused)
    FAILED = "failed"  # Asterisk refused a step; the call itself went on untouched


END_REASON_LABELS: dict[EndReason, str] = {
    EndReason.STOPPED: "主管结束",
    EndReason.SWITCHED: "切换方式",
    EndReason.SUPERVISOR_HUNG_UP: "主管挂机",
    EndReason.CALL_ENDED: "通话结束",
    EndReason.NO_ANSWER: "主管话机未接听",
    EndReason.FAILED: "失败",
}


class Refusal(StrEnum):
    """Why supervision cannot start (or stop) as asked."""

    NO_PHONE = "no_phone"
    PHONE_OFFLINE = "phone_offline"
    NOT_TALKING = "not_talking"
    NOT_SUPERVISING = "not_supervising"


REFUSAL_LABELS: dict[Refusal, str] = {
    Refusal.NO_PHONE: "您的账号没有登记主管话机（设置 listen_in.phones），不能监听",
    Refusal.PHONE_OFFLINE: "您的主管话机未注册，请先让话机上线",
    Refusal.NOT_TALKING: "该坐席当前不在通话中，不能监听、密语或强插",
    Refusal.NOT_SUPERVISING: "您当前没有在监听这个坐席",
}


def labels() -> dict[str, dict[str, str]]:
    """Every label of this feature, for the browser (it keeps no copy)."""
    return {"modes": {str(k): v for k, v in MODE_LABELS.items()},
            "end_reasons": {str(k): v for k, v in END_REASON_LABELS.items()}}
