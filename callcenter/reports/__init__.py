"""The monthly briefing (简报) and the yearly summary, computed from the store.

What the figures mean in terms of the store (the README's table of JSON keys says the
same key by key):

- A call belongs to the period in which it *arrived* (`calls.arrived_epoch` in
  [start, end) of the period in the hotline's zone).
- A call is **accepted** (受理) when an operator answered it: outcome `answered` (or no
  outcome yet and `seat_answered` set: being talked now). Nuisance calls that an operator
  answered count, as the seed's operators still answer them; they are also shown apart.
- An accepted call is **in progress** (办理中) when it belongs to a ticket that is open,
  forwarded or reopened *now*; otherwise it is **completed** (已办结): settled on the
  call, or its ticket replied or closed. The briefing states the position at the moment
  it is produced, as the real one (made on the 5th) does.
- **Tickets** (留单) of the period are those *created* in it, merged duplicates left out.
- Shares that make up a whole (completed/in progress, the five categories) are rounded
  by the largest-remainder method, so that they add up to exactly 100%: this is what the
  seed's table does (19 of 61 is 31.15%, printed 31.2% so that the five add up to 100.0).
- Averages (daily, monthly) are rounded half to even, as the seed prints them:
  5734/31 = 184.97 -> 185, and 1758/12 = 146.5 -> 146.
- Service figures: offered = every call that arrived; abandoned = hung up in the IVR,
  in the queue or while a seat rang; the average wait (`wait_seconds`, queue to answer)
  and the service level (share answered within `service_level_seconds`, 15 s, of
  arriving: `answer_seconds`) are over accepted calls. GB/T 33358's figures (the
  connection rate, the 15-second rate, the worst 24 hours) are `connection`'s.
  Satisfaction = (satisfied + basically satisfied) / tickets whose callback reached the
  citizen.

The rooms: `periods` (a month, a year), `connection` (GB/T 33358's figures),
`repository` (the SQL: every figure aggregated in SQLite in one read transaction),
`figures` (rounding, the figure records, adding up the groups), `text` (the seed's
wording) and `html` (a page with inline SVG charts).
"""

from callcenter.reports.connection import percent
from callcenter.reports.figures import (
    Briefing,
    average,
    average_exact,
    build_briefing,
    figures_of,
    largest_remainder,
)
from callcenter.reports.html import format_html
from callcenter.reports.periods import Period, ReportError, parse_month, parse_year
from callcenter.reports.text import format_text, headline

__all__ = [
    "Briefing", "Period", "ReportError", "average", "average_exact", "build_briefing", "figures_of", "format_html",
    "format_text", "headline", "largest_remainder", "parse_month", "parse_year", "percent",
]
