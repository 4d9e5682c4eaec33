"""Which controller is active: one holds the leadership, any other waits as the standby
and takes over when the holder is gone (`lease`: a file lock on one machine, a
PostgreSQL advisory lock across machines)."""

from callcenter.leadership.lease import Holder, Leadership, LeadershipLost, file_leadership, leadership_for

__all__ = ["Holder", "Leadership", "LeadershipLost", "file_leadership", "leadership_for"]
