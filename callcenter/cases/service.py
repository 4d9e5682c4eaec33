"""Publishing typical cases: the suggested public text of a closed ticket (its summary and
the unit's reply, redacted), publication only of a closed ticket and only when the
supervisor confirms the text they edited (redacted again here: a number typed back in
is removed, and the answer says so), and withdrawal with a reason; each logged."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from callcenter.cases.redaction import Redacted, redact
from callcenter.cases.repository import CaseRepository
from callcenter.clock import iso_local
from callcenter.errors import HotlineError
from callcenter.settings import Settings
from callcenter.store import Row

MAX_TITLE = 100
MAX_BODY = 5000


class CaseError(HotlineError):
    """A publication that cannot be done: the message says why."""


class CaseNotFound(CaseError):
    pass


@dataclass(frozen=True)
class Suggestion:
    ticket_id: int
    title: Redacted
    body: Redacted


class CaseService:
    def __init__(self, settings: Settings, repository: CaseRepository, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.repository = repository
        self.clock = clock

    async def _closed(self, ticket_id: int) -> Row:
        ticket = await self.repository.ticket(ticket_id)
        if ticket is None:
            raise CaseNotFound(f"no ticket {ticket_id}")
        if ticket["state"] != "closed":
            raise CaseError(f"ticket {ticket_id} is {ticket['state']}: only a closed ticket is published")
        return ticket

    async def suggest(self, ticket_id: int) -> Suggestion:
        ticket = await self._closed(ticket_id)
        name = str(ticket["citizen_name"] or "")
        summary = " ".join(str(ticket["summary"]).split())
        title = summary if len(summary) <= 40 else summary[:40] + "…"
        body = f"市民反映：{ticket['summary']}\n\n{ticket['unit_name']}答复：{ticket['reply'] or ''}".strip()
        return Suggestion(ticket_id, redact(title, name), redact(body, name))

    async def publish(self, ticket_id: int, title: str, body: str, confirm: bool, actor: str | None
                      ) -> tuple[int, Redacted, Redacted]:
        """The case's id and the texts as stored (with what was still removed)."""
        ticket = await self._closed(ticket_id)
        if not confirm:
            raise CaseError("nothing is published without the supervisor's confirmation (confirm = true)")
        title, body = title.strip(), body.strip()
        if not title or not body:
            raise CaseError("a case needs a title and a public text")
        if len(title) > MAX_TITLE or len(body) > MAX_BODY:
            raise CaseError(f"a case's title is at most {MAX_TITLE} characters and its text {MAX_BODY}")
        name = str(ticket["citizen_name"] or "")
        clean_title, clean_body = redact(title, name), redact(body, name)
        now = self.clock()
        at = iso_local(now, self.settings.zone)
        case_id = await self.repository.publish({
            "ticket_id": ticket_id, "title": clean_title.text, "body": clean_body.text,
            "unit_name": ticket["unit_name"], "category": ticket["category"], "published": at,
            "published_epoch": now, "published_by": actor, "updated_epoch": now}, at, actor)
        return case_id, clean_title, clean_body

    async def withdraw(self, case_id: int, reason: str, actor: str | None) -> None:
        if not reason.strip():
            raise CaseError("a withdrawal needs its reason")
        now = self.clock()
        if not await self.repository.withdraw(case_id, iso_local(now, self.settings.zone), now, actor,
                                              reason.strip()[:500]):
            raise CaseNotFound(f"no case {case_id} is published now")
