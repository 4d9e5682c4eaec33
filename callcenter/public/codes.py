"""The query code a citizen reads a ticket's status with: drawn with `secrets` from an
alphabet without look-alikes (no 0/O, 1/I/L), shown once; only a salted, slow hash is
stored, compared in constant time."""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets

# 31 letters and digits a citizen cannot mistake for one another when copying them by hand.
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
# 10 characters: about 50 bits; with lookups throttled per address no one guesses one.
CODE_LENGTH = 10
# Enough to make a stolen database's hashes slow to try, cheap for one lookup (a few ms).
ITERATIONS = 20_000
SCHEME = "pbkdf2-sha256"


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def normalised(code: str) -> str:
    """What the citizen typed, as the code was drawn: spaces and dashes dropped, upper case."""
    return "".join(code.split()).replace("-", "").upper()


def hash_code(code: str, salt: bytes | None = None) -> str:
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", normalised(code).encode(), salt, ITERATIONS)
    return f"{SCHEME}${ITERATIONS}${salt.hex()}${digest.hex()}"


def code_matches(code: str, stored: str | None) -> bool:
    """Whether `code` is the one whose hash is `stored`; False for a missing or damaged hash."""
    if not stored:
        return False
    try:
        scheme, iterations, salt_hex, digest_hex = stored.split("$")
        salt, expected, rounds = bytes.fromhex(salt_hex), bytes.fromhex(digest_hex), int(iterations)
    except ValueError:
        return False
    if scheme != SCHEME or not 1 <= rounds <= 1_000_000:
        return False
    digest = hashlib.pbkdf2_hmac("sha256", normalised(code).encode(), salt, rounds)
    return hmac.compare_digest(digest, expected)


@functools.cache
def decoy_hash() -> str:
    """A hash no code matches, checked for an unknown ticket so that its answer takes as
    long as a wrong code's."""
    return hash_code(secrets.token_hex(16))
