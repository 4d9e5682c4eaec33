"""`hotline tickets new|list|show|link|merge|forward|reply|respond|close|reopen|callback|units`:
tickets (留单); `hotline tickets` alone lists those in progress."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Awaitable, Callable, Collection

from callcenter.cli.common import Commands, add_database_option, count, database_path, with_store
from callcenter.reports.periods import parse_month
from callcenter.services import Services
from callcenter.settings import Settings
from callcenter.store import Store
from callcenter.terminal import safe_json
from callcenter.tickets.deadlines import is_overdue
from callcenter.tickets.directory import load_directory, units_file
from callcenter.tickets.formatting import format_ticket, format_tickets_table, format_units
from callcenter.tickets.service import (
    Context,
    close,
    create_ticket,
    forward,
    get_ticket,
    link_calls,
    list_tickets,
    merge,
    record_callback,
    reopen,
    reply,
    reveal_ticket,
)
from callcenter.tickets.states import parse_category
from callcenter.vocabulary import (
    CATEGORY_LABELS,
    CONFIDENTIAL_LABEL,
    IN_PROGRESS,
    TICKET_STATE_LABELS,
    CallbackResult,
    Category,
    Channel,
    Satisfaction,
    TicketState,
)

CATEGORIES = ", ".join(f"{c} ({CATEGORY_LABELS[c]})" for c in Category)


def _ticket_number(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a ticket number")
    return int(text)


def _colour_wanted() -> bool:
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def _login() -> str:
    """Who runs the command, for the history (a container may have no name for its user)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return f"uid {os.getuid()}"


def _run(settings: Settings, args: argparse.Namespace, work: Callable[[Store, Context], Awaitable[str]]) -> int:
    """Run one ticket command on the store and print what it says."""
    ctx = Context(load_directory(units_file(settings)), settings.zone)
    path = database_path(settings, args)
    print(with_store(path, lambda store: work(store, ctx)))
    return 0


async def _state_line(store: Store, ticket_id: int) -> str:
    """What a state change prints: the ticket's state now and its deadline."""
    ticket = (await get_ticket(store, ticket_id)).ticket
    label = TICKET_STATE_LABELS[TicketState(str(ticket["state"]))]
    return f"ticket {ticket_id}: {ticket['state']} ({label}), deadline {ticket['deadline']}"


def _list(settings: Settings, args: argparse.Namespace) -> int:
    async def work(store: Store, ctx: Context) -> str:
        states: Collection[TicketState] | None
        if args.state == "all":
            states = None
        elif args.state == "active":
            states = IN_PROGRESS
        else:
            states = {TicketState(args.state)}
        since = until = None
        if args.month:
            period = parse_month(args.month, settings.zone)
            since, until = period.start_epoch, period.end_epoch
        unit = ctx.directory.find(args.unit).code if args.unit else None
        if args.channel:  # the desk's listing filters by channel too
            rows, _ = await Services.on(settings, store).tickets.listing(
                now=ctx.now, states=states, unit=unit, channel=args.channel, overdue_only=args.overdue,
                since_epoch=since, until_epoch=until, limit=args.limit)
        else:
            rows = await list_tickets(store, now=ctx.now, states=states, unit=unit, overdue_only=args.overdue,
                                      since_epoch=since, until_epoch=until, limit=args.limit)
        return safe_json(rows) if args.json else format_tickets_table(rows, ctx.now, _colour_wanted())

    return _run(settings, args, work)


def _show(settings: Settings, args: argparse.Namespace) -> int:
    async def work(store: Store, ctx: Context) -> str:
        # Showing a confidential ticket in full is a reading of the citizen's details: logged.
        detail = await reveal_ticket(store, ctx, args.ticket, args.by or _login())
        if args.json:
            return safe_json({"ticket": detail.ticket, "overdue": is_overdue(detail.ticket, ctx.now),
                              "calls": detail.calls, "events": detail.events, "callbacks": detail.callbacks})
        return format_ticket(detail, ctx.now, _colour_wanted())

    return _run(settings, args, work)


def _new(settings: Settings, args: argparse.Namespace) -> int:
    async def work(store: Store, ctx: Context) -> str:
        number = await create_ticket(store, ctx, calls=args.call, category=parse_category(args.category),
                                     unit=args.unit, summary=args.summary, operator=args.operator,
                                     confidential=args.confidential)
        detail = await get_ticket(store, number)
        ticket = detail.ticket
        estimated = " (estimated: no holiday notice for that year yet)" if ticket["deadline_estimated"] else ""
        secret = f", confidential ({CONFIDENTIAL_LABEL})" if args.confidential else ""
        return (f"ticket {number} opened: {ticket['category']} for {ticket['unit_name']}, "
                f"{len(detail.calls)} call(s), reply due by {ticket['deadline']}{estimated}{secret}")

    return _run(settings, args, work)


def _link(settings: Settings, args: argparse.Namespace) -> int:
    async def work(store: Store, ctx: Context) -> str:
        added = await link_calls(store, ctx, args.ticket, args.call, args.by)
        return f"ticket {args.ticket}: {added} call(s) linked"

    return _run(settings, args, work)


def _merge(settings: Settings, args: argparse.Namespace) -> int:
    async def work(store: Store, ctx: Context) -> str:
        moved = await merge(store, ctx, args.ticket, args.other, args.by)
        return f"ticket {args.ticket}: merged {', '.join(map(str, args.other))} ({moved} call(s) moved)"

    return _run(settings, args, work)


def _forward(settings: Settings, args: argparse.Namespace) -> int:
    async def work(store: Store, ctx: Context) -> str:
        await forward(store, ctx, args.ticket, unit=args.unit, actor=args.by, note=args.note)
        return await _state_line(store, args.ticket)

    return _run(settings, args, work)


def _reply(settings: Settings, args: argparse.Namespace) -> int:
    async def work(store: Store, ctx: Context) -> str:
        await reply(store, ctx, args.ticket, text=args.text, by=args.by, actor=args.by)
        return await _state_line(store, args.ticket)

    return _run(settings, args, work)


def _respond(settings: Settings, args: argparse.Namespace) -> int:
    async def work(store: Store, ctx: Context) -> str:
        message_id = await Services.on(settings, store).tickets.respond(args.ticket, args.text, args.by or _login())
        return f"ticket {args.ticket}: response {message_id} to the citizen recorded"

    return _run(settings, args, work)


def _close(settings: Settings, args: argparse.Namespace) -> int:
    async def work(store: Store, ctx: Context) -> str:
        await close(store, ctx, args.ticket, actor=args.by, note=args.note)
        return await _state_line(store, args.ticket)

    return _run(settings, args, work)


def _reopen(settings: Settings, args: argparse.Namespace) -> int:
    async def work(store: Store, ctx: Context) -> str:
        await reopen(store, ctx, args.ticket, reason=args.reason, actor=args.by)
        return await _state_line(store, args.ticket)

    return _run(settings, args, work)


def _callback(settings: Settings, args: argparse.Namespace) -> int:
    async def work(store: Store, ctx: Context) -> str:
        satisfaction = Satisfaction(args.satisfaction) if args.satisfaction else None
        default = CallbackResult.REACHED if satisfaction else CallbackResult.NO_ANSWER
        result = CallbackResult(args.result) if args.result else default
        await record_callback(store, ctx, args.ticket, result=result, satisfaction=satisfaction, actor=args.by,
                              note=args.note)
        return await _state_line(store, args.ticket)

    return _run(settings, args, work)


def _units(settings: Settings, args: argparse.Namespace) -> int:
    print(format_units(load_directory(units_file(settings))))
    return 0


def register(commands: Commands) -> None:
    tickets = commands.add_parser("tickets", help="tickets (留单): new, list, show, forward, reply, close, ...")
    tickets.set_defaults(handler=_list, tickets_action=None, state="active", unit=None, overdue=False, channel=None,
                         month=None, limit=100, json=False, database=None)
    actions = tickets.add_subparsers(dest="tickets_action", metavar="ACTION")

    new = actions.add_parser("new", help="turn answered call(s) into a ticket")
    new.add_argument("--call", action="append", required=True, metavar="CALL_ID",
                     help="a call about the problem (repeat for several calls)")
    new.add_argument("--category", required=True, help=CATEGORIES)
    new.add_argument("--unit", required=True, help="the responsible unit: code, name or alias (`tickets units`)")
    new.add_argument("--summary", required=True, help="the operator's summary of the problem")
    new.add_argument("--operator", help="the seat that made it (default: the seat that took the first call)")
    new.add_argument("--confidential", action="store_true",
                     help="the citizen asks for secrecy (保密): the unit never sees who they are")
    add_database_option(new)
    new.set_defaults(handler=_new)

    listing = actions.add_parser("list", help="tickets, overdue first (default: those in progress)")
    listing.add_argument("--state", default="active", choices=("active", "all", *(str(s) for s in TicketState)),
                         help="active = open, forwarded or reopened (default)")
    listing.add_argument("--overdue", action="store_true", help="only those past their deadline")
    listing.add_argument("--unit", help="only this unit's")
    listing.add_argument("--month", metavar="YYYY-MM", help="only those created in this month")
    listing.add_argument("--channel", choices=[str(c) for c in Channel],
                         help="only those that came by this channel (phone, mailbox, sms, forum, manual)")
    listing.add_argument("--limit", type=count, default=100, help="at most this many (default 100)")
    listing.add_argument("--json", action="store_true", help="JSON instead of a table")
    add_database_option(listing)
    listing.set_defaults(handler=_list)

    show = actions.add_parser("show", help="one ticket: calls, reply, history, callbacks")
    show.add_argument("ticket", type=_ticket_number)
    show.add_argument("--json", action="store_true", help="JSON instead of text")
    show.add_argument("--by", help="who reads it, logged when the ticket is confidential (default: your login)")
    add_database_option(show)
    show.set_defaults(handler=_show)

    link = actions.add_parser("link", help="add more calls about the same problem to a ticket")
    link.add_argument("ticket", type=_ticket_number)
    link.add_argument("call", nargs="+", metavar="CALL_ID")
    link.add_argument("--by", help="who did it")
    add_database_option(link)
    link.set_defaults(handler=_link)

    merging = actions.add_parser("merge", help="merge duplicate tickets into the first (their calls move)")
    merging.add_argument("ticket", type=_ticket_number)
    merging.add_argument("other", nargs="+", type=_ticket_number, metavar="OTHER")
    merging.add_argument("--by", help="who did it")
    add_database_option(merging)
    merging.set_defaults(handler=_merge)

    forwarding = actions.add_parser("forward", help="forward (转办) to the unit, or to another --unit")
    forwarding.add_argument("ticket", type=_ticket_number)
    forwarding.add_argument("--unit", help="reassign to this unit")
    forwarding.add_argument("--note", help="a note for the history")
    forwarding.add_argument("--by", help="who did it")
    add_database_option(forwarding)
    forwarding.set_defaults(handler=_forward)

    replying = actions.add_parser("reply", help="store the unit's reply (答复)")
    replying.add_argument("ticket", type=_ticket_number)
    replying.add_argument("--text", required=True, help="the reply")
    replying.add_argument("--by", help="who replied (default: the unit)")
    add_database_option(replying)
    replying.set_defaults(handler=_reply)

    responding = actions.add_parser("respond", help="a response to the citizen on a written ticket (书面答复)")
    responding.add_argument("ticket", type=_ticket_number)
    responding.add_argument("--text", required=True, help="the response (an SMS ticket's is queued for the gateway)")
    responding.add_argument("--by", help="who responds (default: your login)")
    add_database_option(responding)
    responding.set_defaults(handler=_respond)

    closing = actions.add_parser("close", help="close a replied ticket (办结)")
    closing.add_argument("ticket", type=_ticket_number)
    closing.add_argument("--note", help="a note for the history")
    closing.add_argument("--by", help="who did it")
    add_database_option(closing)
    closing.set_defaults(handler=_close)

    reopening = actions.add_parser("reopen", help="reopen a replied or closed ticket (a new deadline)")
    reopening.add_argument("ticket", type=_ticket_number)
    reopening.add_argument("--reason", required=True, help="why")
    reopening.add_argument("--by", help="who did it")
    add_database_option(reopening)
    reopening.set_defaults(handler=_reopen)

    callback = actions.add_parser("callback", help="record a callback to the citizen (回访)")
    callback.add_argument("ticket", type=_ticket_number)
    callback.add_argument("--satisfaction", choices=tuple(str(s) for s in Satisfaction),
                          help="the citizen's answer (closes the ticket, or reopens it when dissatisfied)")
    callback.add_argument("--result", choices=tuple(str(r) for r in CallbackResult),
                          help="default: reached with --satisfaction, no_answer without")
    callback.add_argument("--note", help="a note")
    callback.add_argument("--by", help="who called")
    add_database_option(callback)
    callback.set_defaults(handler=_callback)

    actions.add_parser("units", help="the directory of responsible units (config/units.toml)").set_defaults(
        handler=_units)
