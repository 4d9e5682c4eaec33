"""Every repository and domain service, built on one open store: what the controller,
the console and the `hotline` commands share. Built in one place so that each of them
is wired in its constructor, never patched in afterwards."""

from __future__ import annotations

from dataclasses import dataclass

from callcenter.calls.repository import CallRepository
from callcenter.listen_in.repository import ListenInRepository
from callcenter.nuisance.repository import NuisanceRepository
from callcenter.nuisance.service import NuisanceService
from callcenter.recordings.repository import RecordingRepository
from callcenter.seats.repository import SeatRepository
from callcenter.seats.roster import Roster
from callcenter.seats.service import SeatService
from callcenter.settings import Settings
from callcenter.store import Store
from callcenter.tickets.directory import load_directory, units_file
from callcenter.tickets.repository import TicketRepository
from callcenter.tickets.service import TicketService


@dataclass(frozen=True)
class Services:
    store: Store
    calls: CallRepository
    seats: SeatService
    nuisance: NuisanceService
    tickets: TicketService
    recordings: RecordingRepository
    listen_in: ListenInRepository

    @classmethod
    def on(cls, settings: Settings, store: Store, roster: Roster | None = None) -> Services:
        """The services over `store` (started by the caller); `roster` overrides the file's."""
        calls = CallRepository(store)
        return cls(
            store=store,
            calls=calls,
            seats=SeatService(settings, SeatRepository(store), calls, roster),
            nuisance=NuisanceService(settings, NuisanceRepository(store), calls),
            tickets=TicketService(settings, TicketRepository(store), calls, load_directory(units_file(settings))),
            recordings=RecordingRepository(store),
            listen_in=ListenInRepository(store),
        )
