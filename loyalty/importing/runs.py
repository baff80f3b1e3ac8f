"""The import's run record, and "one import of a file at a time".

Every import (dry runs too) gets an `ImportRun`: who, when, which file (name, size, SHA-256),
format, options, counts, duration, result, error report. A real run is `running` until it ends;
the partial unique index on (checksum, part) where running makes a second run of the same file
(or of the same part of it) fail to start while the first runs: the database enforces it,
whatever the number of machines.

A run that died (`kill -9`, power cut) leaves its record `running`. The next attempt recognises
it as dead and closes it as `interrupted` before starting:
- PostgreSQL: a live run holds a session advisory lock keyed by the file's checksum for its whole
  life; the server releases it when the process or its connection dies. Lock free = holder dead.
- SQLite (one machine): the record names the host and process id; a process that no longer
  exists, or a heartbeat older than `STALE_AFTER`, is dead.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from config.errors import Conflict
from events.models import EventType
from events.services import event_record
from loyalty import hooks
from loyalty.models import ImportRun
from members.actors import Actor

log = logging.getLogger(__name__)

STALE_AFTER = dt.timedelta(minutes=15)


def _lock_key(checksum: str, part: int = 0) -> int:
    """The advisory lock of a file's run (of one part of it: `loyalty.importing.parts`)."""
    key = int.from_bytes(bytes.fromhex(checksum[:16]), "big", signed=True)
    return key if part == 0 else (key ^ part)  # part 0 keeps the key a whole-file run has


def _advisory(sql: str, checksum: str, part: int = 0) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(sql, [_lock_key(checksum, part)])
        return bool(cursor.fetchone()[0])


def _pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _holder_dead(run: ImportRun, now: dt.datetime) -> bool:
    if connection.vendor == "postgresql":
        return True  # we hold the advisory lock: nobody else is running this file
    if run.host == socket.gethostname() and not _pid_alive(run.pid):
        return True
    return now - run.heartbeat_at > STALE_AFTER


def run_start(
    *,
    actor: Actor,
    file_name: str,
    file_size: int,
    checksum: str,
    fmt: str,
    profile: str,
    dry_run: bool,
    skip_invalid: bool,
    via: str,
    part: int = 0,
    parts: int = 1,
) -> ImportRun:
    """Record a run as started; a real run of a file already running is `import_running` (409).

    A part of a split import (`part` of `parts`) is a run of its own: another part of the same
    file may run meanwhile, the same part may not."""
    fields = {
        **actor.as_fields(),
        "file_name": file_name[-255:],
        "file_size": file_size,
        "checksum": checksum,
        "format": fmt,
        "profile": profile,
        "dry_run": dry_run,
        "skip_invalid": skip_invalid,
        "via": via,
        "pid": os.getpid(),
        "host": socket.gethostname()[:255],
        "part": part,
        "parts": parts,
    }
    if dry_run:
        return ImportRun.objects.create(**fields)
    if connection.vendor == "postgresql" and not _advisory(
        "SELECT pg_try_advisory_lock(%s)", checksum, part
    ):
        raise _running(checksum)
    try:
        now = timezone.now()
        for stale in ImportRun.objects.filter(
            checksum=checksum, part=part, status=ImportRun.Status.RUNNING, dry_run=False
        ):
            if _holder_dead(stale, now):
                ImportRun.objects.filter(pk=stale.pk, status=ImportRun.Status.RUNNING).update(
                    status=ImportRun.Status.INTERRUPTED,
                    finished_at=stale.heartbeat_at,
                    message="The process running this import died; a later run took over.",
                )
        try:
            with transaction.atomic():
                return ImportRun.objects.create(**fields)
        except IntegrityError:
            raise _running(checksum) from None
    except BaseException:
        run_release(checksum, part)
        raise


def _running(checksum: str) -> Conflict:
    other = (
        ImportRun.objects.filter(checksum=checksum, status=ImportRun.Status.RUNNING, dry_run=False)
        .order_by("-started_at")
        .first()
    )
    who = f" (started {other.started_at:%Y-%m-%d %H:%M} by {other.actor_label})" if other else ""
    return Conflict(
        "import_running",
        f"This file is already being imported{who}. Wait for that import to finish; running it "
        "again afterwards changes nothing.",
    )


def run_release(checksum: str, part: int = 0) -> None:
    if connection.vendor == "postgresql" and connection.connection is not None:
        _advisory("SELECT pg_advisory_unlock(%s)", checksum, part)


def run_heartbeat(run: ImportRun, **counts) -> None:
    ImportRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now(), **counts)


def run_finish(run: ImportRun, *, status: str, message: str = "", **counts) -> ImportRun:
    """Record the run's outcome; a real run that wrote (succeeded or partly) also writes its one
    `import.completed` event in the same transaction: the import writes no event per order,
    member or posting (`docs/events.md`)."""
    now = timezone.now()
    with transaction.atomic():
        ImportRun.objects.filter(pk=run.pk).update(
            status=status, finished_at=now, heartbeat_at=now, message=message, **counts
        )
        run.refresh_from_db()
        if not run.dry_run and status in (ImportRun.Status.SUCCEEDED, ImportRun.Status.PARTIAL):
            event_record(
                type=EventType.IMPORT_COMPLETED,
                member_id=None,
                payload={
                    "import_id": run.pk,
                    "format": run.format,
                    "orders": run.orders_created,
                    "members_created": run.members_created,
                    "points": run.points_posted,
                    "rows_rejected": run.rows_rejected,
                },
                occurred_at=now,
            )
    if not run.dry_run:
        run_release(run.checksum)
    if not run.dry_run and status in (ImportRun.Status.SUCCEEDED, ImportRun.Status.PARTIAL):
        # After commit: a listener (the analytics rollups) reads what the import wrote. Its
        # failure does not undo a committed import; what it derives is caught up later.
        for listener in hooks.import_completed_listeners:
            try:
                listener(run=run)
            except Exception:
                log.exception("import %s: listener %r failed", run.pk, listener)
    return run
