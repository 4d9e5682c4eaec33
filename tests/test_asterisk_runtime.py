"""The embedded Asterisk, for real: provisioned root, chroot, SIPp on loopback."""

from __future__ import annotations

import asyncio
import shutil
import socket
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from callcenter import pbx
from callcenter.ari import AriClient, AriConfig, AriUnauthorized, EventStream
from tests.conftest import RunningAsterisk
from tests.flow import FAST, hotline_for
from tests.harness import HOME, assert_one_line_error, call_hotline, instance_env, run_hotline, settings_for, sipp

pytestmark = pytest.mark.asterisk


def _ari_config(running: RunningAsterisk, password: str | None = None) -> AriConfig:
    creds = running.settings.credentials()
    return AriConfig(running.settings.ari_url, creds.ari_user, password or creds.ari_password,
                     running.settings.asterisk.app)


async def test_ari_answers_with_the_generated_credentials_and_refuses_wrong_ones(asterisk: RunningAsterisk) -> None:
    async with aiohttp.ClientSession() as session:
        info = await AriClient(_ari_config(asterisk), session).info()
        assert info["system"]["version"].startswith("22.")
        with pytest.raises(AriUnauthorized):
            await AriClient(_ari_config(asterisk, password="wrong-password"), session).info()


async def test_a_call_to_12345_reaches_the_stasis_app_which_answers_and_hangs_up(asterisk: RunningAsterisk) -> None:
    events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    async with aiohttp.ClientSession() as session:
        client = AriClient(_ari_config(asterisk), session)
        stream = EventStream(_ari_config(asterisk), session, events.put_nowait)
        reader = asyncio.create_task(stream.run())
        try:
            await asyncio.wait_for(stream.connected.wait(), 10)
            call = asyncio.create_task(asyncio.to_thread(
                sipp, asterisk.settings, "citizen_call_server_hangs_up.xml",
                "-s", "12345", "-set", "caller", "13912345678", "-set", "caller_name", "Citizen"))
            start = await _next_event(events, "StasisStart")
            channel = start["channel"]
            assert channel["caller"]["number"] == "13912345678"
            assert channel["dialplan"]["exten"] == "12345"
            await client.answer(channel["id"])
            await asyncio.sleep(0.5)
            await client.hangup(channel["id"])
            await _next_event(events, "StasisEnd")
            result = await call
            assert result.returncode == 0, result.output
        finally:
            reader.cancel()


async def _next_event(events: asyncio.Queue[dict[str, Any]], kind: str) -> dict[str, Any]:
    while True:
        event = await asyncio.wait_for(events.get(), 15)
        if event.get("type") == kind:
            return event


@pytest.mark.parametrize("number", ["9999", "112", "0012345", "123456"])
def test_a_call_to_any_other_number_is_refused(asterisk: RunningAsterisk, number: str) -> None:
    result = sipp(asterisk.settings, "call_refused.xml", "-s", number)
    assert result.returncode == 0, result.output


@pytest.mark.parametrize("number", ["9999", "110", "0088212345678", "13800138000", "*97", "s"])
def test_an_authenticated_seat_dialling_any_other_number_is_refused(asterisk: RunningAsterisk, number: str) -> None:
    password = asterisk.settings.credentials().seat_passwords["seat1"]
    result = sipp(asterisk.settings, "seat_call_refused.xml", "-s", number, "-set", "user", "seat1",
                  "-au", "seat1", "-ap", password)
    assert result.returncode == 0, result.output


def test_asterisk_and_each_of_its_threads_run_at_the_configured_priority(asterisk: RunningAsterisk) -> None:
    # Field 19 of /proc/<pid>/task/<tid>/stat is the thread's nice value (after the name
    # in parentheses, which cannot hold spaces here).
    nice = {int(stat.read_text().rsplit(")", 1)[1].split()[16])
            for stat in Path(f"/proc/{asterisk.pid}/task").glob("*/stat")}
    assert asterisk.settings.asterisk.nice == -5
    assert nice == {-5}, nice


def test_a_seat_registers_with_its_password(asterisk: RunningAsterisk) -> None:
    password = asterisk.settings.credentials().seat_passwords["seat1"]
    result = sipp(asterisk.settings, "register_accepted.xml", "-set", "user", "seat1", "-au", "seat1", "-ap", password)
    assert result.returncode == 0, result.output
    contacts = pbx.cli_command(asterisk.settings, "pjsip show contacts")
    assert "seat1/sip:seat1@127.0.0.1" in contacts


def test_a_seat_with_a_wrong_password_is_refused(asterisk: RunningAsterisk) -> None:
    result = sipp(asterisk.settings, "register_refused.xml", "-set", "user", "seat2", "-au", "seat2",
                  "-ap", "not-the-password")
    assert result.returncode == 0, result.output
    assert "seat2/sip:" not in pbx.cli_command(asterisk.settings, "pjsip show contacts")


def test_status_prints_version_uptime_ports_and_that_ari_and_ami_answer(asterisk: RunningAsterisk) -> None:
    out = run_hotline(asterisk.env, "pbx", "status")
    assert out.returncode == 0, out.stderr
    assert "Asterisk 22." in out.stdout
    assert "uptime:" in out.stdout
    assert f":{asterisk.settings.asterisk.sip_port}" in out.stdout
    assert "ARI:" in out.stdout and "(answers)" in out.stdout.split("ARI:")[1].splitlines()[0]
    assert "(answers)" in out.stdout.split("AMI:")[1].splitlines()[0]


def test_cli_runs_an_asterisk_command(asterisk: RunningAsterisk) -> None:
    out = run_hotline(asterisk.env, "pbx", "cli", "core show channels")
    assert out.returncode == 0, out.stderr
    assert "active channel" in out.stdout


def test_after_stop_no_asterisk_process_and_no_mount_of_ours_remains(asterisk_root: Path, tmp_path: Path) -> None:
    env = instance_env(tmp_path)
    settings = settings_for(env)
    pid = pbx.start(settings, progress=lambda line: None)
    assert _processes_seeing(tmp_path) == [pid]
    assert pbx.stop(settings, progress=lambda line: None) is True
    assert not Path(f"/proc/{pid}").exists() or _state(pid) == "Z"
    assert _processes_seeing(tmp_path) == []
    with open("/proc/self/mounts") as mounts:
        assert str(tmp_path) not in mounts.read()
    assert pbx.stop(settings, progress=lambda line: None) is False


def _processes_seeing(folder: Path) -> list[int]:
    """Processes in whose mount namespace our instance folder is mounted."""
    seen = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if str(folder) in (entry / "mountinfo").read_text():
                seen.append(int(entry.name))
        except OSError:
            continue
    return seen


def _state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def test_start_with_a_port_in_use_names_the_port(asterisk_root: Path, tmp_path: Path) -> None:
    env = instance_env(tmp_path)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", int(env["HOTLINE_ASTERISK_AMI_PORT"])))
        squatter.listen()
        out = run_hotline(env, "pbx", "start")
    assert_one_line_error(out, f"port {env['HOTLINE_ASTERISK_AMI_PORT']}", "asterisk.ami_port")
    assert _processes_seeing(tmp_path) == []


def test_start_with_a_broken_template_names_the_file(asterisk_root: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    shutil.copytree(HOME / "config", home / "config")
    shutil.copytree(HOME / "dialplan", home / "dialplan")
    shutil.copytree(HOME / "ivr", home / "ivr")  # `pbx start` builds the prompts first
    (home / "dialplan" / "extensions.conf.j2").write_text("[from-citizens]\n{% for x in %}\n")
    out = run_hotline(instance_env(tmp_path / "state", HOTLINE_HOME=str(home)), "pbx", "start")
    assert_one_line_error(out, "extensions.conf.j2", "line 2")


def test_start_without_the_privileges_chroot_needs_says_what_it_needs(asterisk_root: Path, tmp_path: Path) -> None:
    out = run_hotline(instance_env(tmp_path), "pbx", "start", without_caps=True)
    assert_one_line_error(out, "needs root", "CAP_SYS_CHROOT")
    assert _processes_seeing(tmp_path) == []


async def test_an_asterisk_started_by_pbx_start_plays_the_hotlines_prompts(asterisk_root: Path, tmp_path: Path) -> None:
    env = instance_env(tmp_path, **FAST, HOTLINE_CALLFLOW_MENU="false")
    settings = settings_for(env)
    out = run_hotline(env, "pbx", "start")
    assert out.returncode == 0, out.stderr
    try:
        pid = pbx.Instance.of(settings).running_pid()
        assert pid is not None
        # What Asterisk itself sees, in its own mount namespace and chroot.
        sounds = Path(f"/proc/{pid}/root{pbx.INSTANCE_MOUNT}/sounds")
        assert (sounds / "greeting.wav").stat().st_size > 8000
        async with hotline_for(env, tmp_path) as hotline:
            # No seat: the caller hears the greeting, waits in line and hangs up after 7 s.
            result, _ = await asyncio.to_thread(call_hotline, hotline.settings, hotline.workdir, "13912340099",
                                                7000, digit=None)
            assert result.returncode == 0, result.output
            rows = await hotline.settled()
            events = await hotline.events(str(rows[0]["call_id"]))
        at = {e["kind"]: float(e["at_epoch"]) for e in events}
        # The greeting really played (a failed playback ends at once): about 4.6 s.
        assert at["GREETING"] - at["ANSWERED"] > 3.0, [(e["kind"], e["at_epoch"]) for e in events]
    finally:
        run_hotline(env, "pbx", "stop")


async def test_ami_refuses_originate_and_allows_only_what_the_engine_sends(asterisk: RunningAsterisk) -> None:
    from callcenter.ami import ami_session
    from callcenter.errors import PbxError

    async with ami_session(asterisk.settings) as ami:
        assert (await ami.action("Ping"))["Response"] == "Success"
        with pytest.raises(PbxError, match=r"AMI Originate refused: Permission denied"):
            await ami.action("Originate", Channel="PJSIP/seat1", Application="Playback", Data="beep")
        with pytest.raises(PbxError, match=r"AMI UpdateConfig refused: Permission denied"):
            await ami.action("UpdateConfig", SrcFilename="manager.conf", DstFilename="manager.conf",
                             **{"Action-000000": "Append", "Cat-000000": "x", "Var-000000": "y", "Value-000000": "z"})
        assert "active channel" in await ami.command("core show channels")
    conf = (pbx.Instance.of(asterisk.settings).etc / "manager.conf").read_text()
    rights = [line for line in conf.splitlines() if line.startswith(("read =", "write ="))]
    assert rights == ["read = call", "write = system,call,command"] and "deny = ::/0" in conf


async def test_the_database_recordings_and_credentials_are_closed_to_other_users(
        asterisk: RunningAsterisk, tmp_path: Path) -> None:
    async with hotline_for(asterisk.env | FAST, tmp_path) as hotline:
        result, _ = await asyncio.to_thread(call_hotline, hotline.settings, hotline.workdir, "13912340098", 1500,
                                            digit="0")
        assert result.returncode == 0, result.output
        rows = await hotline.settled()
    recording = Path(str(rows[0]["recording_path"]))
    settings = hotline.settings
    modes = {name: path.stat().st_mode & 0o777 for name, path in (
        ("recording", recording), ("recordings folder", recording.parent),
        ("database", settings.paths.database), ("credentials", settings.credentials_file))}
    assert modes == {"recording": 0o640, "recordings folder": 0o750, "database": 0o600, "credentials": 0o600}
