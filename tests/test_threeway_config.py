"""Three-way calls' settings: unit phone numbers in the directory, the shared trunk."""

from __future__ import annotations

from pathlib import Path

import pytest

from callcenter import pbx
from callcenter.errors import ConfigError
from callcenter.tickets import load_directory
from tests.harness import instance_env, settings_for

UNIT = '[[unit]]\ncode = "a"\nname = "甲"\n'


def _units(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "units.toml"
    path.write_text(UNIT + extra, encoding="utf-8")
    return path


def test_a_unit_phone_is_digits_in_quotes_and_optional(tmp_path: Path) -> None:
    assert load_directory(_units(tmp_path, 'phone = "03562021234"\n')).units[0].phone == "03562021234"
    assert load_directory(_units(tmp_path, "")).units[0].phone == ""


@pytest.mark.parametrize("phone", ['"0356-2021234"', '"1234@evil"', '"12"', "3562021234", '"３５６２０２１"'])
def test_a_phone_that_is_not_plain_digits_is_a_one_line_config_error(tmp_path: Path, phone: str) -> None:
    path = _units(tmp_path, f"phone = {phone}\n")
    with pytest.raises(ConfigError) as caught:
        load_directory(path)
    message = str(caught.value)
    assert "\n" not in message and f"{path}: unit #1 (a): phone must be 3-20 digits in quotes" in message, message


def test_trunk_address_is_used_and_callbacks_trunk_is_its_fallback(tmp_path: Path) -> None:
    assert settings_for(instance_env(tmp_path)).trunk_address == ""
    older = settings_for(instance_env(tmp_path, HOTLINE_CALLBACKS_TRUNK="10.0.0.5:5060"))
    assert older.trunk_address == "10.0.0.5:5060"
    both = settings_for(instance_env(tmp_path, HOTLINE_CALLBACKS_TRUNK="10.0.0.5:5060",
                                     HOTLINE_TRUNK_ADDRESS="gw.example.cn:5070"))
    assert both.trunk_address == "gw.example.cn:5070"
    with pytest.raises(ConfigError, match=r"trunk\.address must be host or host:port"):
        settings_for(instance_env(tmp_path, HOTLINE_TRUNK_ADDRESS="gw;transport=tcp"))
    with pytest.raises(ConfigError, match=r"threeway\.ring_seconds must be positive"):
        settings_for(instance_env(tmp_path, HOTLINE_THREEWAY_RING_SECONDS="0"))


def test_the_trunk_endpoint_is_rendered_from_trunk_address(tmp_path: Path) -> None:
    def pjsip(**env: str) -> str:
        settings = settings_for(instance_env(tmp_path, **env))
        written = pbx.render_config(settings, pbx.Instance.of(settings), "/usr/lib/x86_64-linux-gnu/asterisk/modules")
        return next(path.read_text() for path in written if path.name == "pjsip.conf")

    assert "[callback-trunk]" not in pjsip()
    assert "contact = sip:gw.example.cn:5070" in pjsip(HOTLINE_TRUNK_ADDRESS="gw.example.cn:5070")
    assert "contact = sip:10.0.0.5:5060" in pjsip(HOTLINE_CALLBACKS_TRUNK="10.0.0.5:5060")
