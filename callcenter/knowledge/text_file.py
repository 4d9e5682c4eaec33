"""A file of the knowledge base read as text, with the one-line error a person can act on."""

from __future__ import annotations

from pathlib import Path

from callcenter.knowledge.article import KnowledgeError


def read_text(path: Path, limit: int, hint: str = "") -> str:
    """The file's UTF-8 text; KnowledgeError naming the file when it cannot be read, is
    larger than `limit` bytes, or is not UTF-8."""
    try:
        if path.stat().st_size > limit:
            raise KnowledgeError(f"{path}: larger than {limit:,} bytes")
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise KnowledgeError(f"{path}: not UTF-8 text (byte {exc.start}){hint}") from None
    except OSError as exc:
        raise KnowledgeError(f"{path}: cannot be read ({exc.strerror or exc})") from None
