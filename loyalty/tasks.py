"""The daily jobs as periodic tasks (PostgreSQL, with workers running).

`daily_jobs` ticks at `DAILY_JOBS_AT` in the program's time zone (`jobs.schedule`). However many
workers run, Procrastinate makes one job per tick (its periodic id and the tick's timestamp are
unique in `procrastinate_periodic_defers`). That job defers one `daily_step` job per step
(points, tiers, then the other apps' steps: coupon expiry, birthdays, ...), all under the lock
`daily-jobs`, so they run one at a time in that order; a step being retried holds back the
ones after it. Each step's queueing lock names the day, so a day's step waits at most once.

Every step is idempotent (`loyalty.services.jobs`): a retried or repeated step changes nothing
the second time. `run_daily_jobs` still runs all the steps in one go, for cron users (SQLite)
and for catching up a missed day with `--as-of`.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone
from procrastinate.contrib.django import app

import jobs
from jobs.schedule import daily_cron, is_daily_tick
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
