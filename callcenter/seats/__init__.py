"""The six seats: each seat's state machine (`seat`), the shift roster (`roster`), the
seats table (`repository`), what supervisors do to seats (`service`), and the terminal
table (`formatting`)."""

from callcenter.seats.roster import Roster, Shift, load_roster
from callcenter.seats.seat import IllegalSeatMove, Seat, longest_idle
from callcenter.vocabulary import SeatState

__all__ = ["IllegalSeatMove", "Roster", "Seat", "SeatState", "Shift", "load_roster", "longest_idle"]
