"""The engine's own housekeeping: retrying the jobs of workers that died, and forgetting old
finished jobs.

A worker writes a heartbeat every `JOBS_HEARTBEAT_SECONDS`. One killed mid-job (SIGKILL, a lost
machine) stops doing so and its jobs stay `doing` forever; this periodic task, run by whichever
live worker takes it, puts them back to `todo` once their worker has been silent for
`JOBS_STALLED_AFTER_SECONDS`. Tasks are idempotent (docs/jobs.md), so running such a job again is
safe. Periodic deferral is de-duplicated by Procrastinate (one job per periodic tick, however many
workers), and the queueing lock keeps at most one waiting.

Finished jobs (succeeded, failed, cancelled, aborted) are kept `JOBS_KEEP_DAYS` (the admin shows
their history, e.g. the daily steps' last runs and failures), then deleted once a day with their
events, so the queue's tables stay small.
"""

from __future__ import annotations

import logging

from django.conf import settings
from procrastinate.contrib.django import app

from jobs.api import task

logger = logging.getLogger("jobs")


@app.periodic(cron=settings.JOBS_STALLED_CHECK_CRON, periodic_id="stalled")
@task(queue="daily", queueing_lock="jobs.retry_stalled_jobs", pass_context=True, retry=False)
async def retry_stalled_jobs(context, timestamp: int) -> int:
    seconds = settings.PROCRASTINATE_WORKER_DEFAULTS["stalled_worker_timeout"]
    manager = context.app.job_manager
    stalled = await manager.get_stalled_jobs(seconds_since_heartbeat=seconds)
    for job in stalled:
        logger.warning("retrying job %s (%s): its worker stopped", job.id, job.task_name)
        await manager.retry_job(job)
    return len(stalled)


@app.periodic(cron="45 4 * * *", periodic_id="cleanup")
@task(queue="daily", queueing_lock="jobs.remove_finished_jobs", pass_context=True, retry=False)
async def remove_finished_jobs(context, timestamp: int) -> None:
    await context.app.job_manager.delete_old_jobs(
        nb_hours=settings.JOBS_KEEP_DAYS * 24,
        include_failed=True,
        include_cancelled=True,
        include_aborted=True,
    )
