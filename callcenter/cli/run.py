"""`hotline up` (everything) and `hotline controller` (only the ARI controller)."""

from __future__ import annotations

import argparse
import asyncio

from callcenter.cli.common import Commands
from callcenter.settings import Settings


def _up(settings: Settings, args: argparse.Namespace) -> int:
    from callcenter.app import serve

    asyncio.run(serve(settings))
    return 0


def _controller(settings: Settings, args: argparse.Namespace) -> int:
    from callcenter.app import serve_controller

    asyncio.run(serve_controller(settings, console=args.console))
    return 0


def _status(settings: Settings, args: argparse.Namespace) -> int:
    """The running hotline's health, read from its console's /healthz (this machine only)."""
    import json
    import urllib.error
    import urllib.request

    from callcenter.errors import HotlineError
    from callcenter.web import console_url

    url = f"{console_url(settings)}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            report = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        if exc.code != 503:
            raise HotlineError(f"{url} answered {exc.code}") from None
        report = json.loads(exc.read())
    except (urllib.error.URLError, OSError) as exc:
        raise HotlineError(f"the hotline does not answer at {url} (is `hotline up` running?): {exc}") from None
    controller = report.get("controller") or {}
    asterisk = {True: "up", False: "DOWN", None: "external (not watched)"}[report.get("asterisk_up")]
    lines = [
        f"Asterisk:        {asterisk}",
        f"ARI events:      {'connected' if controller.get('ari_connected') else 'NOT connected'}"
        f" (last event {controller.get('last_event_age', '-')} s ago)",
        f"store:           write lag {report.get('store_write_lag')} s, {report.get('store_pending_writes', 0)} "
        f"writes waiting, {report.get('store_dropped_writes', 0)} dropped"
        + (f", cannot commit: {report['store_commit_error']}" if report.get("store_commit_error") else ""),
        f"seats:           {controller.get('seats_registered', '-')} of {controller.get('seats', '-')} registered",
        f"callers waiting: {controller.get('callers_waiting', '-')}",
        *(f"free space:      {disk['free_bytes'] / 2**20:.0f} MB of {disk['total_bytes'] / 2**20:.0f} MB "
          f"({', '.join(disk['what'])}: {disk['path']})" for disk in report.get("disks", [])),
    ]
    print("\n".join(lines))
    for problem in report.get("problems", []):
        print(f"PROBLEM: {problem}")
    print("ok" if report.get("ok") else "NOT OK")
    return 0 if report.get("ok") else 1


def register(commands: Commands) -> None:
    commands.add_parser("up", help="provision if needed, start Asterisk and the controller; Ctrl-C stops").set_defaults(
        handler=_up)
    controller = commands.add_parser(
        "controller", help="run only the ARI controller against a running Asterisk (or a cluster's nodes); "
                           "while another controller is active, wait as its standby")
    controller.add_argument("--console", action="store_true", help="serve the console too, while active")
    controller.set_defaults(handler=_controller)
    commands.add_parser("status", help="the running hotline's health (exit 1 when something is wrong)").set_defaults(
        handler=_status)
