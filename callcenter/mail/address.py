"""What a mail address the hotline sends to (or from) may look like: a plain ASCII
`local@domain`. No display names, comments or quoting: an address is put in a header as
it is, so nothing that could end a header line or start another is let through."""

from __future__ import annotations

import re

_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_ADDRESS = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@{_LABEL}(?:\.{_LABEL})*")


def is_mail_address(text: str) -> bool:
    return len(text) <= 254 and _ADDRESS.fullmatch(text) is not None


def domain_of(address: str) -> str:
    return address.rpartition("@")[2]
