"""`hotline demo seed`: a realistic month (or year) of calls and tickets, for demos and tests.

Realistic: calls arrive around the clock on a day curve, are answered by the seats of
the shift on duty, with IVR categories, waits, talk times, abandons, repeat callers and
nuisance bursts (`calls`); tickets are made from answered calls, forwarded, replied,
called back and merged (`tickets`).

Exact: the accepted calls, the completed ones and the tickets per category are what was
asked (`--calls 5734 --completed 5704 --tickets 19,21,6,7,8`, or `--shape jan-seed`,
`targets`): the in-progress calls are exactly those on the latest tickets, left open,
forwarded or reopened. Deterministic: the same `--seed` writes the same rows.

Fast: rows are made in Python and written in bulk through the calls' and the tickets'
repositories (`seeder`).
"""

from callcenter.demo.calls import DemoData
from callcenter.demo.seeder import Written, make_demo, write_demo
from callcenter.demo.targets import (
    SEED_JANUARY,
    SHAPES,
    TICKET_CATEGORIES,
    DemoError,
    MonthTarget,
    Shape,
    default_targets,
    month_targets,
    parse_tickets,
    split_int,
)

__all__ = [
    "SEED_JANUARY", "SHAPES", "TICKET_CATEGORIES", "DemoData", "DemoError", "MonthTarget", "Shape", "Written",
    "default_targets", "make_demo", "month_targets", "parse_tickets", "split_int", "write_demo",
]
