"""Nuisance numbers: the rules (pure), flags in the store, and the state machine's warning."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from callcenter import nuisance
from callcenter.calls.machine import (
    Action,
    Answered,
    Arrived,
    Call,
    CallerHungUp,
    Digit,
    Enqueue,
    HangupCaller,
    Phase,
    Play,
    PlaybackFinished,
    SaveRow,
    Timing,
    step,
)
from callcenter.calls.repository import CallRepository
from callcenter.errors import ConfigError
from callcenter.nuisance import PastCall
from callcenter.services import Services
from callcenter.settings import Settings
from callcenter.store import Store, store_target
from tests.harness import instance_env, settings_for, store_env

T0 = 1_764_300_000.0


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return settings_for(instance_env(tmp_path))


def test_three_short_calls_within_ten_minutes_break_the_repeat_rule(settings: Settings) -> None:
    rules = settings.nuisance
    calls = [PastCall(T0 + 60 * i, "answered", 8) for i in range(3)]
    assert nuisance.rule_hit(calls[:2], [], T0 + 130, rules) is None
    assert nuisance.rule_hit(calls, [], T0 + 130, rules) == nuisance.RULE_REPEAT


def test_calls_hung_up_before_reaching_an_operator_count_as_nuisance_like(settings: Settings) -> None:
    rules = settings.nuisance
    calls = [PastCall(T0, "abandoned_ivr", 0), PastCall(T0 + 30, "abandoned_queue", 0),
             PastCall(T0 + 60, "answered", 3)]
    assert nuisance.rule_hit(calls, [], T0 + 90, rules) == nuisance.RULE_REPEAT


def test_a_citizen_with_three_long_calls_about_one_problem_is_not_flagged(settings: Settings) -> None:
    calls = [PastCall(T0 + 120 * i, "answered", 95) for i in range(3)]
    assert nuisance.rule_hit(calls, [], T0 + 400, settings.nuisance) is None


def test_short_calls_spread_over_more_than_the_window_do_not_flag(settings: Settings) -> None:
    calls = [PastCall(T0 + 400 * i, "answered", 5) for i in range(3)]  # 0, 6:40, 13:20
    assert nuisance.rule_hit(calls, [], T0 + 801, settings.nuisance) is None


def test_two_marks_within_a_day_flag_and_older_marks_do_not(settings: Settings) -> None:
    rules = settings.nuisance
    assert nuisance.rule_hit([], [T0, T0 + 3600], T0 + 3601, rules) == nuisance.RULE_MARKS
    assert nuisance.rule_hit([], [T0 - 25 * 3600, T0], T0 + 1, rules) is None


@pytest.mark.parametrize("number", ["", "anonymous", "Anonymous", "unknown", "restricted", "private", "abc"])
def test_withheld_numbers_are_recognised(number: str) -> None:
    assert nuisance.is_withheld(number)


def test_the_hard_limit_is_off_by_default_and_counts_calls_in_its_window(settings: Settings) -> None:
    arrivals = [T0 + 60 * i for i in range(25)]
    assert not nuisance.over_hard_limit(arrivals, T0 + 1500, settings.nuisance)
    strict = replace(settings.nuisance, hard_limit_calls=20, hard_limit_window_minutes=60)
    assert nuisance.over_hard_limit(arrivals, T0 + 1500, strict)
    assert not nuisance.over_hard_limit(arrivals[:20], T0 + 1500, strict)


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [("HOTLINE_NUISANCE_REPEAT_WINDOW_MINUTES", "-10", "nuisance.repeat_window_minutes"),
     ("HOTLINE_NUISANCE_REPEAT_CALLS", "0", "nuisance.repeat_calls"),
     ("HOTLINE_NUISANCE_MARKS_TO_FLAG", "0", "nuisance.marks_to_flag"),
     ("HOTLINE_NUISANCE_FLAG_HOURS", "0", "nuisance.flag_hours"),
     ("HOTLINE_NUISANCE_HARD_LIMIT_CALLS", "-1", "nuisance.hard_limit_calls")],
)
def test_a_rule_with_a_negative_window_or_a_zero_count_is_a_config_error(
        tmp_path: Path, variable: str, value: str, named: str) -> None:
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        settings_for(instance_env(tmp_path, **{variable: value}))


# ----------------------------------------------------------------------------- in the store


@pytest.fixture
def store_settings(tmp_path: Path, store_location: Path | str) -> Settings:
    """The settings of a hotline whose store is `store_location` (each backend)."""
    return settings_for(instance_env(tmp_path) | store_env(store_location))


async def _store_with_calls(settings: Settings, number: str, count: int, talk: int = 5) -> Store:
    store = Store(store_target(settings))
    await store.start()
    for index in range(count):
        at = T0 + 60 * index
        CallRepository(store).save(f"c{index}", caller_number=number, arrived_epoch=at, outcome="answered",
                                   talk_seconds=talk, state="done")
    await store.flush()
    return store


async def test_marking_twice_flags_clear_unflags_and_expiry_unflags(store_settings: Settings) -> None:
    settings = store_settings
    store = await _store_with_calls(settings, "13900000001", 2, talk=120)
    service = Services.on(settings, store).nuisance
    try:
        number, first = await service.mark_call("c0", "seat3", now=T0 + 200)
        assert number == "13900000001" and first is None
        _, second = await service.mark_call("c1", "seat4", now=T0 + 300)
        assert second is not None and second.rule == nuisance.RULE_MARKS
        assert [f.number for f in await service.active_flags(now=T0 + 400)] == ["13900000001"]
        assert await service.clear("13900000001", "supervisor", "spoke to the caller", now=T0 + 500)
        assert await service.active_flags(now=T0 + 600) == []
        flagged = await service.flag("13900000001", "calls again", "supervisor", now=T0 + 700)
        assert flagged.expires_at == T0 + 700 + 24 * 3600
        assert await service.active_flags(now=T0 + 700 + 24 * 3600 + 1) == []
        history = await service.history("13900000001")
        assert [(e["action"], e["by"]) for e in history] == [
            ("mark", "seat3"), ("mark", "seat4"), ("flag", "system"), ("clear", "supervisor"),
            ("flag", "supervisor")]
        assert all(e["at"] and e["reason"] for e in history)
    finally:
        await store.stop()


async def test_a_number_is_flagged_after_its_third_short_call(store_settings: Settings) -> None:
    settings = store_settings
    store = await _store_with_calls(settings, "13333333333", 2)
    service = Services.on(settings, store).nuisance
    try:
        assert await service.evaluate_after_call("13333333333", now=T0 + 130) is None
        CallRepository(store).save("c2", caller_number="13333333333", arrived_epoch=T0 + 150, outcome="answered",
                                   talk_seconds=4, state="done")
        found = await service.evaluate_after_call("13333333333", now=T0 + 160)
        assert found is not None and found.rule == nuisance.RULE_REPEAT
        verdict = await service.check_arrival("13333333333", now=T0 + 200)
        assert verdict.flag is not None and not verdict.over_limit
    finally:
        await store.stop()


async def test_withheld_numbers_are_never_flagged_by_number(store_settings: Settings) -> None:
    settings = store_settings
    store = await _store_with_calls(settings, "anonymous", 5)
    service = Services.on(settings, store).nuisance
    try:
        assert await service.evaluate_after_call("anonymous", now=T0 + 400) is None
        with pytest.raises(nuisance.NuisanceError, match="withheld"):
            await service.flag("anonymous", "prank", "supervisor")
        with pytest.raises(nuisance.NuisanceError, match="withheld"):
            await service.mark_call("c0", "seat1")
        assert (await service.check_arrival("anonymous")).flag is None
    finally:
        await store.stop()


# ----------------------------------------------------------------------------- the call


def _flagged_call_to_menu_end(over_limit: bool = False) -> tuple[Call, list[Action]]:
    # The menu path (a setting): the key ends it; without the menu the greeting's end does.
    call, actions = step(Call("c1", timing=Timing(menu=True)),
                         Arrived(T0, "13333333333", "", flagged_rule="repeat-short-calls", over_limit=over_limit))
    rows = [dict(a.fields) for a in actions if isinstance(a, SaveRow)]
    assert rows[0]["nuisance"] == 1 and rows[0]["nuisance_rule"] == "repeat-short-calls"
    call, _ = step(call, Answered(T0 + 0.2))
    call, actions = step(call, Digit(T0 + 1, "0"))
    return call, list(actions)


def test_a_flagged_caller_hears_the_warning_and_then_queues() -> None:
    call, actions = _flagged_call_to_menu_end()
    assert call.phase is Phase.WARNING
    plays = [a for a in actions if isinstance(a, Play)]
    assert plays and plays[-1].prompt == "nuisance_warning"
    assert not any(isinstance(a, Enqueue) for a in actions)
    call, actions = step(call, Digit(T0 + 2, "1"))  # keys during the warning change nothing
    assert call.phase is Phase.WARNING and actions == []
    call, actions = step(call, PlaybackFinished(T0 + 9, plays[-1].playback_id))
    assert call.phase is Phase.QUEUED and any(isinstance(a, Enqueue) for a in actions)


def test_over_the_hard_limit_the_caller_is_warned_then_hung_up_and_the_row_says_why() -> None:
    call, actions = _flagged_call_to_menu_end(over_limit=True)
    plays = [a for a in actions if isinstance(a, Play)]
    call, actions = step(call, PlaybackFinished(T0 + 9, plays[-1].playback_id))
    assert HangupCaller() in actions and not any(isinstance(a, Enqueue) for a in actions)
    call, actions = step(call, CallerHungUp(T0 + 9.2))
    row = dict(next(a for a in reversed(actions) if isinstance(a, SaveRow)).fields)
    assert row["outcome"] == "failed" and "hard limit" in str(row["hangup_cause"])
