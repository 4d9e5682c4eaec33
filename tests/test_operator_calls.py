"""Operators are people, seats are phones, against the real Asterisk: SIPp citizens and
SIPp seat phones; the operator logs in at another seat and the calls follow them."""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest

from callcenter.reports import build_briefing, parse_month
from callcenter.seats.operators import NOBODY
from callcenter.users import load_or_create_users, set_operator_name
from tests.flow import Hotline
from tests.harness import SeatPhone, call_hotline, parse_message_log

pytestmark = pytest.mark.asterisk


async def _one_call(hotline: Hotline, caller: str) -> dict[str, object]:
    result, _ = await asyncio.to_thread(call_hotline, hotline.settings, hotline.workdir, caller, 2500,
                                        digit="0", digit_after_ms=800)
    assert result.returncode == 0, result.output
    rows = [r for r in await hotline.rows() if r["caller_number"] == caller]
    assert len(rows) == 1, rows
    return rows[0]


async def _sits(hotline: Hotline, seat: str, badge: str) -> None:
    async def there() -> bool:
        return hotline.controller.seats[seat].operator == badge

    await hotline.wait_until(there, 10, f"{badge or 'nobody'} at {seat} in the controller's map")


def _invites(phone: SeatPhone) -> int:
    return sum(1 for _, direction, text in parse_message_log(phone.log)
               if direction == "received" and text.startswith("INVITE"))


async def test_an_operator_logged_in_at_another_seat_than_yesterdays_is_rung_there_and_named_on_the_rows(
        hotline: Hotline) -> None:
    state_dir = hotline.settings.paths.state_dir
    load_or_create_users(state_dir, hotline.settings.seat_names)
    set_operator_name(state_dir, "1003", "李慧")
    seats = hotline.services.seats
    hotline.clock.hhmm = "10:30"  # the day shift: 1003 and 1004
    with SeatPhone(hotline.settings, "seat3", hotline.workdir, answer_after_ms=200) as seat3, \
            SeatPhone(hotline.settings, "seat4", hotline.workdir, answer_after_ms=200) as seat4:
        await hotline.seat_registered("seat3")
        await hotline.seat_registered("seat4")
        # Yesterday: 1003 at their default seat seat3; 1004 is not in today.
        await seats.log_out("1004")
        await _sits(hotline, "seat4", NOBODY)
        await _sits(hotline, "seat3", "1003")
        yesterday = await _one_call(hotline, "13900000301")
        await hotline.seats_free()
        # Today 1003 sits at seat4: seat3 has nobody and is not rung.
        await seats.log_in("1003", "seat4")
        await _sits(hotline, "seat4", "1003")
        await _sits(hotline, "seat3", NOBODY)
        floor = {s["seat"]: s for s in hotline.controller.snapshot()["seats"]}
        assert (floor["seat4"]["operator"], floor["seat4"]["operator_name"]) == ("1003", "李慧")
        today = await _one_call(hotline, "13900000302")
        await hotline.seats_free()
        await hotline.settled()
        invites = _invites(seat3), _invites(seat4)
    assert (yesterday["outcome"], yesterday["seat"], yesterday["operator"]) == ("answered", "seat3", "1003")
    assert (today["outcome"], today["seat"], today["operator"], today["shift"]) == ("answered", "seat4", "1003", "day")
    assert invites == (1, 1)
    connect = [e for e in await hotline.events(str(today["call_id"])) if e["kind"] == "CONNECT"]
    assert connect and connect[0]["data"]["operator"] == "1003"
    # The briefing counts both calls for 1003, whichever seat took them, and none for a seat.
    zone = hotline.settings.zone
    briefing = await build_briefing(hotline.services.store, parse_month(datetime.now(zone).strftime("%Y-%m"), zone),
                                    zone=zone, operator_names=seats.operator_names())
    operators = briefing.to_json()["operators"]
    assert isinstance(operators, list)
    assert [(o["badge"], o["name"], o["answered"]) for o in operators] == [("1003", "李慧", 2)]
    assert operators[0]["average_wrapup_seconds"] is not None  # measured at the seat's wrap-up end
