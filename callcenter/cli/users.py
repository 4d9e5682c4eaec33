"""`hotline users list|add|reset`: the console's accounts (the hashes stay in the users
file; a password is printed once, when it is made, and kept in the credentials file)."""

from __future__ import annotations

import argparse
import getpass
import sys

from callcenter.cli.common import Commands
from callcenter.settings import Settings
from callcenter.terminal import escape_text
from callcenter.tickets.directory import load_directory, units_file
from callcenter.users import (
    ROLE_LABELS,
    SUPERVISOR,
    UNIT,
    UserError,
    add_unit_user,
    credentials_path,
    list_users,
    reset_password,
    set_disabled,
    set_password,
    users_path,
)


def _list(settings: Settings, args: argparse.Namespace) -> int:
    state_dir = settings.paths.state_dir
    users = list_users(state_dir)
    if not users:
        print(f"no console accounts yet in {users_path(state_dir)}: `hotline up` generates the supervisor's "
              "and the seats'; `hotline users add NAME --unit CODE` adds a unit's")
        return 0
    names = {unit.code: unit.name for unit in load_directory(units_file(settings)).units} if any(
        user.role == UNIT for user in users) else {}
    print(f"{'name':<32} {'role':<10} seat / unit")
    for user in users:
        if user.role == UNIT:
            tied = f"{user.unit} {names.get(user.unit or '', '(not in the directory)')}"
        else:
            tied = user.seat or ""
        state = "  (disabled)" if user.disabled else ""
        print(f"{escape_text(user.name):<32} {user.role:<10} {escape_text(tied)}{state}".rstrip())
    return 0


def _add(settings: Settings, args: argparse.Namespace) -> int:
    state_dir = settings.paths.state_dir
    directory = load_directory(units_file(settings))
    password = add_unit_user(state_dir, args.name, args.unit, directory,
                             reserved=(SUPERVISOR, *settings.seat_names))
    unit = directory.get(args.unit)
    print(f"added {args.name} ({ROLE_LABELS[UNIT]} {args.unit} {unit.name if unit else ''})")
    _print_password(settings, args.name, password)
    return 0


def _reset(settings: Settings, args: argparse.Namespace) -> int:
    password = reset_password(settings.paths.state_dir, args.name)
    print(f"new password for {args.name} (the old one no longer works)")
    _print_password(settings, args.name, password)
    return 0


def _passwd(settings: Settings, args: argparse.Namespace) -> int:
    """A password the admin chooses: typed twice, hidden, on a terminal; else one line on
    standard input (for scripts)."""
    if sys.stdin.isatty():
        password = getpass.getpass(f"new password for {args.name}: ")
        if getpass.getpass("again: ") != password:
            raise UserError("the two passwords differ; nothing changed")
    else:
        password = sys.stdin.readline().rstrip("\n")
    set_password(settings.paths.state_dir, args.name, password)
    print(f"password of {args.name} changed; its open console sessions have ended")
    return 0


def _disable(settings: Settings, args: argparse.Namespace) -> int:
    set_disabled(settings.paths.state_dir, args.name, True)
    print(f"{args.name} disabled: no log-in, and its open console sessions end at once")
    return 0


def _enable(settings: Settings, args: argparse.Namespace) -> int:
    set_disabled(settings.paths.state_dir, args.name, False)
    print(f"{args.name} enabled")
    return 0


def _print_password(settings: Settings, name: str, password: str) -> None:
    print(f"password: {password}")
    print(f"shown once here; also kept in {credentials_path(settings.paths.state_dir)} (mode 0600) "
          f"until you delete it: hand it to {name}, then you may delete that file")


def register(commands: Commands) -> None:
    users = commands.add_parser("users", help="console accounts: list, add a unit's, reset a password")
    actions = users.add_subparsers(dest="users_action", required=True, metavar="ACTION")
    actions.add_parser("list", help="every account: name, role, seat or unit (never passwords)").set_defaults(
        handler=_list)
    add = actions.add_parser("add", help="add a responsible unit's account; prints its password once")
    add.add_argument("name", help="the log-in name: 2-32 of a-z 0-9 . _ -")
    add.add_argument("--unit", required=True, metavar="CODE",
                     help="the unit's code in config/units.toml (`hotline tickets units` lists them)")
    add.set_defaults(handler=_add)
    reset = actions.add_parser("reset", help="give an account a new password; prints it once")
    reset.add_argument("name")
    reset.set_defaults(handler=_reset)
    for name, handler, text in (
            ("passwd", _passwd, "set a password you choose (typed twice, or one line on standard input)"),
            ("disable", _disable, "no more log-ins for an account; its open sessions end at once"),
            ("enable", _enable, "let a disabled account log in again")):
        action = actions.add_parser(name, help=text)
        action.add_argument("name")
        action.set_defaults(handler=handler)
