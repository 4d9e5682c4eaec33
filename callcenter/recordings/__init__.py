"""Call recordings: the WAV files (`wav`) and which of them may be served (`files`)."""

from callcenter.recordings.wav import recording_seconds_when_closed, repair_all, repair_header, wav_seconds

__all__ = ["recording_seconds_when_closed", "repair_all", "repair_header", "wav_seconds"]
