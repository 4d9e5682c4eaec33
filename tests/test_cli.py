"""The `hotline` command's edges: clear one-line errors, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.harness import HOME, instance_env


def _hotline(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")} | env
    return subprocess.run([sys.executable, "-m", "callcenter.cli", *args], capture_output=True, text=True,
                          env=full_env, cwd=HOME, timeout=60)


def _one_line_error(out: subprocess.CompletedProcess[str], *expected: str) -> None:
    assert out.returncode == 2, out.stdout + out.stderr
    assert "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    for text in expected:
        assert text in lines[0], lines[0]


def test_an_unknown_seat_in_the_roster_is_a_clear_config_error(tmp_path: Path) -> None:
    roster = tmp_path / "roster.toml"
    roster.write_text('[[shift]]\nname = "night"\nstart = "00:00"\nend = "08:00"\nseats = ["seat1", "seat9"]\n')
    out = _hotline(instance_env(tmp_path, HOTLINE_PATHS_ROSTER=str(roster)), "seats")
    _one_line_error(out, str(roster), "seat9")


def test_a_seat_command_for_a_seat_that_does_not_exist_is_refused(tmp_path: Path) -> None:
    _one_line_error(_hotline(instance_env(tmp_path), "seats", "pause", "seat7"), "unknown seat 'seat7'")


def test_pausing_and_unpausing_a_seat_shows_in_the_seats_table(tmp_path: Path) -> None:
    env = instance_env(tmp_path)
    out = _hotline(env, "seats", "pause", "seat3", "--reason", "training")
    assert out.returncode == 0, out.stderr
    line = next(line for line in out.stdout.splitlines() if line.startswith("seat3 "))
    assert "paused (training)" in line
    out = _hotline(env, "seats", "unpause", "seat3")
    line = next(line for line in out.stdout.splitlines() if line.startswith("seat3 "))
    assert "paused" not in line
    assert len([line for line in out.stdout.splitlines() if line.startswith("seat") and line[4:5].isdigit()]) == 7


def test_calls_with_a_since_that_makes_no_sense_says_what_it_takes(tmp_path: Path) -> None:
    _one_line_error(_hotline(instance_env(tmp_path), "calls", "--since", "yesterdayish"), "--since", "today")


def test_calls_on_an_empty_store_prints_an_empty_table(tmp_path: Path) -> None:
    out = _hotline(instance_env(tmp_path), "calls")
    assert out.returncode == 0, out.stderr
    assert "no calls" in out.stdout


def test_a_settings_file_with_a_bad_value_is_one_line_naming_it(tmp_path: Path) -> None:
    _one_line_error(_hotline(instance_env(tmp_path, HOTLINE_ASTERISK_SIP_PORT="five"), "pbx", "status"),
                    "HOTLINE_ASTERISK_SIP_PORT")
