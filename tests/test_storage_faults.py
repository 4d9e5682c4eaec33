"""Storage faults: the recordings folder and the database on a disk that fills up. Calls
are still answered, each row says whether its recording was made, the wallboard and
/healthz name the fault, and once space returns no call row or event is missing."""

from __future__ import annotations

from callcenter.recordings import TRUNCATED_AFTER, status
from callcenter.vocabulary import RecordingStatus


def test_a_recording_is_judged_missing_empty_cut_short_or_ok() -> None:
    assert status(False, None, 30.0) is RecordingStatus.MISSING
    assert status(True, None, 30.0) is RecordingStatus.EMPTY  # not even a WAV header
    assert status(True, 0.0, 30.0) is RecordingStatus.EMPTY  # a header and no audio
    assert status(True, 9.0, 30.0) is RecordingStatus.TRUNCATED  # the disk filled up during the call
    assert status(True, 28.5, 30.0) is RecordingStatus.OK
    # A short call, or one whose end is not known, is never judged cut short.
    assert status(True, 1.0, TRUNCATED_AFTER - 1) is RecordingStatus.OK
    assert status(True, 1.0, None) is RecordingStatus.OK
