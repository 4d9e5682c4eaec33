"""A citizen's message as the gateway posts it: JSON `{"from", "text", "time", "id"}`."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime

from callcenter.errors import HotlineError

MAX_TEXT = 2000  # characters: a long SMS is a few hundred; the gateway joins the parts
MAX_ID = 100
_NUMBER = re.compile(r"\+?[0-9]{3,20}")
_PRINTABLE_ID = re.compile(r"[\x21-\x7e]{1,100}")


class UplinkError(HotlineError):
    """The posted message is not one the hotline can take: the message says what is wrong."""


@dataclass(frozen=True)
class Uplink:
    number: str  # digits, the leading + kept
    text: str
    sent_epoch: float
    message_id: str


def parse_uplink(body: bytes) -> Uplink:
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise UplinkError("the body is not UTF-8 JSON") from None
    if not isinstance(data, dict):
        raise UplinkError("the body must be a JSON object with from, text, time and id")
    missing = [key for key in ("from", "text", "time", "id") if key not in data]
    if missing:
        raise UplinkError(f"missing field(s): {', '.join(missing)}")
    number, text, sent, message_id = data["from"], data["text"], data["time"], data["id"]
    if not isinstance(number, str) or not _NUMBER.fullmatch(number.strip()):
        raise UplinkError("from must be the sender's number (digits, an optional leading +)")
    if not isinstance(text, str) or not text.strip():
        raise UplinkError("text must be the message, not empty")
    if len(text) > MAX_TEXT:
        raise UplinkError(f"text is longer than {MAX_TEXT} characters")
    if not isinstance(message_id, str | int) or isinstance(message_id, bool) \
            or not _PRINTABLE_ID.fullmatch(str(message_id)):
        raise UplinkError(f"id must be the gateway's message id (1-{MAX_ID} printable characters)")
    return Uplink(number.strip(), text.strip(), _epoch(sent), str(message_id))


def _epoch(value: object) -> float:
    """`time` as unix seconds or ISO-8601 with an offset."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if 0 < value < 1e11:
            return float(value)
        raise UplinkError("time in unix seconds is out of range")
    if isinstance(value, str):
        try:
            when = datetime.fromisoformat(value.strip())
        except ValueError:
            raise UplinkError("time must be ISO-8601 with an offset or unix seconds") from None
        if when.tzinfo is None:
            raise UplinkError("time must carry its UTC offset (2026-12-04T09:30:00+08:00)")
        return when.timestamp()
    raise UplinkError("time must be ISO-8601 with an offset or unix seconds")
