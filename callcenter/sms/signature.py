"""The gateway's signature: HMAC-SHA256 with the shared secret over `timestamp + "." +
body`, sent as `X-Hotline-Signature: sha256=<hex>` with `X-Hotline-Timestamp: <unix
seconds>`. The timestamp inside the signed text and the window around this machine's
clock make an old request useless; the gateway's message id refuses the same one twice."""

from __future__ import annotations

import hashlib
import hmac

from callcenter.errors import HotlineError

TIMESTAMP_HEADER = "X-Hotline-Timestamp"
SIGNATURE_HEADER = "X-Hotline-Signature"
_PREFIX = "sha256="


class SignatureError(HotlineError):
    """The request is not the gateway's, or not now: the message says which."""


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The value of the signature header for `body` sent at `timestamp`."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return _PREFIX + digest


def signed_headers(secret: str, body: bytes, now: float) -> dict[str, str]:
    timestamp = str(int(now))
    return {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: sign(secret, timestamp, body),
            "Content-Type": "application/json"}


def verify(secret: str, timestamp: str | None, signature: str | None, body: bytes, now: float,
           window_seconds: float) -> None:
    """SignatureError unless `signature` is the secret's over this body and timestamp,
    and the timestamp is within `window_seconds` of `now`."""
    if not timestamp or not signature:
        raise SignatureError(f"unsigned: {TIMESTAMP_HEADER} and {SIGNATURE_HEADER} are required")
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        raise SignatureError(f"{TIMESTAMP_HEADER} must be unix seconds")
    expected = sign(secret, timestamp, body)
    if not hmac.compare_digest(expected.encode(), signature.strip().encode("utf-8", "replace")):
        raise SignatureError("bad signature")
    if abs(now - int(timestamp)) > window_seconds:
        raise SignatureError(f"timestamp outside the {window_seconds:.0f}-second window (an old or replayed request)")
