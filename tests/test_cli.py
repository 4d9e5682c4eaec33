"""The `hotline` command's edges: clear one-line errors, never a traceback."""

from __future__ import annotations

from pathlib import Path

from tests.harness import assert_one_line_error, instance_env, run_hotline


def test_an_unknown_seat_in_the_roster_is_a_clear_config_error(tmp_path: Path) -> None:
    roster = tmp_path / "roster.toml"
    roster.write_text('[[shift]]\nname = "night"\nstart = "00:00"\nend = "08:00"\nseats = ["seat1", "seat9"]\n')
    out = run_hotline(instance_env(tmp_path, HOTLINE_PATHS_ROSTER=str(roster)), "seats")
    assert_one_line_error(out, str(roster), "seat9")


def test_a_seat_command_for_a_seat_that_does_not_exist_is_refused(tmp_path: Path) -> None:
    assert_one_line_error(run_hotline(instance_env(tmp_path), "seats", "pause", "seat7"), "unknown seat 'seat7'")


def test_pausing_and_unpausing_a_seat_shows_in_the_seats_table(tmp_path: Path) -> None:
    env = instance_env(tmp_path)
    out = run_hotline(env, "seats", "pause", "seat3", "--reason", "training")
    assert out.returncode == 0, out.stderr
    line = next(line for line in out.stdout.splitlines() if line.startswith("seat3 "))
    assert "paused (training)" in line
    out = run_hotline(env, "seats", "unpause", "seat3")
    line = next(line for line in out.stdout.splitlines() if line.startswith("seat3 "))
    assert "paused" not in line
    assert len([line for line in out.stdout.splitlines() if line.startswith("seat") and line[4:5].isdigit()]) == 7


def test_calls_with_a_since_that_makes_no_sense_says_what_it_takes(tmp_path: Path) -> None:
    assert_one_line_error(run_hotline(instance_env(tmp_path), "calls", "--since", "yesterdayish"), "--since", "today")


def test_calls_on_an_empty_store_prints_an_empty_table(tmp_path: Path) -> None:
    out = run_hotline(instance_env(tmp_path), "calls")
    assert out.returncode == 0, out.stderr
    assert "no calls" in out.stdout


def test_a_settings_file_with_a_bad_value_is_one_line_naming_it(tmp_path: Path) -> None:
    assert_one_line_error(run_hotline(instance_env(tmp_path, HOTLINE_ASTERISK_SIP_PORT="five"), "pbx", "status"),
                    "HOTLINE_ASTERISK_SIP_PORT")


def test_a_negative_or_odd_limit_is_a_usage_error_not_a_traceback(tmp_path: Path) -> None:
    for bad in ("-1", "²", "ten"):
        out = run_hotline(instance_env(tmp_path), "calls", "--limit", bad)
        assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
        assert "--limit" in out.stderr and "whole number >= 0" in out.stderr


def test_a_seat_that_never_changed_state_shows_no_since_time(tmp_path: Path) -> None:
    out = run_hotline(instance_env(tmp_path), "seats", "login", "seat2")
    assert out.returncode == 0, out.stderr
    assert "1970" not in out.stdout
    line = next(line for line in out.stdout.splitlines() if line.startswith("seat2 "))
    assert line.split()[4:6] == ["offline", "-"]


def test_the_seats_table_warns_of_hours_no_shift_covers_and_not_of_a_complete_roster(tmp_path: Path) -> None:
    roster = tmp_path / "roster.toml"
    roster.write_text('[[shift]]\nname = "day"\nstart = "08:00"\nend = "20:00"\nseats = ["seat1"]\n')
    out = run_hotline(instance_env(tmp_path, HOTLINE_PATHS_ROSTER=str(roster)), "seats")
    assert out.returncode == 0, out.stderr
    assert "WARNING: the roster leaves hours of the week with no seat on duty" in out.stdout
    assert "周一 20:00 - 周二 08:00" in out.stdout and "周一 00:00-08:00" in out.stdout
    complete = run_hotline(instance_env(tmp_path / "complete"), "seats")
    assert complete.returncode == 0 and "WARNING" not in complete.stdout
