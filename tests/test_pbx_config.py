"""The Asterisk configuration as rendered, read without starting Asterisk."""

from __future__ import annotations

import configparser
import shutil
from pathlib import Path

import pytest

from callcenter import pbx
from callcenter.errors import ConfigError
from tests.harness import HOME, instance_env, settings_for


def _render(tmp_path: Path, home: Path = HOME, env: dict[str, str] | None = None) -> dict[str, str]:
    settings = settings_for(env or instance_env(tmp_path, HOTLINE_HOME=str(home)))
    instance = pbx.Instance.of(settings)
    written = pbx.render_config(settings, instance, "/usr/lib/x86_64-linux-gnu/asterisk/modules")
    return {path.name: path.read_text() for path in written}


def _sections(text: str) -> list[tuple[str, dict[str, str]]]:
    sections: list[tuple[str, dict[str, str]]] = []
    for line in text.splitlines():
        line = line.split(";", 1)[0].strip()
        if line.startswith("["):
            sections.append((line[1 : line.index("]")], {}))
        elif "=" in line and sections:
            key, value = (part.strip() for part in line.split("=", 1))
            sections[-1][1][key] = value
    return sections


def test_anonymous_callers_land_where_only_12345_exists(tmp_path: Path) -> None:
    files = _render(tmp_path)
    anonymous = dict(_sections(files["pjsip.conf"]))["anonymous"]
    assert anonymous["context"] == "from-citizens"
    dialplan = files["extensions.conf"]
    context = dialplan.split("[from-citizens]", 1)[1].split("\n[", 1)[0]
    extensions = {line.split("=>", 1)[1].split(",", 1)[0].strip()
                  for line in context.splitlines() if line.startswith("exten")}
    assert extensions == {"12345"}
    assert "Dial(" not in dialplan


def test_six_seats_need_digest_auth_with_their_generated_passwords(tmp_path: Path) -> None:
    files = _render(tmp_path)
    settings = settings_for(instance_env(tmp_path))
    sections = _sections(files["pjsip.conf"])
    auths = {name: body for name, body in sections if body.get("type") == "auth"}
    # The supervisors' phones (listen_in.phones) are the only other digest accounts.
    assert set(auths) == {f"seat{n}" for n in range(1, 7)} | set(settings.supervisor_phones)
    for seat, body in auths.items():
        assert body["auth_type"] == "digest"
        assert body["password"] == settings.credentials().sip_password(seat)
    endpoints = {name for name, body in sections if "auth" in body and body.get("type") != "auth"}
    assert endpoints == set(auths)


def test_control_ports_and_credentials_come_from_settings(tmp_path: Path) -> None:
    env = instance_env(tmp_path)
    settings = settings_for(env)
    files = _render(tmp_path, env=env)
    creds = settings.credentials()
    http = configparser.ConfigParser(strict=False, inline_comment_prefixes=(";",), comment_prefixes=(";",))
    http.read_string(files["http.conf"])
    assert http["general"]["bindaddr"] == "127.0.0.1"
    assert http["general"]["bindport"] == env["HOTLINE_ASTERISK_HTTP_PORT"]
    ari = dict(_sections(files["ari.conf"]))
    assert ari[creds.ari_user]["password"] == creds.ari_password
    assert int(ari["general"]["websocket_write_timeout"]) >= 500
    manager = dict(_sections(files["manager.conf"]))
    assert manager["general"]["bindaddr"] == "127.0.0.1"
    assert manager[creds.ami_user]["secret"] == creds.ami_password
    assert "chan_iax2.so" in files["modules.conf"]


def test_a_broken_template_is_a_config_error_naming_file_and_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    shutil.copytree(HOME / "config", home / "config")
    shutil.copytree(HOME / "dialplan", home / "dialplan")
    broken = home / "config" / "asterisk" / "rtp.conf.j2"
    broken.write_text("[general]\nrtpstart = {{ s.asterisk.rtp_start }\n")
    with pytest.raises(ConfigError, match=r"rtp\.conf\.j2: line 2"):
        _render(tmp_path / "state", home)


def test_a_stale_pid_file_naming_another_process_is_not_taken_for_asterisk(tmp_path: Path) -> None:
    import os

    settings = settings_for(instance_env(tmp_path))
    instance = pbx.Instance.of(settings)
    instance.base.mkdir(parents=True)
    instance.pid_file.write_text(f"{os.getpid()}\n")  # this test process: not Asterisk
    assert instance.running_pid() is None
    assert pbx.stop(settings, progress=lambda line: None) is False


def test_a_cluster_node_holds_no_registrations_and_hears_only_its_proxy(tmp_path: Path) -> None:
    env = instance_env(tmp_path, HOTLINE_ASTERISK_PROXY="127.0.0.10:5080")
    settings = settings_for(env)
    text = _render(tmp_path, env=env)["pjsip.conf"]
    sections = _sections(text)
    by_type: dict[str, dict[str, dict[str, str]]] = {}
    for name, body in sections:
        by_type.setdefault(body.get("type", ""), {})[name] = body
    assert "auth" not in by_type  # no digest accounts: the phones authenticate at Kamailio
    phones = set(settings.seat_names) | set(settings.supervisor_phones)
    aors = by_type["aor"]
    assert set(aors) == phones
    for phone, aor in aors.items():  # reached through the proxy, never registered here
        assert aor["contact"] == f"sip:{phone}@127.0.0.10:5080"
        assert "max_contacts" not in aor
    endpoints = {name: body for name, body in sections if "context" in body}
    assert all(endpoints[phone]["context"] == "from-seats" and "auth" not in endpoints[phone] for phone in phones)
    # Only the proxy's address is identified (as the anonymous endpoint: citizens' dialplan);
    # no identification by user name, so nobody is a seat by saying so.
    assert dict(sections)["global"]["endpoint_identifier_order"] == "ip"
    assert by_type["identify"] == {"anonymous": {"type": "identify", "endpoint": "anonymous",
                                                 "match": "127.0.0.10"}}
    assert endpoints["anonymous"]["context"] == "from-citizens"
    # Nobody else reaches the node: every endpoint a request could be taken for (the
    # anonymous one, a phone's by its user name) admits the proxy's address only.
    assert dict(sections)["from-proxy-only"] == {"deny": "0.0.0.0/0.0.0.0", "permit": "127.0.0.10/255.255.255.255"}
    headers = {line for line in text.splitlines() if line.startswith("[")}
    assert "[anonymous](media-defaults,from-proxy-only)" in headers
    assert all(f"[{phone}](media-defaults,from-proxy-only)" in headers for phone in phones)


def test_the_single_machine_keeps_its_registrations_and_identification(tmp_path: Path) -> None:
    sections = _sections(_render(tmp_path)["pjsip.conf"])
    assert dict(sections)["global"]["endpoint_identifier_order"] == "username,anonymous"
    assert not [name for name, body in sections if body.get("type") == "identify" or name == "from-proxy-only"]
    assert all(body.get("max_contacts") == "1" and "contact" not in body
               for name, body in sections if body.get("type") == "aor")
