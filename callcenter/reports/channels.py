"""The briefing's split by channel: how many contacts and tickets came by phone, the
mayor's mailbox, SMS, the forum or were typed in by hand, and for the written channels
how many a person answered within GB/T 33358's limit (`tickets.response`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from callcenter.reports.connection import percent
from callcenter.store import Row
from callcenter.tickets.response import ResponseLimits
from callcenter.vocabulary import CHANNEL_LABELS, WRITTEN_CHANNELS, Channel, ResponseStanding


@dataclass(frozen=True)
class ChannelFigure:
    channel: str
    label: str
    contacts: int  # phone: calls offered; written: citizens' messages received; manual: 0
    accepted: int | None  # phone: calls an operator answered; others: None
    tickets: int  # tickets created in the period by this channel
    limit_seconds: float | None  # a person's response limit; None: not a written channel
    with_limit: int | None  # written tickets of the period, all held to the limit
    answered_in_time: int | None
    answered_late: int | None
    late_unanswered: int | None  # nobody has answered and the limit has passed
    waiting: int | None  # nobody has answered yet, still within the limit
    in_time_pct: float | None  # answered in time / with a limit, 2 decimals


def _int(row: Mapping[str, object], key: str) -> int:
    value = row.get(key)
    return int(value) if isinstance(value, int | float) else 0


def _epoch(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def channel_figures(tickets: Sequence[Row], messages_in: Sequence[Row], written: Sequence[Row],
                    offered: int, accepted: int, limits: ResponseLimits, now: float) -> list[ChannelFigure]:
    """Per channel, in `Channel`'s order (pure). `tickets`: created per channel;
    `messages_in`: received per channel; `written`: each written ticket's epochs."""
    created = {str(r["channel"]): _int(r, "n") for r in tickets}
    received = {str(r["channel"]): _int(r, "n") for r in messages_in}
    standings: dict[str, list[ResponseStanding]] = {}
    for row in written:
        channel, start = str(row["channel"]), _epoch(row["received_epoch"])
        if start is None or Channel(channel) not in WRITTEN_CHANNELS:
            continue
        standing = limits.standing(channel, start, _epoch(row["acknowledged_epoch"]),
                                   _epoch(row["responded_epoch"]), now)
        if standing is not None:
            standings.setdefault(channel, []).append(standing)
    figures = []
    for channel in Channel:
        name = str(channel)
        if channel in WRITTEN_CHANNELS:
            counted = standings.get(name, [])
            in_time = counted.count(ResponseStanding.IN_TIME)
            figures.append(ChannelFigure(
                name, CHANNEL_LABELS[channel], received.get(name, 0), None, created.get(name, 0),
                limits.limit(channel), len(counted), in_time, counted.count(ResponseStanding.ANSWERED_LATE),
                counted.count(ResponseStanding.LATE),
                counted.count(ResponseStanding.WAITING) + counted.count(ResponseStanding.NEARING),
                percent(in_time, len(counted))))
        else:
            is_phone = channel is Channel.PHONE
            figures.append(ChannelFigure(
                name, CHANNEL_LABELS[channel], offered if is_phone else 0, accepted if is_phone else None,
                created.get(name, 0), None, None, None, None, None, None, None))
    return figures
