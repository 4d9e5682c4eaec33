"""A checked message from the gateway taken in: added to the number's SMS ticket still in
progress from the last `sms.merge_hours`, else a new ticket; with `sms.auto_acknowledge`
the ticket number goes back at once (an acknowledgement, which stops GB/T 33358's
3-minute clock only if a person follows in time: `tickets.response`)."""

from __future__ import annotations

from dataclasses import dataclass

from callcenter.settings import Settings
from callcenter.sms.repository import SmsRepository
from callcenter.sms.uplink import Uplink
from callcenter.sms.vocabulary import ACKNOWLEDGEMENT
from callcenter.tickets import TicketService, WrittenMessage
from callcenter.vocabulary import Channel

ACTOR = "sms"  # who took a message in, in the ticket's history


@dataclass(frozen=True)
class TakenIn:
    ticket_id: int
    joined: bool  # added to the number's open ticket


class SmsIntake:
    def __init__(self, settings: Settings, tickets: TicketService, repository: SmsRepository) -> None:
        self.settings = settings
        self.tickets = tickets
        self.repository = repository

    async def take(self, uplink: Uplink, now: float) -> TakenIn:
        """The message stored on a ticket; TicketError when this gateway id was taken in already."""
        message = WrittenMessage(Channel.SMS, uplink.text, received_epoch=min(uplink.sent_epoch, now),
                                 contact_number=uplink.number, external_id=uplink.message_id, actor=ACTOR)
        open_ticket = await self.repository.open_ticket_of(uplink.number, now - self.settings.sms.merge_hours * 3600)
        if open_ticket is not None:
            await self.tickets.add_to(open_ticket, message)
            return TakenIn(open_ticket, joined=True)
        ticket_id = await self.tickets.take_in(message)
        if self.settings.sms.auto_acknowledge:
            await self.tickets.respond(ticket_id, ACKNOWLEDGEMENT.format(ticket_id=ticket_id), actor=None,
                                       automatic=True)
        return TakenIn(ticket_id, joined=False)
