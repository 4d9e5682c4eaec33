"""Helpers for the public site's tests: the site on a free port over a test's store (a
clock the test moves), a mailbox submission read back, and a published case written as
the staff's side would."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import aiohttp

from callcenter.public import public_running
from callcenter.public.repository import PublicRepository
from callcenter.services import Services
from callcenter.settings import Settings
from callcenter.store import Row
from tests.harness import free_port

TICKET_NUMBER = re.compile(r'id="ticket-number">(\d+)<')
QUERY_CODE = re.compile(r'id="query-code">([0-9A-Z]+)<')


@dataclass
class RunningPublic:
    url: str
    settings: Settings
    services: Services
    clock: list[float] = field(default_factory=lambda: [time.time()])

    @property
    def repository(self) -> PublicRepository:
        return PublicRepository(self.services.store)

    def advance(self, seconds: float) -> None:
        self.clock[0] += seconds


@asynccontextmanager
async def public_site_running(settings: Settings, services: Services,
                              clock: list[float] | None = None) -> AsyncIterator[RunningPublic]:
    moving = clock if clock is not None else [time.time()]
    async with public_running(settings, services, bind="127.0.0.1", port=free_port((socket.SOCK_STREAM,)),
                              clock=lambda: moving[0]) as url:
        yield RunningPublic(url, settings, services, moving)


def citizen_form(**fields: str) -> dict[str, str]:
    form = {"name": "王女士", "phone": "13912345678", "problem": "小区门口路灯坏了一个月，晚上出行不便。",
            "category": "help", "place": "城区凤台街", "website": ""}
    form.update(fields)
    return form


async def submit(http: aiohttp.ClientSession, url: str, form: dict[str, str], status: int = 200,
                 headers: dict[str, str] | None = None) -> str:
    async with http.post(f"{url}/mailbox", data=form, headers=headers or {}) as response:
        text = await response.text()
        assert response.status == status, (response.status, text[:500])
        return text


def receipt(page: str) -> tuple[int, str]:
    """The ticket number and query code a received page shows."""
    number, code = TICKET_NUMBER.search(page), QUERY_CODE.search(page)
    assert number and code, page[:1000]
    return int(number.group(1)), code.group(1)


async def publish_case(site: RunningPublic, ticket_id: int, title: str, body: str, at: float,
                       unit_name: str = "城区住建局", category: str = "help", withdrawn: bool = False,
                       published: bool = True) -> int:
    row: Row = {"ticket_id": ticket_id, "title": title, "body": body, "unit_name": unit_name, "category": category,
                "published": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(at)) if published else None,
                "published_epoch": at if published else None, "published_by": "supervisor",
                "withdrawn_epoch": at + 1 if withdrawn else None, "updated_epoch": at}
    return await site.repository.add_case_for_tests(row)
