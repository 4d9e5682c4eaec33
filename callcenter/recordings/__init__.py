"""Call recordings: the WAV files (`wav`), which of them may be served or deleted
(`files`), who listened to them (`access`), how long they are kept (`retention`), and
the SQL of both (`repository`)."""

from callcenter.recordings.wav import recording_when_closed, repair_all, repair_header, wav_seconds

__all__ = ["recording_when_closed", "repair_all", "repair_header", "wav_seconds"]
