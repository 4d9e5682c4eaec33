"""Working days and ticket deadlines with China's official holidays and adjusted working
days, checked against the State Council's published arrangements."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from callcenter.tickets import deadline_from
from callcenter.workdays import add_working_days, calendar_covers, is_working_day, working_days_between

ZONE = ZoneInfo("Asia/Shanghai")


def test_national_day_2024_is_off_and_its_adjusted_sunday_and_saturday_are_worked() -> None:
    # 2024: 1-7 October off; Sunday 29 September and Saturday 12 October worked.
    assert not any(is_working_day(date(2024, 10, d)) for d in range(1, 8))
    assert is_working_day(date(2024, 9, 29))
    assert is_working_day(date(2024, 10, 12))
    assert not is_working_day(date(2024, 9, 28))  # an ordinary Saturday


def test_a_deadline_spanning_national_day_2024_lands_on_the_adjusted_saturday() -> None:
    # Created Friday 27 September: 29 Sep (adjusted Sunday) 1, 30 Sep 2, holiday,
    # 8-11 Oct 3-6, Saturday 12 Oct (adjusted) 7.
    assert add_working_days(date(2024, 9, 27), 7).day == date(2024, 10, 12)


def test_a_deadline_spanning_national_day_2008_skips_the_week_and_counts_its_adjusted_weekend() -> None:
    # 2008: 29 Sep - 5 Oct off; Saturday 27 and Sunday 28 September worked.
    result = add_working_days(date(2008, 9, 26), 7)
    assert result.day == date(2008, 10, 10)
    assert not result.estimated


def test_a_deadline_spanning_the_2025_spring_festival_skips_the_holiday() -> None:
    # 2025: 28 Jan - 4 Feb off; Sunday 26 Jan and Saturday 8 Feb worked.
    assert add_working_days(date(2025, 1, 24), 7).day == date(2025, 2, 10)


def test_a_deadline_spanning_the_2009_spring_festival_of_the_seed_counts_its_adjusted_weekend() -> None:
    # 2009: 25-31 Jan off; Saturday 24 Jan and Sunday 1 Feb worked.
    assert is_working_day(date(2009, 1, 24)) and is_working_day(date(2009, 2, 1))
    assert add_working_days(date(2009, 1, 20), 7).day == date(2009, 2, 3)


def test_the_seeds_zezhou_reply_took_five_working_days() -> None:
    # "这个问题是2月17日由一位刘先生来电反映的 ... 泽州县政府用了5个工作日" (answered 24 Feb).
    assert working_days_between(date(2009, 2, 17), date(2009, 2, 24)) == 5


def test_a_year_the_calendar_has_no_notice_for_is_estimated_on_weekdays() -> None:
    assert not calendar_covers(date(2099, 3, 2))
    result = add_working_days(date(2099, 3, 6), 1)  # a Friday
    assert result.day == date(2099, 3, 9) and result.estimated


def test_a_ticket_deadline_is_the_end_of_its_day_in_the_hotline_zone() -> None:
    created = datetime(2024, 9, 27, 15, 0, tzinfo=ZONE).timestamp()
    deadline = deadline_from(created, ZONE, 7)
    assert deadline.day == date(2024, 10, 12)
    assert deadline.end_epoch == datetime(2024, 10, 13, tzinfo=ZONE).timestamp()


def test_a_ticket_made_just_after_midnight_counts_from_its_local_day_not_the_utc_one() -> None:
    # 00:30 on 30 Sep in Shanghai is still 29 Sep in UTC; counted from 30 Sep the 7th
    # working day is 15 Oct (from 29 Sep it would be 14 Oct).
    created = datetime(2024, 9, 30, 0, 30, tzinfo=ZONE).timestamp()
    assert deadline_from(created, ZONE, 7).day == date(2024, 10, 15)


def test_counting_needs_at_least_one_working_day() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        add_working_days(date(2024, 1, 1), 0)
