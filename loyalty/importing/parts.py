"""An import split by customer: N jobs on the `imports` queue, each writing one part of a file.

`import_orders FILE --split N` (or `import_split(path=..., parts=N)`) defers N jobs
(`loyalty.tasks.import_part`), one per part, in one transaction; any number of workers serving
the `imports` queue run them side by side (on SQLite, one after the other, right after the
commit). Each job is a whole import of the file (`pipeline.import_orders(part=k, parts=N)`),
with its own run record, that keeps only its customers' orders and refunds:

- Which customers: every customer key the file stages (orders and refunds), sorted, and dealt
  round-robin: the customer of rank r belongs to part r mod N. Every part reads the same file,
  so every part computes the same deal; a customer is written by exactly one part, with all of
  its orders in date order, so each customer's ledger is what a single run writes (tested:
  `tests/loyalty/importing/test_parts.py`).
- When: after the checks that need the whole file (the same order id on several rows), before
  the checks against the ledger and the write (`staged_part_keep`).
- Errors: a bad row is reported by the part of its order's customer; a row with no order the
  file stages (unreadable) by part 0 only. The file-level counters (guest rows, repeated rows,
  float amounts...) are part 0's; the other parts report 0, so that the parts add up.

Each part reads and parses the whole file (the parse is a third of a run's time; a part that
read only its rows would need the file split beforehand, which a shop's export is not). What
scales with the workers is the check, the write and the tier evaluation. The figures with 1 and
2 workers: `docs/benchmarks.md`, "Historical import"; the arithmetic for a large backfill:
`docs/scaling.md`.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

from django.db import transaction

import jobs
from loyalty.importing.reader import file_checksum
from loyalty.importing.staging import execute
from loyalty.models import ImportRun

MAX_PARTS = 64


def split_validate(parts: int) -> None:
    """Refuse a part count the run records cannot hold, naming the option."""
    if not 1 <= parts <= MAX_PARTS:
        from config.errors import ServiceError

        raise ServiceError("invalid_split", f"--split must be from 1 to {MAX_PARTS}; got {parts}.")


def staged_part_keep(*, part: int, parts: int) -> None:
    """Delete the staged rows of the other parts' customers (see the module doc)."""
    if parts == 1:
        return
    execute("DROP TABLE IF EXISTS imp_part")
    execute(
        "CREATE TEMPORARY TABLE imp_part AS SELECT ckey FROM ("
        "SELECT ckey, ROW_NUMBER() OVER (ORDER BY ckey) - 1 AS pos FROM ("
        "SELECT ckey FROM imp_orders UNION SELECT ckey FROM imp_refunds) k) r "
        "WHERE pos %% %s = %s",
        [parts, part],
    )
    execute("CREATE INDEX imp_part_ckey ON imp_part (ckey)")
    others = "SELECT order_id FROM imp_orders WHERE ckey NOT IN (SELECT ckey FROM imp_part)"
    # Errors first: they are attributed through the orders about to be deleted.
    execute(
        f"DELETE FROM imp_errors WHERE order_id IN ({others})"
        + (
            ""
            if part == 0
            else " OR order_id IS NULL OR order_id NOT IN (SELECT order_id FROM imp_orders)"
        )
    )
    for table in ("imp_orders", "imp_refunds", "imp_rows"):
        execute(f"DELETE FROM {table} WHERE ckey NOT IN (SELECT ckey FROM imp_part)")


def import_split(
    *,
    path: str | Path,
    parts: int,
    user_id: int | None = None,
    fmt: str = "auto",
    profile: str = "",
    skip_invalid: bool = False,
) -> list[int | None]:
    """Defer the N jobs of a split import in one transaction; their job ids (None: ran inline).

    `path` must be readable by every worker of the `imports` queue (a shared folder). There is
    no `--exclusive` split: an exclusive import locks the ledger's tables for its whole run, so
    its parts would run one after the other."""
    from loyalty.tasks import import_part

    split_validate(parts)
    with transaction.atomic():
        return [
            jobs.defer(
                import_part,
                queueing_lock=f"import-part:{Path(path).resolve()}:{part}/{parts}",
                path=str(Path(path).resolve()),
                part=part,
                parts=parts,
                user_id=user_id,
                fmt=fmt,
                profile=profile,
                skip_invalid=skip_invalid,
            )
            for part in range(parts)
        ]


def split_results(
    *, path: str | Path, parts: int, since: dt.datetime, wait: bool, poll: float = 1.0
) -> list[ImportRun]:
    """The run records of a split import started at `since` or later, one per part (the latest
    of each), once every part has finished (`wait`), else as they are now."""
    checksum, _size = file_checksum(Path(path))
    while True:
        latest: dict[int, ImportRun] = {}
        for run in ImportRun.objects.filter(
            checksum=checksum, parts=parts, dry_run=False, started_at__gte=since
        ).order_by("started_at", "pk"):
            latest[run.part] = run
        done = len(latest) == parts and all(
            r.status != ImportRun.Status.RUNNING for r in latest.values()
        )
        if done or not wait:
            return [latest[k] for k in sorted(latest)]
        time.sleep(poll)
