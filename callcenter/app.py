"""The one place that starts and stops everything: `hotline up`.

Order: provision the Asterisk root if needed, start Asterisk, start the controller;
stop in reverse. Blocking steps (provisioning, starting Asterisk) run in a thread so
the event loop stays responsive to Ctrl-C.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from callcenter import pbx
from callcenter.settings import Settings


@asynccontextmanager
async def running_hotline(settings: Settings) -> AsyncIterator[None]:
    async with AsyncExitStack() as stack:
        if settings.embedded:
            await asyncio.to_thread(pbx.provision, settings)
            await asyncio.to_thread(pbx.start, settings)
            stack.push_async_callback(asyncio.to_thread, pbx.stop, settings)
        yield


def where_lines(settings: Settings) -> list[str]:
    a = settings.asterisk
    return [
        f"12345 hotline is up. Dial sip:{settings.hotline.number}@{a.sip_bind}:{a.sip_port} from any SIP phone.",
        f"  seats:       seat1..seat6 register at {a.sip_bind}:{a.sip_port} (UDP or TCP),"
        f" passwords in {settings.credentials_file}",
        f"  recordings:  {settings.paths.recordings_dir}",
        f"  database:    {settings.paths.database}",
        f"  ARI:         {settings.ari_url}    AMI: {settings.ami_host}:{a.ami_port}",
        "  Ctrl-C stops everything.",
    ]


async def serve(settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with running_hotline(settings):
        for line in where_lines(settings):
            print(line, flush=True)
        await stop.wait()
        print("stopping...", flush=True)
