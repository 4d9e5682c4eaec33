from __future__ import annotations

import stat
import subprocess
from pathlib import Path

import pytest

from callcenter import pbx
from callcenter.errors import ConfigError
from callcenter.settings import SEAT_NAMES, load_or_create_credentials, load_settings
from tests.harness import HOME, instance_env, settings_for


def test_defaults_bind_every_control_port_to_loopback() -> None:
    settings = load_settings(env={"HOTLINE_HOME": str(HOME)})
    assert settings.asterisk.http_bind == "127.0.0.1"
    assert settings.asterisk.ami_bind == "127.0.0.1"
    assert settings.asterisk.sip_bind == "127.0.0.1"
    assert settings.hotline.number == "12345"
    assert settings.hotline.timezone == "Asia/Shanghai"
    assert settings.ari_url == "http://127.0.0.1:8088/ari"


def test_environment_overrides_a_setting(tmp_path: Path) -> None:
    env = instance_env(tmp_path, HOTLINE_ASTERISK_SIP_BIND="192.168.1.20")
    settings = load_settings(env=env)
    assert settings.asterisk.sip_bind == "192.168.1.20"
    assert settings.asterisk.sip_port == int(env["HOTLINE_ASTERISK_SIP_PORT"])
    assert settings.paths.state_dir == tmp_path


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("HOTLINE_ASTERISK_SIP_PORT", "not-a-port", "HOTLINE_ASTERISK_SIP_PORT"),
        ("HOTLINE_ASTERISK_HTTP_PORT", "70000", "asterisk.http_port"),
        ("HOTLINE_ASTERISK_SIP_BIND", "localhost; rm -rf /", "asterisk.sip_bind"),
        ("HOTLINE_ASTERISK_MODE", "cloud", "asterisk.mode"),
        ("HOTLINE_HOTLINE_TIMEZONE", "Mars/Olympus", "hotline.timezone"),
        ("HOTLINE_ASTERISK_RTP_START", "30000", "rtp_start"),
        # Settings written into Asterisk's configuration: no line breaks, no look-alike digits.
        ("HOTLINE_HOTLINE_NUMBER", "12345\n[evil]\nexten => _X.,1,Dial(PJSIP/${EXTEN})", "hotline.number"),
        ("HOTLINE_HOTLINE_NUMBER", "１２３４５", "hotline.number"),
        ("HOTLINE_HOTLINE_NUMBER", "12²45", "hotline.number"),
        ("HOTLINE_CALLBACKS_CALLER_ID", "12345\r\nfrom_domain = evil", "callbacks.caller_id"),
        ("HOTLINE_CALLBACKS_TRUNK", "gw.example.org\n[anonymous]", "callbacks.trunk"),
        ("HOTLINE_CALLBACKS_TRUNK", "gw.example.org:5060\r", "callbacks.trunk"),
        ("HOTLINE_TRUNK_ADDRESS", "gw.example.org\n[anonymous]", "trunk.address"),
        ("HOTLINE_ASTERISK_APP", "hotline\nnoload", "asterisk.app"),
        ("HOTLINE_ASTERISK_APP", "热线", "asterisk.app"),
        ("HOTLINE_HOTLINE_TIMEZONE", "Asia/Shanghai\n[x]", "hotline.timezone"),
        # Anything but empty or a PostgreSQL URL naming a host and a database.
        ("HOTLINE_STORE_URL", "mysql://hotline:pw@db.example.org/hotline", "store.url"),
        ("HOTLINE_STORE_URL", "var/hotline.db", "store.url"),
        ("HOTLINE_STORE_URL", "postgresql://hotline:pw@db.example.org", "store.url"),
        ("HOTLINE_STORE_URL", "postgresql:///hotline", "store.url"),
        ("HOTLINE_STORE_URL", "postgresql://hotline:pw@db.example.org:99999/hotline", "store.url"),
        # A cluster node's proxy: an IPv4 address and a port (its ACL permits no names).
        ("HOTLINE_ASTERISK_PROXY", "proxy.example.org:5060", "asterisk.proxy"),
        ("HOTLINE_ASTERISK_PROXY", "127.0.0.10", "asterisk.proxy"),
        ("HOTLINE_ASTERISK_PROXY", "127.0.0.10:5060\n[evil]", "asterisk.proxy"),
        ("HOTLINE_ASTERISK_PROXY", "127.0.0.10:70000", "asterisk.proxy"),
    ],
)
def test_a_bad_setting_is_a_config_error_naming_it(tmp_path: Path, variable: str, value: str, named: str) -> None:
    env = instance_env(tmp_path, **{variable: value})
    if variable == "HOTLINE_ASTERISK_RTP_START":
        env["HOTLINE_ASTERISK_RTP_END"] = "20000"
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        load_settings(env=env)


@pytest.mark.parametrize("trunk", ["gw.example.org", "192.0.2.7:5062", "[2001:db8::1]:5060", "sbc-1"])
def test_a_trunk_given_as_host_or_host_and_port_is_accepted(tmp_path: Path, trunk: str) -> None:
    assert load_settings(env=instance_env(tmp_path, HOTLINE_CALLBACKS_TRUNK=trunk)).callbacks.trunk == trunk


def test_an_unknown_key_in_the_settings_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "hotline.toml"
    path.write_text((HOME / "config" / "hotline.toml").read_text() + "\n[asterisk.extra]\nsip_prot = 5060\n")
    with pytest.raises(ConfigError, match=r"unknown setting asterisk\.extra"):
        load_settings(path, env={"HOTLINE_HOME": str(HOME)})


def test_a_settings_file_that_is_not_toml_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "hotline.toml"
    path.write_text("[asterisk\nsip_port = ")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(path, env={"HOTLINE_HOME": str(HOME)})


def test_credentials_are_generated_once_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "state" / "credentials.toml"
    first = load_or_create_credentials(path)
    second = load_or_create_credentials(path)
    assert first == second
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert set(first.seat_passwords) == set(SEAT_NAMES)
    passwords = [first.ari_password, first.ami_password, *first.seat_passwords.values()]
    assert len(set(passwords)) == len(passwords)
    assert all(len(p) >= 16 for p in passwords)


def _tracked_files() -> list[Path]:
    listed = subprocess.run(["git", "-C", str(HOME), "ls-files", "-z"], capture_output=True, check=True).stdout
    return [HOME / name for name in listed.decode().split("\0") if name and (HOME / name).is_file()]


def test_no_password_is_written_in_the_repository(tmp_path: Path) -> None:
    """On a clean clone too: credentials are generated into the state folder, rendered into
    the instance's Asterisk configuration, and appear in no tracked file."""
    settings = settings_for(instance_env(tmp_path / "state"))
    generated = settings.credentials()
    secrets = [generated.ari_password, generated.ami_password, *generated.seat_passwords.values(),
               *generated.supervisor_passwords.values()]
    rendered = pbx.render_config(settings, pbx.Instance.of(settings), "/usr/lib/x86_64-linux-gnu/asterisk/modules")
    rendered_text = "".join(path.read_text() for path in rendered)
    assert all(secret in rendered_text for secret in secrets)  # the check below can fail
    if (HOME / "var" / "credentials.toml").exists():  # a machine that ran the hotline: its own too
        own = load_or_create_credentials(HOME / "var" / "credentials.toml", supervisors_wanted=("supervisor",))
        secrets += [own.ari_password, own.ami_password, *own.seat_passwords.values(),
                    *own.supervisor_passwords.values()]
    for path in _tracked_files():
        text = path.read_text(errors="replace")
        for secret in secrets:
            assert secret not in text, f"{path}: holds a generated password"
        if path.suffix == ".j2" or path.parent.name == "config":
            for line in text.splitlines():
                key = line.split("=", 1)[0].strip().lower()
                if key in ("password", "secret"):
                    assert "{{" in line, f"{path}: a literal password: {line}"

def test_the_store_url_names_postgresql_and_a_bad_one_never_shows_its_password(tmp_path: Path) -> None:
    assert load_settings(env=instance_env(tmp_path)).store.url == ""  # the SQLite file at paths.database
    url = "postgresql://hotline:s3cret@db.example.org:5432/hotline"
    assert load_settings(env=instance_env(tmp_path, HOTLINE_STORE_URL=url)).store.url == url
    with pytest.raises(ConfigError, match=r"store\.url must be empty .* got 'mysql://hotline:\*\*\*@db") as refused:
        load_settings(env=instance_env(tmp_path, HOTLINE_STORE_URL=url.replace("postgresql", "mysql")))
    assert "s3cret" not in str(refused.value)
