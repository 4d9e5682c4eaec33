"""The one place that starts and stops everything: `hotline up`.

Order: provision the Asterisk root if needed, build the prompts, start Asterisk, open
the store and build the services on it, start the recordings' daily prune, the mail
notices, the controller, then the console; stop in reverse. Blocking steps run in a thread so the
event loop stays responsive to Ctrl-C.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import aiohttp

from callcenter import pbx
from callcenter.ari import AriClient, AriConfig, EventStream, SocketRequests
from callcenter.ari_capture import CaptureWriter, capturing, tap, tap_connected
from callcenter.callbacks import CallbackRunner
from callcenter.calls.ari_events import EVENTS_READ
from callcenter.calls.runner import Controller
from callcenter.errors import HotlineError, PbxError
from callcenter.heap import trimming
from callcenter.knowledge.service import starter_folder
from callcenter.leadership import leadership_for
from callcenter.leadership.lease import acquire
from callcenter.mail.notices import mail_running
from callcenter.nodes import Nodes
from callcenter.public import public_running, public_url
from callcenter.recordings import repair_all
from callcenter.recordings.compress import compression_running
from callcenter.recordings.retention import retention_running
from callcenter.seats.roster import coverage_warning
from callcenter.services import Services
from callcenter.settings import Settings
from callcenter.sms.repository import SmsRepository
from callcenter.sms.sender import sms_sender_running
from callcenter.store import Store, store_target
from callcenter.store.url import redacted
from callcenter.supervision import stop_task
from callcenter.users import credentials_path
from callcenter.web import console_url, web_running

log = logging.getLogger(__name__)

# Connections to ARI at most (the events' WebSocket is one of them). aiohttp's default is
# 100: under a burst every request in flight opened its own keep-alive connection, each
# one a thread in Asterisk's HTTP server, and both processes kept the memory of that
# high-water mark (the soak: controller descriptors 11 -> 81, Asterisk +30 MB). Requests
# beyond this wait in the controller; one takes a few ms, so 16 carry thousands a second.
ARI_CONNECTIONS = 16
# Seconds an idle connection to ARI is kept. Asterisk closes one after 15 s idle
# (http.conf session_keep_alive), aiohttp's default is the same 15 s: a request sent on
# a connection Asterisk is closing at that moment fails with "connection reset by peer",
# and the call with it. Letting go well before Asterisk does removes the race.
ARI_KEEPALIVE_SECONDS = 5.0


@asynccontextmanager
async def services_running(settings: Settings) -> AsyncIterator[Services]:
    """The store, open, and every repository and service on it."""
    async with Store(store_target(settings)) as store:
        yield Services.on(settings, store)


@asynccontextmanager
async def controller_running(
    settings: Settings, services: Services, shift_clock: Callable[[], float] = time.time,
    connect_timeout: float = 15.0, watch: Callable[[asyncio.Task[None]], None] | None = None,
) -> AsyncIterator[Controller]:
    """The ARI connection and the controller, connected and adopting calls; `watch` is
    given the event reader's task, which ends only when reading cannot go on."""
    async with AsyncExitStack() as stack:
        capture = os.environ.get("HOTLINE_ARI_CAPTURE")  # every ARI event and request as JSON lines (replay tests)
        writer = stack.enter_context(CaptureWriter(Path(capture))) if capture else None
        store = services.store
        await stack.enter_async_context(trimming())
        session = await stack.enter_async_context(
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=ARI_CONNECTIONS,
                                                                 keepalive_timeout=ARI_KEEPALIVE_SECONDS)))
        creds = settings.credentials()
        clients: dict[str, AriClient] = {}
        configs: dict[str, tuple[AriConfig, SocketRequests]] = {}
        for node, url in settings.ari_nodes.items():  # one ARI connection per Asterisk node
            config = AriConfig(url, creds.ari_user, creds.ari_password, settings.asterisk.app)
            sockets = SocketRequests()
            clients[node] = capturing(config, session, writer, sockets)
            configs[node] = config, sockets
        nodes = Nodes(clients)
        # Callbacks go out from the first node (its trunk); in a cluster, an idea for later
        # is to try the next node when that one is away.
        callbacks = CallbackRunner(settings, nodes.client(nodes.default), store, shift_clock)
        stack.push_async_callback(callbacks.stop)
        controller = Controller(settings, nodes, services.calls, services.seats, services.nuisance, callbacks,
                                shift_clock=shift_clock, listen_in_log=services.listen_in)
        await controller.start()
        stack.push_async_callback(controller.stop)
        streams: list[EventStream] = []
        readers: list[asyncio.Task[None]] = []
        for node, (config, sockets) in configs.items():
            ari = clients[node]

            async def connected(node: str = node, ari: AriClient = ari) -> None:
                await ari.receive_only(EVENTS_READ)
                await controller.adopt(node)

            def on_event(event: dict[str, Any], node: str = node) -> None:
                controller.on_event(event, node)

            stream = EventStream(config, session, tap(on_event, writer), tap_connected(connected, writer),
                                 on_disconnected=partial(controller.disconnected, node), sockets=sockets)
            reader = asyncio.create_task(stream.run(),
                                         name="ari-events" if not nodes.clustered else f"ari-events {node}")
            if watch is not None:
                watch(reader)
            stack.push_async_callback(stop_task, reader)
            streams.append(stream)
            readers.append(reader)
        scheduler = asyncio.create_task(callbacks.run(), name="callbacks")
        stack.push_async_callback(stop_task, scheduler)
        # One node is enough to start answering (a cluster's others are adopted as they come).
        waiters = {asyncio.create_task(stream.connected.wait()) for stream in streams}
        done, _ = await asyncio.wait({*waiters, *readers}, timeout=connect_timeout,
                                     return_when=asyncio.FIRST_COMPLETED)
        for waiter in waiters:
            waiter.cancel()
        if not done & waiters:
            failed = next((r for r in readers if r in done and r.exception() is not None), None)
            if failed is not None:
                raise PbxError(f"the controller could not connect to ARI: {failed.exception()}")
            raise PbxError(f"ARI at {', '.join(settings.ari_nodes.values())} did not accept the controller "
                           f"within {connect_timeout:.0f} s")
        yield controller


def build_prompts(settings: Settings) -> Path:
    from callcenter.prompts import build_prompts as build

    return build(settings)


async def keep_asterisk_running(settings: Settings, prompts: Path, check_every: float = 1.0,
                                first_delay: float = 2.0, max_delay: float = 60.0) -> None:
    """Start the embedded Asterisk again whenever it is gone (crashed, killed, stopped by
    hand), after `first_delay` (so that an operator's own `hotline pbx start` right after
    a `stop` wins), doubling the wait after each failed start. The controller's event
    stream reconnects by itself and adopts the calls."""
    instance = pbx.Instance.of(settings)
    delay = first_delay
    while True:
        await asyncio.sleep(check_every)
        if instance.running_pid() is not None:
            delay = first_delay
            continue
        log.error("Asterisk is not running: starting it again in %.0f s", delay)
        await asyncio.sleep(delay)
        if instance.running_pid() is not None:
            continue
        try:
            pid = await asyncio.to_thread(pbx.start, settings, prompts, log.info)
        except Exception:
            log.exception("starting Asterisk again failed; next try in %.0f s", min(delay * 2, max_delay))
            delay = min(delay * 2, max_delay)
            continue
        log.warning("Asterisk started again (pid %d)", pid)
        delay = first_delay
        # The recordings of calls cut by the death have headers that claim no audio.
        repaired = await asyncio.to_thread(repair_all, settings.paths.recordings_dir)
        if repaired:
            log.warning("repaired the headers of %d recordings cut short when Asterisk died", repaired)


@asynccontextmanager
async def running_hotline(settings: Settings, watch: Callable[[asyncio.Task[None]], None] | None = None,
                          ) -> AsyncIterator[Controller]:
    async with AsyncExitStack() as stack:
        prompts = await asyncio.to_thread(build_prompts, settings)
        if settings.embedded:
            await asyncio.to_thread(pbx.provision, settings)
            await asyncio.to_thread(pbx.start, settings, prompts)
            stack.push_async_callback(asyncio.to_thread, pbx.stop, settings)
            keeper = asyncio.create_task(keep_asterisk_running(settings, prompts), name="asterisk-keeper")
            if watch is not None:
                watch(keeper)

            async def stop_keeper() -> None:  # before Asterisk is stopped, or it would start it again
                keeper.cancel()
                await asyncio.gather(keeper, return_exceptions=True)

            stack.push_async_callback(stop_keeper)
        repaired = await asyncio.to_thread(repair_all, settings.paths.recordings_dir)
        if repaired:
            print(f"repaired the headers of {repaired} recordings cut short by a crash", flush=True)
        services = await stack.enter_async_context(services_running(settings))
        _warn_about_roster(services)
        # In the background: cutting the starter articles' words takes a second or two
        # (jieba's dictionary), which must not hold up answering calls. Stopped before the store.
        starter = asyncio.create_task(_starter_knowledge(settings, services), name="knowledge starter")
        stack.push_async_callback(stop_task, starter)
        # Recordings past recordings.retention_days: pruned now and then daily, supervised.
        await stack.enter_async_context(retention_running(settings, services))
        await stack.enter_async_context(compression_running(settings, services))
        # Mail notices to the units ([mail], off by default): stopped before the store closes.
        await stack.enter_async_context(mail_running(settings, services.tickets, console_url(settings)))
        # Replies to citizens' text messages out through the SMS gateway ([sms] gateway_url).
        await stack.enter_async_context(sms_sender_running(settings, SmsRepository(services.store), services.tickets))
        controller = await stack.enter_async_context(controller_running(settings, services, watch=watch))
        # The console last, so it stops first: no page is served by a controller that is gone.
        await stack.enter_async_context(web_running(settings, services, controller))
        if settings.public.enabled:  # the citizens' site: its own server, after the console
            await stack.enter_async_context(public_running(settings, services))
        yield controller


async def _starter_knowledge(settings: Settings, services: Services) -> None:
    """An empty knowledge base gets the starter articles (config/knowledge, each marked
    示例) so the console has something to show; a base with any article is left alone.
    A failure is logged, never fatal: the hotline answers calls without its base."""
    try:
        loaded = await services.knowledge.load_starter(starter_folder(settings))
    except HotlineError as exc:
        log.error("knowledge base: the starter articles were not loaded: %s", exc)
        return
    except Exception:  # a task nobody awaits: its failure is said here or nowhere
        log.exception("knowledge base: loading the starter articles failed")
        return
    if loaded is not None:
        print(f"knowledge base: loaded {loaded.created} starter articles (marked 示例) from {starter_folder(settings)}",
              flush=True)


def _warn_about_roster(services: Services) -> None:
    warning = coverage_warning(services.seats.roster)
    if warning:
        log.warning("%s", warning)
        print(warning, flush=True)


def where_lines(settings: Settings) -> list[str]:
    a = settings.asterisk
    return [
        f"12345 hotline is up. Dial sip:{settings.hotline.number}@{a.sip_bind}:{a.sip_port} from any SIP phone.",
        f"  seats:       seat1..seat6 register at {a.sip_bind}:{a.sip_port} (UDP or TCP),"
        f" passwords in {settings.credentials_file}",
        f"  roster:      {settings.paths.roster}",
        f"  recordings:  {settings.paths.recordings_dir}",
        f"  database:    {redacted(settings.store.url) or settings.paths.database}",
        f"  ARI:         {settings.ari_url}    AMI: {settings.ami_host}:{a.ami_port}",
        f"  console:     {console_url(settings)}  (accounts: {credentials_path(settings.paths.state_dir)})",
        *([f"  public site: {public_url(settings)}  (市长信箱, 办理查询, 典型案例; behind the city's HTTPS proxy)"]
          if settings.public.enabled else []),
        "  Ctrl-C stops everything.",
    ]


async def _until_signalled(critical: list[asyncio.Task[None]]) -> None:
    """Until SIGINT or SIGTERM, or until a task the hotline cannot run without ends: then
    a PbxError with the reason (one line, exit 2), never a process that looks alive and
    hears nothing."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({stopping, *critical}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
    for task in critical:
        if task.done() and not task.cancelled():
            error = task.exception()
            reason = f"{task.get_name()} stopped: {error}" if error else f"{task.get_name()} stopped"
            log.critical("%s", reason)
            raise PbxError(reason)


@asynccontextmanager
async def leading(settings: Settings, watch: Callable[[asyncio.Task[None]], None], standby: bool,
                  ) -> AsyncIterator[None]:
    """Hold the controller's leadership for the block (`callcenter.leadership`): with
    `standby`, wait for it while another controller holds it, else refuse to start. The
    task keeping it is watched: a lease lost ends the process (exit 2), never two
    controllers driving the same calls."""
    lease = leadership_for(settings.paths.state_dir, settings.store.url)
    await acquire(lease, lambda line: print(line, flush=True), wait=standby)
    keeper = asyncio.create_task(lease.keep(), name="leadership")
    watch(keeper)
    try:
        yield
    finally:
        await stop_task(keeper)
        await lease.release()


async def serve(settings: Settings) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    critical: list[asyncio.Task[None]] = []
    async with leading(settings, critical.append, standby=False), \
            running_hotline(settings, watch=critical.append):
        for line in where_lines(settings):
            print(line, flush=True)
        await _until_signalled(critical)
        print("stopping...", flush=True)


async def serve_controller(settings: Settings, console: bool = False) -> None:
    """Only the controller, against an Asterisk that runs already (`hotline controller`);
    while another controller is active, this one waits as its standby. With `console`,
    the active one serves the console too (a cluster's controllers: whichever leads)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    critical: list[asyncio.Task[None]] = []
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(leading(settings, critical.append, standby=True))
        services = await stack.enter_async_context(services_running(settings))
        controller = await stack.enter_async_context(controller_running(settings, services, watch=critical.append))
        _warn_about_roster(services)
        if console:
            await stack.enter_async_context(web_running(settings, services, controller))
            print(f"console at {console_url(settings)}", flush=True)
        print(f"controller connected to {', '.join(settings.ari_nodes.values())} (app {settings.asterisk.app})",
              flush=True)
        await _until_signalled(critical)
