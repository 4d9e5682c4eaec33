"""The files a city's IT installs: the systemd unit and the rotation of Asterisk's logs."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from callcenter import pbx
from tests.conftest import RunningAsterisk
from tests.harness import instance_env, run_hotline, sipp


def test_the_systemd_unit_passes_systemds_own_check(tmp_path: Path) -> None:
    out = run_hotline(instance_env(tmp_path), "service", "unit")
    assert out.returncode == 0, out.stderr
    unit = tmp_path / "hotline.service"
    unit.write_text(out.stdout)
    assert shutil.which("systemd-analyze"), "systemd-analyze is missing (Debian's systemd package)"
    verify = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    # systemd-analyze exits 0 on a bad line too: a warning on its output is the failure.
    assert verify.returncode == 0 and str(unit) not in verify.stdout + verify.stderr, verify.stdout + verify.stderr
    for line in ("Restart=on-failure", "StandardOutput=journal", "KillSignal=SIGTERM"):
        assert line in out.stdout
    hotline = Path(sys.executable).with_name("hotline")  # run_hotline runs this Python
    assert f"ExecStart={hotline} up\n" in out.stdout and hotline.exists()


def test_asterisks_logs_are_rotated_and_asterisk_writes_on_into_the_fresh_file(
        asterisk: RunningAsterisk, tmp_path: Path) -> None:
    out = run_hotline(asterisk.env, "service", "logrotate")
    assert out.returncode == 0, out.stderr
    config = tmp_path / "hotline.logrotate"
    config.write_text(out.stdout)
    messages = pbx.Instance.of(asterisk.settings).output_log.parent / "messages.log"
    assert messages.stat().st_size > 0
    before = messages.read_text(errors="replace")
    state = tmp_path / "logrotate.state"
    rotate = subprocess.run(["logrotate", "-f", "-s", str(state), str(config)], capture_output=True, text=True,
                            timeout=60)
    assert rotate.returncode == 0, rotate.stderr
    rotated = messages.with_name("messages.log.1")
    assert rotated.read_text(errors="replace") == before and messages.stat().st_size == 0
    # Asterisk goes on writing into the same (now empty) file: a refused registration is logged.
    result = sipp(asterisk.settings, "register_refused.xml", "-set", "user", "seat3", "-au", "seat3",
                  "-ap", "wrong-password")
    assert result.returncode == 0, result.output
    assert "seat3" in messages.read_text(errors="replace")
