"""`hotline cluster up --nodes N` and `hotline cluster down`: the whole cluster (Kamailio,
N Asterisk nodes, PostgreSQL, an active and a standby controller) on this machine."""

from __future__ import annotations

import argparse
from pathlib import Path

from callcenter.cli.common import Commands
from callcenter.settings import Settings


def _up(settings: Settings, args: argparse.Namespace) -> int:
    from callcenter.cluster.up import up

    up(settings, args.nodes, args.folder, lambda line: print(line, flush=True), ports_from=args.ports_from)
    return 0


def _down(settings: Settings, args: argparse.Namespace) -> int:
    from callcenter.cluster.up import down

    down(args.folder, lambda line: print(line, flush=True))
    return 0


def register(commands: Commands) -> None:
    from callcenter.cluster.up import DEFAULT_FOLDER

    cluster = commands.add_parser("cluster", help="the cluster on this machine: Kamailio, N Asterisk nodes, "
                                                  "PostgreSQL, two controllers")
    actions = cluster.add_subparsers(dest="cluster_action", required=True, metavar="ACTION")
    up = actions.add_parser("up", help="install what is missing, start the cluster and run until Ctrl-C")
    up.add_argument("--nodes", type=int, default=2, help="Asterisk nodes (default 2)")
    up.add_argument("--folder", type=Path, default=DEFAULT_FOLDER,
                    help=f"where the cluster keeps its data (default {DEFAULT_FOLDER})")
    up.add_argument("--ports-from", type=int, default=0, metavar="PORT",
                    help="count every port from this one instead of the standard ones (a second cluster)")
    up.set_defaults(handler=_up)
    down = actions.add_parser("down", help="stop the cluster `up` runs")
    down.add_argument("--folder", type=Path, default=DEFAULT_FOLDER)
    down.set_defaults(handler=_down)
