"""How far a running import is, written on its run record for the admin's progress page.

`ProgressRecorder(checksum=...)` is the `progress` callback of `import_orders`: the pipeline
reports (phase, done, total) for reading (bytes), checking, writing (chunks) and tier evaluation;
the recorder turns that into one overall percentage (each phase has a share of 0-100, by its
usual part of the wall time) and writes it on the running real run of that file. That run is
found by its checksum: at most one real run of a file is running (a partial unique index).

Writes happen at most every `INTERVAL` seconds, plus once per phase change, each its own
autocommit UPDATE between the import's transactions, so the page sees them as they happen.
"""

from __future__ import annotations

import time

from loyalty.models import ImportRun

INTERVAL = 1.0
# (start, end) of each phase within 0-100.
SHARES = {"read": (0, 55), "check": (55, 65), "write": (65, 97), "tiers": (97, 100)}


def percent(phase: str, done: int, total: int) -> int:
    start, end = SHARES.get(phase, (0, 0))
    fraction = min(max(done / total, 0.0), 1.0) if total else 1.0
    return int(start + (end - start) * fraction)


class ProgressRecorder:
    def __init__(self, *, checksum: str, clock=time.monotonic) -> None:
        self.checksum = checksum
        self.clock = clock
        self.last_write = float("-inf")
        self.last_phase = ""
        self.last_percent = 0

    def __call__(self, phase: str, done: int, total: int) -> None:
        value = max(percent(phase, done, total), self.last_percent)
        now = self.clock()
        if phase == self.last_phase and now - self.last_write < INTERVAL:
            return
        self.last_write, self.last_phase, self.last_percent = now, phase, value
        ImportRun.objects.filter(
            checksum=self.checksum, status=ImportRun.Status.RUNNING, dry_run=False
        ).update(phase=phase, progress=value)
