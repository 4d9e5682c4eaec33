"""Tickets (留单): a citizen's problem the operator could not settle on the call.

The operator summarises the call, chooses a category and the responsible unit from the
directory (`config/units.toml`), and the ticket is forwarded to that unit, which must
reply within 7 working days (`workdays`). Several calls about one problem belong to one
ticket: `link` adds calls, `merge` folds duplicate tickets into one. After the reply the
citizen is called back (回访) and says whether they are satisfied.

open, forwarded and reopened tickets are in progress (办理中); replied and closed ones
are completed (已办结). A call is completed when it has no ticket (settled on the call)
or its ticket is completed. A ticket is overdue while in progress past its deadline.

The supervisor may send a ticket back to its operator, urge (督办) the unit on it, and
grant or refuse a unit's request for more working days; a unit may return a ticket that
is not its business. Similar tickets (same number, or a summary sharing a word) are
suggested while a new one is written (`search`).

The rooms: `states` (the pure machine and the category words), `directory` (the units),
`deadlines`, `search` (the words of a summary), `confidential` (what a confidential
ticket withholds), `repository` (every SQL statement about tickets), `service` (the
operations, and `TicketService`, the desk) and `formatting` (text for a terminal).
"""

from callcenter.tickets.deadlines import TicketDeadline, deadline_from, extended, is_overdue, working_days_left
from callcenter.tickets.directory import Directory, Unit, load_directory, units_file
from callcenter.tickets.formatting import format_ticket, format_tickets_table, format_units, overdue_text
from callcenter.tickets.repository import TicketDetail, TicketQuery, TicketRepository
from callcenter.tickets.service import (
    Context,
    TicketService,
    WrittenMessage,
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
from callcenter.tickets.states import (
    WITH_UNIT,
    Action,
    ReturnedTo,
    TicketError,
    after_callback,
    check_extension_request,
    granted_days,
    next_state,
    parse_category,
)

__all__ = [
    "WITH_UNIT", "Action", "Context", "Directory", "ReturnedTo", "TicketDeadline", "TicketDetail", "TicketError",
    "TicketQuery", "TicketRepository", "TicketService", "Unit", "WrittenMessage", "after_callback",
    "check_extension_request", "close",
    "create_ticket", "deadline_from", "extended", "format_ticket", "format_tickets_table", "format_units",
    "forward", "get_ticket", "granted_days", "is_overdue", "link_calls", "list_tickets", "load_directory", "merge",
    "next_state", "overdue_text", "parse_category", "record_callback", "reopen", "reply", "reveal_ticket",
    "units_file", "working_days_left",
]
