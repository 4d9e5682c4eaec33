"""ARI events, decoded: what each Asterisk event means for the call flow, before the
runner looks up whose channel it is. Pure; times are Asterisk's own timestamps (when an
event has none, the time it is decoded)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from callcenter.calls import machine as m
from callcenter.clock import parse_ari_time
from callcenter.listen_in.session import APP_ARG as LISTEN_IN_ARG

# Asterisk's "Normal Clearing": what a hang-up without a cause is taken for.
NORMAL_CLEARING = 16

# Every ARI event the controller reads (the call flow here, the callbacks and the
# listen-in read some of the same). Asterisk is asked to send only these: of the 49
# events of an answered call, 34 are others (25 ChannelVarset alone), each encoded by
# Asterisk and decoded here for nothing.
EVENTS_READ = ("StasisStart", "StasisEnd", "ChannelStateChange", "ChannelDtmfReceived", "ChannelHangupRequest",
               "ChannelDestroyed", "PlaybackStarted", "PlaybackFinished")


@dataclass(frozen=True)
class ToCall:
    """An event of the call whose caller channel is `channel_id` (if it is one of ours)."""

    channel_id: str
    event: m.Event


@dataclass(frozen=True)
class ChannelEntered:
    """A channel entered the Stasis app: a citizen's new call, unless it is known."""

    channel: Mapping[str, Any]
    at: float


@dataclass(frozen=True)
class SeatLegEntered:
    """A seat answered the channel the controller originated to it (app args "seat,...")."""

    channel_id: str
    at: float


@dataclass(frozen=True)
class UnitLegEntered:
    """A responsible unit answered the three-way call's channel (app args "unit,<call>,<unit>")."""

    channel_id: str
    at: float


@dataclass(frozen=True)
class ListenInEntered:
    """A supervision's channel (app args "listen_in,...") that no running supervision owns."""

    channel_id: str


@dataclass(frozen=True)
class HangupRequested:
    """Asterisk says why a channel is being hung up; the cause arrives before the channel goes."""

    channel_id: str
    cause: int


@dataclass(frozen=True)
class ChannelGone:
    """The channel left the app or was destroyed; `cause` None when the event has none."""

    channel_id: str
    at: float
    cause: int | None
    cause_text: str


Decoded = ToCall | ChannelEntered | SeatLegEntered | UnitLegEntered | ListenInEntered | HangupRequested | ChannelGone


def event_time(event: Mapping[str, Any]) -> float:
    try:
        return parse_ari_time(str(event["timestamp"]))
    except (KeyError, ValueError):
        return time.time()


def playback_channel(event: Mapping[str, Any]) -> str:
    """The channel a playback event is about ("" for a bridge's or none)."""
    target = str((event.get("playback") or {}).get("target_uri", ""))
    return target[len("channel:"):] if target.startswith("channel:") else ""


def channel_of(event: Mapping[str, Any]) -> str:
    """The channel an event is about: its channel's, or a playback's target."""
    channel_id = str((event.get("channel") or {}).get("id", ""))
    if not channel_id and str(event.get("type", "")).startswith("Playback"):
        return playback_channel(event)
    return channel_id


def decode(event: Mapping[str, Any]) -> Decoded | None:
    """What the event means, or None for events the call flow does not use."""
    kind = event.get("type", "")
    at = event_time(event)
    channel = event.get("channel") or {}
    channel_id = str(channel.get("id", ""))
    if kind == "StasisStart":
        args = event.get("args") or []
        if args and args[0] == "seat":
            return SeatLegEntered(channel_id, at)
        if args and args[0] == "unit":
            return UnitLegEntered(channel_id, at)
        if args and args[0] == LISTEN_IN_ARG:
            return ListenInEntered(channel_id)
        return ChannelEntered(channel, at)
    if kind == "ChannelStateChange" and channel.get("state") == "Up":
        return ToCall(channel_id, m.Answered(at))
    if kind in ("PlaybackStarted", "PlaybackFinished"):
        target = playback_channel(event)
        if not target:
            return None
        playback = event.get("playback") or {}
        playback_id = str(playback.get("id", ""))
        if kind == "PlaybackFinished":
            return ToCall(target, m.PlaybackFinished(at, playback_id))
        prompt = str(playback.get("media_uri", "")).rsplit("/", 1)[-1]
        return ToCall(target, m.PlaybackStarted(at, playback_id, prompt))
    if kind == "ChannelDtmfReceived":
        return ToCall(channel_id, m.Digit(at, str(event.get("digit", ""))))
    if kind == "ChannelHangupRequest":
        return HangupRequested(channel_id, int(event.get("cause", NORMAL_CLEARING) or NORMAL_CLEARING))
    if kind in ("StasisEnd", "ChannelDestroyed"):
        cause = int(event.get("cause") or 0) if "cause" in event else None
        return ChannelGone(channel_id, at, cause, str(event.get("cause_txt", "")))
    return None
