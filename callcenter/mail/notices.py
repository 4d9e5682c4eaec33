"""The mail notices service: it listens to the tickets desk and mails the unit
concerned when a ticket is forwarded to it (新工单) or urged (督办), and once a day per
ticket while the deadline is near (即将到期), from a scan every few minutes.

The desk's listener only queues the change (it runs inside the desk's operation); one
task sends the queued notices in order, another scans the deadlines, each supervised: a
crash is logged loudly and the task starts again. A mail that cannot be sent is logged
with the ticket's number and never reaches the desk: its operation has already
succeeded. Which tickets were warned today is kept in `<state_dir>/mail-due-soon.json`,
so a restart the same day warns nobody twice."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

from callcenter.mail.message import Notice, NoticeKind, build_message, ticket_link
from callcenter.mail.sender import MailError, SmtpSender
from callcenter.settings import MailSection, Settings
from callcenter.supervision import stop_task, supervised
from callcenter.tickets.service import TicketChange, TicketService
from callcenter.vocabulary import TicketState

log = logging.getLogger(__name__)

SCAN_SECONDS = 300.0  # how often deadlines are looked at
PAGE = 200  # tickets read per page of a scan
# Tickets with the unit: an open one is still with the hotline (or sent back to it).
WITH_UNIT = (TicketState.FORWARDED, TicketState.REOPENED)
_MAILED_CHANGES = {"forwarded": NoticeKind.NEW, "urged": NoticeKind.URGED}


class Sender(Protocol):
    async def send(self, message: EmailMessage, about: str = "") -> None: ...


@dataclass
class DueSoonLedger:
    """The tickets warned of their deadline on `day` (only today's are kept)."""

    path: Path
    day: str = ""
    sent: set[int] = field(default_factory=set)

    @classmethod
    def load(cls, path: Path) -> DueSoonLedger:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            return cls(path, str(raw["day"]), {int(n) for n in raw["sent"]})
        except FileNotFoundError:
            return cls(path)
        except (ValueError, KeyError, TypeError) as exc:  # a damaged file costs at most a second warning
            log.warning("mail: %s is damaged (%s); starting a new one", path, exc)
            return cls(path)

    def done(self, day: date, ticket_id: int) -> bool:
        return self.day == day.isoformat() and ticket_id in self.sent

    def mark(self, day: date, ticket_id: int) -> None:
        if self.day != day.isoformat():
            self.day, self.sent = day.isoformat(), set()
        self.sent.add(ticket_id)
        self._save()

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"day": self.day, "sent": sorted(self.sent)}), encoding="utf-8")
        os.replace(tmp, self.path)


class MailNotices:
    def __init__(self, mail: MailSection, tickets: TicketService, sender: Sender, *, console_url: str,
                 ledger: DueSoonLedger, clock: Callable[[], float] = time.time) -> None:
        self.mail = mail
        self.tickets = tickets
        self.sender = sender
        self.console_url = console_url
        self.ledger = ledger
        self._clock = clock
        self._zone = tickets.settings.zone
        self._changes: asyncio.Queue[TicketChange] = asyncio.Queue()
        self._no_address: set[str] = set()

    # --- the desk's changes -------------------------------------------------------------

    def on_change(self, change: TicketChange) -> None:
        """The desk's listener: queue the change if it is mailed (never blocks, never raises)."""
        if change.kind in _MAILED_CHANGES:
            self._changes.put_nowait(change)

    async def deliver_changes(self) -> None:
        """Mail each queued change, in order, for ever."""
        while True:
            change = await self._changes.get()
            try:
                await self._mail_change(change)
            except Exception:  # a bad ticket must not stop the notices of the others
                log.exception("mail: the %s notice of ticket %s failed", change.kind, change.ticket_id)
            finally:
                self._changes.task_done()

    async def settled(self) -> None:
        """Until every change queued so far has been mailed (or given up)."""
        await self._changes.join()

    async def drain(self, grace: float) -> None:
        """On the way out: a few seconds for the queued notices, then say which are lost."""
        try:
            await asyncio.wait_for(self._changes.join(), grace)
        except TimeoutError:
            lost = []
            while not self._changes.empty():
                lost.append(self._changes.get_nowait())
                self._changes.task_done()
            if lost:
                log.error("mail: stopping with %d notices unsent: %s", len(lost),
                          ", ".join(f"ticket {c.ticket_id} {c.kind}" for c in lost))

    async def _mail_change(self, change: TicketChange) -> None:
        kind = _MAILED_CHANGES[change.kind]
        detail = await self.tickets.detail(change.ticket_id)
        ticket = detail.ticket
        # The unit the change went to, from the ticket's history: by now the ticket may
        # have been forwarded again, to another unit.
        unit = str(ticket["unit"])
        for event in detail.events:
            at, data = event.get("at_epoch"), event.get("data")
            if event.get("kind") == change.kind and isinstance(at, int | float) and at <= change.at \
                    and isinstance(data, dict) and isinstance(data.get("unit"), str):
                unit = data["unit"]
        await self._send(kind, change.ticket_id, unit, _day(ticket.get("deadline")))

    # --- deadlines ----------------------------------------------------------------------

    async def watch_deadlines(self, every: float = SCAN_SECONDS) -> None:
        """Scan every `every` seconds; the first scan after at most a minute (a hotline
        that is starting has more pressing work)."""
        await asyncio.sleep(min(every, 60.0))
        while True:
            await self.scan_deadlines()
            await asyncio.sleep(every)

    async def scan_deadlines(self) -> int:
        """Warn the units of every ticket in their hands whose deadline is at most
        `deadline_warning_working_days` working days away, once a day; the mails sent.
        A failed mail ends the scan (the server is likely down): the next scan retries."""
        within = self.mail.deadline_warning_working_days
        if within <= 0:
            return 0
        now = self._clock()
        today = datetime.fromtimestamp(now, self._zone).date()
        # The list puts overdue tickets first, then the others by deadline: skip the
        # overdue ones, and stop at the first deadline beyond the window.
        _, overdue = await self.tickets.listing(now=now, states=WITH_UNIT, overdue_only=True, limit=1)
        offset, sent = overdue, 0
        while True:
            rows, total = await self.tickets.listing(now=now, states=WITH_UNIT, limit=PAGE, offset=offset)
            for row in rows:
                left = row.get("working_days_left")
                if row.get("overdue") or not isinstance(left, int):
                    continue
                if left > within:
                    return sent
                ticket_id = row["ticket_id"]
                assert isinstance(ticket_id, int)
                if self.ledger.done(today, ticket_id):
                    continue
                if not await self._send(NoticeKind.DUE_SOON, ticket_id, str(row["unit"]), _day(row.get("deadline")),
                                        left):
                    return sent
                await asyncio.to_thread(self.ledger.mark, today, ticket_id)
                sent += 1
            offset += len(rows)
            if not rows or offset >= total:
                return sent

    # --- sending ------------------------------------------------------------------------

    async def _send(self, kind: NoticeKind, ticket_id: int, unit_code: str, deadline: date | None,
                    left: int | None = None) -> bool:
        """Mail one notice to the unit; True when sent, or when there is nobody to send it
        to (a unit without addresses: said once per unit)."""
        unit = self.tickets.directory.get(unit_code)
        if unit is None or not unit.email:
            if unit_code not in self._no_address:
                self._no_address.add(unit_code)
                log.warning("mail: unit %s has no email in %s: its tickets are not mailed (first: ticket %s)",
                            unit_code, self.tickets.directory.source, ticket_id)
            return True
        notice = Notice(kind, ticket_id, unit.code, unit.name, unit.email, deadline,
                        ticket_link(self.console_url, ticket_id), left)
        message = build_message(notice, sender=self.mail.sender, title=self.tickets.directory.title,
                                now=self._clock(), zone=self._zone)
        try:
            await self.sender.send(message, about=f"ticket {ticket_id}")
        except MailError as exc:
            log.error("mail: the %s notice of ticket %s to unit %s was not sent: %s", kind, ticket_id, unit.code, exc)
            return False
        log.info("mail: %s notice of ticket %s sent to unit %s", kind, ticket_id, unit.code)
        return True


def _day(value: object) -> date | None:
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


@asynccontextmanager
async def mail_running(settings: Settings, tickets: TicketService, console_url: str, *,
                       sender: Sender | None = None, clock: Callable[[], float] = time.time,
                       scan_seconds: float = SCAN_SECONDS) -> AsyncIterator[MailNotices | None]:
    """The mail notices while the block runs (None when `[mail]` is off); `console_url`
    is used for the links unless `mail.console_url` is set. Stops in reverse: no new
    changes, a few seconds for the queued mails, the tasks, the SMTP thread."""
    mail = settings.mail
    if not mail.enabled:
        yield None
        return
    async with AsyncExitStack() as stack:
        if sender is None:
            smtp = SmtpSender(mail)
            stack.callback(smtp.close)
            sender = smtp
        notices = MailNotices(mail, tickets, sender, console_url=mail.console_url or console_url,
                              ledger=DueSoonLedger.load(settings.paths.state_dir / "mail-due-soon.json"), clock=clock)
        for name, work in (("mail notices", notices.deliver_changes),
                           ("mail deadline scan", lambda: notices.watch_deadlines(scan_seconds))):
            stack.push_async_callback(stop_task, asyncio.create_task(supervised(name, work), name=name))
        stack.push_async_callback(notices.drain, 5.0)
        stack.callback(tickets.subscribe(notices.on_change))
        log.info("mail notices on: %s:%d, links to %s", mail.host, mail.port, notices.console_url)
        yield notices
