"""Tasks for the engine's tests, observable from outside the worker: each run appends lines to a
file. A worker imports this module through `JOBS_IMPORT_PATHS` (see tests/jobs/worker.py).

`probe_record(path=, key=, fail_times=, hold_seconds=)` appends `attempt <key> <unix time>`,
fails its first `fail_times` attempts, holds its first attempt `hold_seconds` (so a test can kill
the worker mid-job), then appends `done <key>`.
"""

from __future__ import annotations

import time
from pathlib import Path

from django.db import transaction
from procrastinate import RetryStrategy

import jobs


def _attempts(path: Path, key: str) -> int:
    if not path.exists():
        return 0
    return sum(1 for line in path.read_text().splitlines() if line.startswith(f"attempt {key} "))


@jobs.task(queue="messages", retry=RetryStrategy(max_attempts=4, exponential_wait=3))
def probe_record(*, path: str, key: str, fail_times: int = 0, hold_seconds: float = 0) -> None:
    file = Path(path)
    with file.open("a") as out:
        out.write(f"attempt {key} {time.time():.3f}\n")
    attempt = _attempts(file, key)
    if attempt == 1 and hold_seconds:
        time.sleep(hold_seconds)
    if attempt <= fail_times:
        raise RuntimeError(f"probe {key}: attempt {attempt} fails on purpose")
    with file.open("a") as out:
        out.write(f"done {key}\n")


def lines(path: Path) -> list[str]:
    """The file's lines without the attempts' times."""
    if not path.exists():
        return []
    return [" ".join(line.split()[:2]) for line in path.read_text().splitlines()]


@jobs.task(queue="messages", retry=False)
def probe_chain(*, path: str, key: str, roll_back: bool) -> None:
    """Defers `probe_record(key=<key>-child)` inside a transaction, then commits it or (with
    `roll_back`) fails it: the child job must exist exactly when the transaction committed."""
    with transaction.atomic():
        jobs.defer(probe_record, path=path, key=f"{key}-child")
        if roll_back:
            raise RuntimeError(f"probe {key}: rolled back on purpose")
    with Path(path).open("a") as out:
        out.write(f"chained {key}\n")
