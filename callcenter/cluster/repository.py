"""Kamailio's tables in PostgreSQL: made from Debian's SQL files once, and the phones'
accounts written into `subscriber` as HA1 hashes (the hotline's credentials are the source)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

import psycopg


def prepare(url: str, scripts: Sequence[str], accounts: Mapping[str, str], realm: str) -> None:
    with psycopg.connect(url) as conn:
        made = conn.execute("SELECT to_regclass('public.subscriber') IS NOT NULL").fetchone()
        if not (made and made[0]):
            for script in scripts:  # Debian's own files, several statements each
                conn.execute(script.encode())
        # The accounts as they are now: a password changed, an account removed.
        conn.execute("DELETE FROM subscriber")
        with conn.cursor() as cursor:
            cursor.executemany("INSERT INTO subscriber (username, domain, ha1) VALUES (%s, '', %s)",
                               [(user, ha1(user, realm, password)) for user, password in sorted(accounts.items())])


def ha1(user: str, realm: str, password: str) -> str:
    """Digest's HA1 (RFC 2617): what Kamailio checks a phone's answer against."""
    return hashlib.md5(f"{user}:{realm}:{password}".encode(), usedforsecurity=False).hexdigest()


def registered(url: str) -> dict[str, str]:
    """Who is registered: user name -> contact (usrloc's table; Kamailio deletes a
    registration there when it expires or the phone unregisters)."""
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT username, contact FROM location").fetchall()
    return {str(user): str(contact) for user, contact in rows}
