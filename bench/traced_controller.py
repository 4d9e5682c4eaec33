"""`hotline controller` for the soak's leak hunt (bench/soak.py --tracemalloc). The first
SIGUSR1 (after the warm-up) starts tracemalloc; each SIGUSR1 writes a snapshot of the
blocks traced so far to the next file `$BENCH_SNAPSHOTS/snapshot-N.pickle`. What the last
snapshot still holds was allocated after the warm-up and outlived the calls that made
it: the soak prints it, largest first. Tracing from the start instead would triple the
controller's start-up (tracemalloc pays on every allocation of every import).

    python bench/traced_controller.py
"""

from __future__ import annotations

import gc
import itertools
import os
import signal
import sys
import tracemalloc
from pathlib import Path
from types import FrameType

HOME = Path(__file__).resolve().parent.parent
if str(HOME) not in sys.path:
    sys.path.insert(0, str(HOME))

from callcenter.cli import main  # noqa: E402

SNAPSHOTS = Path(os.environ.get("BENCH_SNAPSHOTS", "."))
_numbers = itertools.count(1)


def _snapshot(signum: int, frame: FrameType | None) -> None:
    # Python runs this in the main thread, the event loop's, between two of its steps.
    if not tracemalloc.is_tracing():
        tracemalloc.start(25)
    gc.collect()
    path = SNAPSHOTS / f"snapshot-{next(_numbers)}.pickle"
    tracemalloc.take_snapshot().dump(str(path))
    print(f"tracemalloc snapshot written: {path}", flush=True)


if __name__ == "__main__":
    signal.signal(signal.SIGUSR1, _snapshot)
    sys.exit(main(["controller"]))
