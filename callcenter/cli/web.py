"""`hotline web cert`: a self-signed certificate for the console's HTTPS, made with
Debian's openssl, for a hotline whose console is reached from the operators' PCs."""

from __future__ import annotations

import argparse
import ipaddress
import os
import shutil
import subprocess

from callcenter.cli.common import Commands
from callcenter.errors import HotlineError
from callcenter.settings import Settings


def _cert(settings: Settings, args: argparse.Namespace) -> int:
    openssl = shutil.which("openssl")
    if openssl is None:
        raise HotlineError("openssl is missing: apt-get install openssl")
    hosts = [settings.web.bind, "127.0.0.1", *args.host]
    names = []
    for host in dict.fromkeys(hosts):
        try:
            names.append(f"IP:{ipaddress.ip_address(host)}")
        except ValueError:
            if not host.replace("-", "").replace(".", "").isalnum() or not host.isascii():
                raise HotlineError(f"--host {host!r} is neither an IP address nor a host name") from None
            names.append(f"DNS:{host}")
    folder = settings.paths.state_dir / "tls"
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    cert, key = folder / "console.crt", folder / "console.key"
    out = subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:3072", "-sha256", "-nodes", "-days", str(args.days),
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=12345 hotline console",
         "-addext", "subjectAltName=" + ",".join(names)],
        capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        raise HotlineError(f"openssl could not make the certificate: {out.stderr.strip().splitlines()[-1:]}")
    os.chmod(key, 0o600)
    print(f"certificate {cert} (self-signed, {args.days} days, for {', '.join(names)})")
    print(f"key         {key} (mode 0600)")
    print("set in config/hotline.toml [web]:")
    print(f'  tls_cert = "{cert}"')
    print(f'  tls_key = "{key}"')
    print("browsers will ask once to trust it: a city's own CA can sign a proper one instead")
    return 0


def register(commands: Commands) -> None:
    web = commands.add_parser("web", help="the console's HTTPS certificate")
    actions = web.add_subparsers(dest="web_action", metavar="ACTION", required=True)
    cert = actions.add_parser("cert", help="make a self-signed certificate and key for the console")
    cert.add_argument("--host", action="append", default=[], metavar="NAME_OR_IP",
                      help="another address or name the operators' browsers use (repeatable)")
    cert.add_argument("--days", type=int, default=825, help="validity in days (default 825)")
    cert.set_defaults(handler=_cert)
