"""Live supervision's settings: the supervisors' phones (listen_in.phones), their generated
digest passwords and their PJSIP endpoints, checked like every other setting."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from callcenter import pbx
from callcenter.errors import ConfigError
from tests.harness import instance_env, settings_for
from tests.test_pbx_config import _sections


def _pjsip(tmp_path: Path, **env: str) -> dict[str, dict[str, str]]:
    settings = settings_for(instance_env(tmp_path, **env))
    written = pbx.render_config(settings, pbx.Instance.of(settings), "/usr/lib/x86_64-linux-gnu/asterisk/modules")
    text = next(path.read_text() for path in written if path.name == "pjsip.conf")
    merged: dict[str, dict[str, str]] = {}
    for name, body in _sections(text):  # endpoint, auth and aor share a name: one dict each by type
        merged[f"{name}/{body.get('type', 'endpoint')}"] = body
    return merged


def test_each_supervisor_phone_is_an_endpoint_with_digest_auth_that_may_dial_only_the_hotline(
        tmp_path: Path) -> None:
    settings = settings_for(instance_env(tmp_path, HOTLINE_LISTEN_IN_PHONES="supervisor director-2"))
    assert settings.supervisor_phones == ("supervisor", "director-2")
    sections = _pjsip(tmp_path, HOTLINE_LISTEN_IN_PHONES="supervisor director-2")
    passwords = settings.credentials().supervisor_passwords
    for name in ("supervisor", "director-2"):
        assert sections[f"{name}/endpoint"]["context"] == "from-seats"
        assert sections[f"{name}/endpoint"]["auth"] == name and sections[f"{name}/endpoint"]["aors"] == name
        assert sections[f"{name}/auth"]["auth_type"] == "digest"
        assert sections[f"{name}/auth"]["password"] == passwords[name]
        assert sections[f"{name}/aor"]["max_contacts"] == "1"
    assert passwords["supervisor"] != passwords["director-2"]


def test_no_phones_means_no_supervisor_endpoint(tmp_path: Path) -> None:
    sections = _pjsip(tmp_path, HOTLINE_LISTEN_IN_PHONES="")
    assert not [name for name in sections if name.startswith("supervisor/")]


def test_supervisor_passwords_are_generated_once_into_the_credentials_file_0600(tmp_path: Path) -> None:
    settings = settings_for(instance_env(tmp_path))
    first = settings.credentials()
    assert set(first.supervisor_passwords) == {"supervisor"} and len(first.supervisor_passwords["supervisor"]) >= 16
    assert settings.credentials() == first
    assert stat.S_IMODE(settings.credentials_file.stat().st_mode) == 0o600
    text = settings.credentials_file.read_text()
    assert "[supervisors]" in text and first.supervisor_passwords["supervisor"] in text
    assert first.sip_password("supervisor") == first.supervisor_passwords["supervisor"]
    assert first.sip_password("seat1") == first.seat_passwords["seat1"]


def test_a_phone_taken_out_of_the_settings_keeps_its_password_for_when_it_comes_back(tmp_path: Path) -> None:
    first = settings_for(instance_env(tmp_path)).credentials().supervisor_passwords["supervisor"]
    without = settings_for(instance_env(tmp_path, HOTLINE_LISTEN_IN_PHONES="director", HOTLINE_HOTLINE_SEATS="7"))
    assert set(without.credentials().supervisor_passwords) == {"director"}  # no endpoint for the one taken out
    back = settings_for(instance_env(tmp_path)).credentials().supervisor_passwords["supervisor"]
    assert back == first


@pytest.mark.parametrize(("phones", "message"), [
    ("seat1", "is the name of a seat"),
    ("seat9", "is the name of a seat"),
    ("anonymous", "is the name of a seat or of another endpoint"),
    ("callback-trunk", "is the name of a seat or of another endpoint"),
    ("Boss", "is not a valid phone name"),
    ("a]b", "is not a valid phone name"),
    ("x", "is not a valid phone name"),
    ("boss boss", "names a phone twice"),
])
def test_a_bad_phone_name_is_a_one_line_config_error(tmp_path: Path, phones: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        settings_for(instance_env(tmp_path, HOTLINE_LISTEN_IN_PHONES=phones))
    assert message in str(caught.value) and "listen_in.phones" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_the_answer_time_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"listen_in\.answer_seconds must be positive"):
        settings_for(instance_env(tmp_path, HOTLINE_LISTEN_IN_ANSWER_SECONDS="0"))
