"""Pieces of WHERE clauses that several repositories' searches share."""

from __future__ import annotations


def epoch_range(column: str, since: float | None, until: float | None) -> tuple[list[str], list[object]]:
    """The clauses and parameters for `since <= column < until` (epoch seconds); a bound
    that is None is left out. `column` is the repository's own name, never the user's."""
    clauses: list[str] = []
    params: list[object] = []
    if since is not None:
        clauses.append(f"{column} >= ?")
        params.append(since)
    if until is not None:
        clauses.append(f"{column} < ?")
        params.append(until)
    return clauses, params
