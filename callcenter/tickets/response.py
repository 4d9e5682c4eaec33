"""Response limits of written messages (GB/T 33358): a person answers an SMS within 3
minutes and the mailbox within 24 hours ([channels] in the settings). An automatic
acknowledgement sent within the limit moves the limit to `follow_up` after it: it counts
only if a person follows in that time. Pure functions of epochs; the desk and the
briefing ask them."""

from __future__ import annotations

from dataclasses import dataclass

from callcenter.settings import ChannelsSection
from callcenter.vocabulary import Channel, ResponseStanding


@dataclass(frozen=True)
class ResponseLimits:
    """Seconds a person has to answer each written channel; None: no limit (a call)."""

    sms: float
    mailbox: float
    forum: float
    follow_up: float
    nearing_share: float

    @classmethod
    def of(cls, section: ChannelsSection) -> ResponseLimits:
        return cls(sms=section.sms_response_minutes * 60, mailbox=section.mailbox_response_hours * 3600,
                   forum=section.forum_response_hours * 3600, follow_up=section.follow_up_minutes * 60,
                   nearing_share=section.nearing_share)

    def limit(self, channel: Channel | str) -> float | None:
        return {Channel.SMS: self.sms, Channel.MAILBOX: self.mailbox, Channel.FORUM: self.forum}.get(
            Channel(channel))

    def due(self, channel: Channel | str, received: float, acknowledged: float | None = None) -> float | None:
        """When a person's response is due: the channel's limit after the message came,
        or, after an acknowledgement sent within that limit, `follow_up` after it."""
        limit = self.limit(channel)
        if limit is None:
            return None
        if acknowledged is not None and acknowledged - received <= limit:
            return max(received + limit, acknowledged + self.follow_up)
        return received + limit

    def standing(self, channel: Channel | str, received: float, acknowledged: float | None,
                 responded: float | None, now: float) -> ResponseStanding | None:
        """Where the message stands at `now`; None for a channel without a limit."""
        due = self.due(channel, received, acknowledged)
        limit = self.limit(channel)
        if due is None or limit is None:
            return None
        if responded is not None:
            return ResponseStanding.IN_TIME if responded <= due else ResponseStanding.ANSWERED_LATE
        if now > due:
            return ResponseStanding.LATE
        if due - now < limit * self.nearing_share:
            return ResponseStanding.NEARING
        return ResponseStanding.WAITING
