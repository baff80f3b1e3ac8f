"""Deferring a job: `defer(task, **kwargs)` inside the business transaction.

Invariants:
- On PostgreSQL the job row is written on Django's own connection, in the caller's transaction:
  the job exists if and only if that transaction commits (the transactional outbox). A worker
  (`manage.py procrastinate worker`) runs it.
- Without a queue (SQLite, the embedded development default, or `JOBS_RUN_INLINE=true`) the same
  task function runs in this process right after the transaction commits
  (`transaction.on_commit`); a rolled-back transaction runs nothing. No second process is needed.
- A `queueing_lock` keeps at most one waiting job per lock: a second `defer` with the same lock
  while the first still waits is a no-op that returns None, and never breaks the caller's
  transaction (the duplicate is refused inside a savepoint).
- A `lock` makes jobs sharing it run one at a time, in the order they were deferred (e.g. one
  lock per member where order matters).
- The same holds for a job deferred by another job inside a worker: it is written on Django's
  connection too, in the running job's transaction, never on the worker's own connection (which
  would commit it at once, even if the job that deferred it then failed and rolled back).

Task functions live in `<app>/tasks.py`, are declared with `jobs.task(queue=...)`, take ids (JSON
values), and are idempotent: a job may run more than once (a retry, a worker killed mid-job).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction
from procrastinate import RetryStrategy
from procrastinate.contrib.django import app
from procrastinate.contrib.django.django_connector import DjangoConnector
from procrastinate.exceptions import AlreadyEnqueued
from procrastinate.jobs import JobDeferrer
from procrastinate.manager import JobManager

logger = logging.getLogger("jobs")

# The queues workers serve; a task names one of them.
QUEUES = ("webhooks", "messages", "daily", "imports")

# Default retries: exponential backoff, 2 ** n seconds after the n-th failed attempt
# (2 s, 4 s, 8 s, ... about 17 minutes in all over 10 attempts).
DEFAULT_RETRY = RetryStrategy(max_attempts=10, exponential_wait=2)


def task(*, queue: str, retry: RetryStrategy | int | bool = DEFAULT_RETRY, **options: Any):
    """Declare a task: `@jobs.task(queue="messages")` over a function taking JSON keyword
    arguments (ids, not objects). `retry` defaults to exponential backoff; other options go to
    Procrastinate's `app.task` (`name`, `lock`, `queueing_lock`, `pass_context`, ...)."""
    if queue not in QUEUES:
        raise ImproperlyConfigured(f"jobs.task: unknown queue {queue!r} (one of {QUEUES})")
    return app.task(queue=queue, retry=retry, **options)


def runs_inline() -> bool:
    """Whether jobs run in-process after commit instead of going to the queue."""
    forced = getattr(settings, "JOBS_RUN_INLINE", None)
    if forced is not None:
        return forced
    return connection.vendor != "postgresql"


def defer(
    task,
    *,
    queueing_lock: str | None = None,
    lock: str | None = None,
    schedule_in: dt.timedelta | None = None,
    **kwargs: Any,
) -> int | None:
    """Defer `task(**kwargs)` with the current transaction. Returns the job id on the queue, or
    None when it runs inline after commit or when `queueing_lock` found a waiting duplicate.
    `schedule_in` delays a queued job (inline jobs run at commit regardless)."""
    if runs_inline():
        _defer_inline(task, queueing_lock, kwargs)
        return None
    configure: dict[str, Any] = {"lock": lock, "queueing_lock": queueing_lock}
    if schedule_in is not None:
        configure["schedule_in"] = {"seconds": schedule_in.total_seconds()}
    deferrer = _on_django_connection(task.configure(**configure))
    if queueing_lock is None:
        return deferrer.defer(**kwargs)
    try:
        # A duplicate is a unique violation in PostgreSQL, which would abort the caller's whole
        # transaction; inside a savepoint only the savepoint is rolled back.
        with transaction.atomic():
            return deferrer.defer(**kwargs)
    except AlreadyEnqueued:
        return None


# Procrastinate's worker swaps the app's connector for its own connection pool while it runs, so
# `task.configure()` inside a job would defer on that pool, outside the job's transaction. The
# job manager below always writes on Django's connection, in whatever transaction is open there.
_DJANGO_JOBS = JobManager(DjangoConnector())


def _on_django_connection(deferrer: JobDeferrer) -> JobDeferrer:
    return JobDeferrer(job_manager=_DJANGO_JOBS, job=deferrer.job)


class _InlineJob:
    """The on_commit callback of an inline job; it carries its queueing lock so a duplicate
    deferred in the same transaction is recognised among the pending callbacks."""

    def __init__(self, task, queueing_lock: str | None, kwargs: dict[str, Any]):
        self.task = task
        self.queueing_lock = queueing_lock
        self.kwargs = kwargs

    def __call__(self) -> None:
        try:
            self.task(**self.kwargs)
        except Exception:
            # The business transaction has committed: a failed inline job is logged, never
            # turned into an error of the request that caused it. Without a queue there are no
            # retries; the task's next natural run (or the daily catch-up) picks the work up.
            logger.exception("job %s%r failed (inline, not retried)", self.task.name, self.kwargs)


def _defer_inline(task, queueing_lock: str | None, kwargs: dict[str, Any]) -> None:
    # Django keeps the pending callbacks of the current transaction (and drops those of a
    # rolled-back savepoint), which is exactly the scope of a "waiting" job here.
    if queueing_lock is not None and any(
        getattr(entry[1], "queueing_lock", None) == queueing_lock
        for entry in connection.run_on_commit
    ):
        return
    transaction.on_commit(_InlineJob(task, queueing_lock, kwargs))
