"""`hotline seats`: the seats as a table for the terminal."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from callcenter.seats.roster import Roster


def format_seats_table(
    roster: Roster,
    rows: Mapping[str, Mapping[str, object]],
    calls_today: Mapping[str, int],
    moment: datetime,
    names: Iterable[str],
) -> str:
    """Seat, shift, on shift, registered, state, since (the last change; "-" for a seat
    whose state never changed), calls answered today."""
    lines = [f"{'seat':<7} {'shift':<8} {'on shift':<8} {'registered':<10} {'state':<22} {'since':<19} calls today"]
    for name in names:
        row = rows.get(name, {})
        state = str(row.get("state") or "offline")
        if row.get("paused"):
            state = f"paused ({row.get('pause_reason') or 'no reason'})"
        logged = row.get("logged_in")
        on_shift = roster.on_shift(name, moment)
        working = "login" if logged == 1 else "logout" if logged == 0 else ("yes" if on_shift else "no")
        # Older stores wrote epoch 0 (1970-01-01 08:00:00 here) for a seat that never moved.
        unchanged = not row.get("state_since") or row.get("state_since_epoch") == 0
        since = "-" if unchanged else str(row.get("state_since"))[:19].replace("T", " ")
        lines.append(
            f"{name:<7} {roster.shift_of(name, moment) or '-':<8} {working:<8} "
            f"{'yes' if row.get('registered') else 'no':<10} {state[:22]:<22} {since:<19} {calls_today.get(name, 0)}"
        )
    return "\n".join(lines)
