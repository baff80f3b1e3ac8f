"""Loyalty's jobs: the daily jobs as periodic tasks, and the admin's imports in the background.

## The daily jobs (PostgreSQL, with workers running)

`daily_jobs` ticks at `DAILY_JOBS_AT` in the program's time zone (`jobs.schedule`). However many
workers run, Procrastinate makes one job per tick (its periodic id and the tick's timestamp are
unique in `procrastinate_periodic_defers`). That job defers one `daily_step` job per step
(points, tiers, the expiry notices, then the other apps' steps: coupon expiry, birthdays, ...),
all under the lock `daily-jobs`, so they run one at a time in that order; a step being retried
holds back the ones after it. Each step's queueing lock names the day, so a day's step waits at
most once.

Every step is idempotent (`loyalty.services.jobs`): a retried or repeated step changes nothing
the second time. `run_daily_jobs` still runs all the steps in one go, for cron users (SQLite)
and for catching up a missed day with `--as-of`.

## The admin's import (`import_upload`, queue `imports`)

The admin confirms a previewed upload and defers this job; the page then follows the import's
run record (`loyalty.importing.progress`). It is idempotent like every import: orders already
recorded are skipped, so a retried or recovered job changes nothing twice. On SQLite it runs
in-process right after the confirming request's (autocommit) write.

## A split import (`import_part`, queue `imports`)

`import_orders FILE --split N` defers one job per part of the file's customers; each is an
import of its own (`loyalty.importing.parts`).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from procrastinate.contrib.django import app

import jobs
from jobs.schedule import daily_cron, is_daily_tick
from loyalty.importing.pipeline import import_orders
from loyalty.importing.progress import ProgressRecorder
from loyalty.importing.reader import file_checksum
from loyalty.importing.uploads import import_errors_path, upload_path, uploads_dir
from loyalty.services.jobs import daily_step_names, daily_step_run
from members.actors import Actor

DAILY_LOCK = "daily-jobs"


@jobs.task(queue="daily")
def daily_step(*, step: str, as_of: str, cutoff: str) -> int:
    return daily_step_run(
        name=step,
        as_of=dt.date.fromisoformat(as_of),
        cutoff=dt.datetime.fromisoformat(cutoff),
        actor=Actor.system("daily_jobs"),
    )


@app.periodic(cron=daily_cron(), periodic_id="daily")
@jobs.task(queue="daily", queueing_lock="loyalty.daily_jobs", retry=False)
def daily_jobs(timestamp: int) -> list[str]:
    """At the daily time, defer the day's steps in order; at any other tick, nothing."""
    if not is_daily_tick(timestamp):
        return []
    cutoff = dt.datetime.fromtimestamp(timestamp, dt.UTC)
    as_of = timezone.localdate(cutoff)
    steps = daily_step_names()
    with transaction.atomic():
        for step in steps:
            jobs.defer(
                daily_step,
                lock=DAILY_LOCK,
                queueing_lock=f"daily-jobs:{as_of}:{step}",
                step=step,
                as_of=as_of.isoformat(),
                cutoff=cutoff.isoformat(),
            )
    return steps


@jobs.task(queue="imports", retry=False)
def import_upload(
    *,
    key: str,
    checksum: str,
    name: str,
    fmt: str,
    profile: str,
    skip_invalid: bool,
    user_id: int,
) -> int:
    """Import the admin's upload `key` (checked by its checksum); the id of the run record."""
    path = upload_path(key)
    if not path.is_file() or file_checksum(path)[0] != checksum:
        raise FileNotFoundError(
            f"The upload {name!r} is not in {uploads_dir()} on this machine: the workers that "
            "serve the imports queue must share IMPORT_UPLOAD_DIR with the web processes."
        )
    result = import_orders(
        path=path,
        actor=Actor.staff(get_user_model().objects.get(pk=user_id)),
        fmt=fmt,
        profile_name=profile or None,
        skip_invalid=skip_invalid,
        errors_path=import_errors_path(key),
        file_name=name,
        via="admin",
        progress=ProgressRecorder(checksum=checksum),
    )
    path.unlink(missing_ok=True)
    return result.run.pk


@jobs.task(queue="imports", retry=False)
def import_part(
    *,
    path: str,
    part: int,
    parts: int,
    user_id: int | None,
    fmt: str,
    profile: str,
    skip_invalid: bool,
) -> int:
    """One part of a split import (`loyalty.importing.parts`); the id of its run record."""
    actor = (
        Actor.staff(get_user_model().objects.get(pk=user_id))
        if user_id
        else Actor.system("import_orders")
    )
    result = import_orders(
        path=Path(path),
        actor=actor,
        fmt=fmt,
        profile_name=profile or None,
        skip_invalid=skip_invalid,
        part=part,
        parts=parts,
    )
    return result.run.pk
