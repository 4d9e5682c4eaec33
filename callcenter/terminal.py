"""Text for a terminal: values escaped so a hostile caller id cannot act on the screen,
columns measured in display cells (Chinese characters take two), and JSON that keeps
Chinese readable while escaping what a terminal would act on."""

from __future__ import annotations

import json
import re
import unicodedata

# Control, format (bidi overrides, zero-width), surrogate, private-use, unassigned and
# separator characters: shown spelled out, never passed to the terminal.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def _escape_char(ch: str) -> str:
    """One character as the terminal will show it."""
    if ch == "\\":
        return "\\\\"
    if unicodedata.category(ch) in _UNSAFE_CATEGORIES:
        code = ord(ch)
        return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"
    return ch


def _char_width(ch: str) -> int:
    if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me"):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def display_width(text: str) -> int:
    """Terminal columns `text` takes (East Asian wide and full-width characters take 2)."""
    return sum(_char_width(ch) for ch in text)


def escape_text(value: object) -> str:
    """A value as one safe line of text: no control characters, no escapes that reach the terminal."""
    return "".join(_escape_char(ch) for ch in ("" if value is None else str(value)))


def fit(value: object, width: int, align_right: bool = False) -> str:
    """Escape `value` and pad or cut it to exactly `width` display columns ("…" marks a cut)."""
    tokens = [_escape_char(ch) for ch in ("" if value is None else str(value))]
    widths = [display_width(t) for t in tokens]
    # Combining marks are 0 wide: cap the count of characters too, or a pile of them
    # could hide a huge field in a narrow column.
    if sum(widths) > width or len(tokens) > 3 * width:
        kept: list[str] = []
        used = 0
        for token, w in zip(tokens, widths, strict=True):
            if used + w > width - 1 or len(kept) >= 3 * width - 1:
                break
            kept.append(token)
            used += w
        text, used = "".join(kept) + "…", used + 1
    else:
        text, used = "".join(tokens), sum(widths)
    pad = " " * (width - used)
    return pad + text if align_right else text + pad


def _json_escape(match: re.Match[str]) -> str:
    ch = match.group()
    if ch == "\n" or unicodedata.category(ch) not in _UNSAFE_CATEGORIES:
        return ch
    code = ord(ch)
    if code > 0xFFFF:  # JSON spells these as a surrogate pair
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
    return f"\\u{code:04x}"


def safe_json(value: object) -> str:
    """JSON for a terminal. Chinese stays readable; characters a terminal would act on
    (DEL, C1 controls, bidi and zero-width marks, lone surrogates) are \\u-escaped, which
    json itself does only below U+0020 (so a raw newline left in the text is layout)."""
    text = json.dumps(value, ensure_ascii=False, indent=2, default=str)
    return re.sub("[^\x20-\x7e]", _json_escape, text)
