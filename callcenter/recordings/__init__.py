"""Call recordings: the WAV files (`wav`), which of them may be served (`files`), who
listened to them (`access`) and the SQL of that log (`repository`)."""

from callcenter.recordings.wav import recording_seconds_when_closed, repair_all, repair_header, wav_seconds

__all__ = ["recording_seconds_when_closed", "repair_all", "repair_header", "wav_seconds"]
