"""The console over HTTPS: `hotline web cert` makes the pair, the console serves it with
Secure cookies, and a console reachable from other machines without TLS is refused."""

from __future__ import annotations

import ssl
from pathlib import Path

import aiohttp
import pytest

from callcenter.errors import ConfigError
from callcenter.settings import load_settings
from callcenter.store import Store
from tests.harness import instance_env, run_hotline, settings_for
from tests.web_helpers import FakeFloor, console_running, console_settings


def test_a_console_bound_beyond_loopback_without_tls_is_refused_unless_plain_http_is_meant(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"web.bind 192.0.2.5 is reachable from other machines.*hotline web cert"):
        load_settings(env=instance_env(tmp_path, HOTLINE_WEB_BIND="192.0.2.5"))
    assert load_settings(env=instance_env(tmp_path, HOTLINE_WEB_BIND="192.0.2.5",
                                          HOTLINE_WEB_PLAIN_HTTP="true")).web.plain_http is True
    with pytest.raises(ConfigError, match="go together"):
        load_settings(env=instance_env(tmp_path, HOTLINE_WEB_TLS_CERT="a.crt"))
    out = run_hotline(instance_env(tmp_path, HOTLINE_WEB_BIND="0.0.0.0"), "seats")
    assert out.returncode == 2 and "web.bind 0.0.0.0" in out.stderr


async def test_hotline_web_cert_makes_a_pair_the_console_serves_over_https_with_secure_cookies(tmp_path: Path) -> None:
    base = console_settings(tmp_path)
    out = run_hotline(instance_env(tmp_path), "web", "cert", "--host", "hotline.example.gov.cn")
    assert out.returncode == 0, out.stderr
    cert, key = tmp_path / "tls" / "console.crt", tmp_path / "tls" / "console.key"
    assert cert.exists() and key.stat().st_mode & 0o777 == 0o600
    settings = settings_for(instance_env(tmp_path, HOTLINE_PATHS_ROSTER=str(base.paths.roster),
                                         HOTLINE_WEB_TLS_CERT=str(cert), HOTLINE_WEB_TLS_KEY=str(key)))
    trust = ssl.create_default_context(cafile=str(cert))  # the browser trusted it once
    async with Store(settings.paths.database) as store, \
            console_running(settings, FakeFloor(settings, store)) as console:
        assert console.url.startswith("https://127.0.0.1:")
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{console.url}/login", ssl=trust) as response:
                assert response.status == 200
                cookie = next(c for c in response.headers.getall("Set-Cookie") if c.startswith("hotline_login="))
                assert "Secure" in cookie and "HttpOnly" in cookie
            with pytest.raises(aiohttp.ClientError):  # plain HTTP to the TLS port
                async with http.get(console.url.replace("https://", "http://") + "/login") as response:
                    await response.read()


def test_a_certificate_that_does_not_fit_its_key_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.crt"
    bad.write_text("not a certificate")
    settings = settings_for(instance_env(tmp_path, HOTLINE_WEB_TLS_CERT=str(bad), HOTLINE_WEB_TLS_KEY=str(bad)))
    from callcenter.web.app import tls_context

    with pytest.raises(ConfigError, match=r"cannot use the certificate .*bad.crt"):
        tls_context(settings)
