"""Which fetches of a recording are a new line in its access log.

A browser's player fetches a recording in many Range requests: its start (for the
length), then again from wherever the listener seeks or replays. One listening must be
one line of the log, yet no way of asking for bytes may escape it (a listener asking for
"bytes=1-" gets all but the first byte of the header). So every fetch counts, and a
fetch of the same recording by the same user the same way (play or download) within
`gap` seconds of their previous fetch continues that listening rather than start one.
"""

from __future__ import annotations

from callcenter.vocabulary import RecordingUse

LISTENING_GAP = 300.0  # seconds of silence after which a fetch is a new listening

_Run = tuple[str, str, RecordingUse]  # user, call, how


class ListeningRuns:
    def __init__(self, gap: float = LISTENING_GAP, max_runs: int = 10000) -> None:
        self.gap = gap
        self.max_runs = max_runs
        self._last: dict[_Run, float] = {}  # when each run was last fetched from

    def starts(self, user: str, call_id: str, use: RecordingUse, now: float) -> bool:
        """Whether this fetch starts a new listening (then it is logged); either way it
        keeps its run alive."""
        run = (user, call_id, use)
        last = self._last.get(run)
        if last is None and len(self._last) >= self.max_runs:
            self._forget_old(now)
        self._last[run] = now
        return last is None or now - last > self.gap

    def _forget_old(self, now: float) -> None:
        for run in [r for r, last in self._last.items() if now - last > self.gap]:
            del self._last[run]
        while len(self._last) >= self.max_runs:  # still full: the longest silent goes
            del self._last[min(self._last, key=self._last.__getitem__)]
