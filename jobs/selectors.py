"""Reads of the job queue for the admin: workers, queue depths, a task's last runs.

All of them read Procrastinate's tables and so need PostgreSQL; `queue_available()` says whether
there is a queue at all (on SQLite jobs run in-process and leave no rows).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.db.models import Count, Max, Q
from django.utils import timezone
from procrastinate.contrib.django.models import (
    ProcrastinateEvent,
    ProcrastinateJob,
    ProcrastinateWorker,
)

from jobs.api import QUEUES, runs_inline


def queue_available() -> bool:
    return connection.vendor == "postgresql" and not runs_inline()


@dataclass(frozen=True)
class WorkerRow:
    id: int
    last_heartbeat: dt.datetime
    alive: bool
    running: int


def workers() -> list[WorkerRow]:
    """The workers that have written a heartbeat, newest first; `alive` if it is recent (a dead
    one stays listed until a live worker prunes it)."""
    stalled_after = dt.timedelta(
        seconds=settings.PROCRASTINATE_WORKER_DEFAULTS["stalled_worker_timeout"]
    )
    now = timezone.now()
    rows = ProcrastinateWorker.objects.annotate(
        running=Count("procrastinatejob", filter=Q(procrastinatejob__status="doing"))
    ).order_by("-last_heartbeat")
    return [
        WorkerRow(row.id, row.last_heartbeat, now - row.last_heartbeat < stalled_after, row.running)
        for row in rows
    ]


def worker_count() -> int:
    return ProcrastinateWorker.objects.count()


@dataclass(frozen=True)
class QueueRow:
    name: str
    waiting: int
    running: int
    failed: int


def queues() -> list[QueueRow]:
    """Per queue: jobs waiting (`todo`), running (`doing`) and failed for good."""
    counts = {
        row["queue_name"]: row
        for row in ProcrastinateJob.objects.values("queue_name").annotate(
            waiting=Count("id", filter=Q(status="todo")),
            running=Count("id", filter=Q(status="doing")),
            failed=Count("id", filter=Q(status="failed")),
        )
    }
    names = list(QUEUES) + sorted(set(counts) - set(QUEUES))
    return [
        QueueRow(
            name,
            counts.get(name, {}).get("waiting", 0),
            counts.get(name, {}).get("running", 0),
            counts.get(name, {}).get("failed", 0),
        )
        for name in names
    ]


@dataclass(frozen=True)
class RunSummary:
    last_success: dt.datetime | None = None
    last_failure: dt.datetime | None = None
    last_failed_job: int | None = None
    failures: int = 0
    retrying: int = 0


def runs_by_arg(*, task_name: str, arg: str, since: dt.datetime) -> dict[str, RunSummary]:
    """For the jobs of `task_name`, keyed by the value of their argument `arg`: when one last
    succeeded and failed, how many failed for good since `since`, how many wait for a retry."""
    field = f"job__args__{arg}"
    finished = (
        ProcrastinateEvent.objects.filter(
            job__task_name=task_name, type__in=["succeeded", "failed"]
        )
        .values(field, "type")
        .annotate(last_at=Max("at"), n=Count("id", filter=Q(at__gte=since)), job=Max("job_id"))
    )
    retrying = (
        ProcrastinateJob.objects.filter(task_name=task_name, status="todo", attempts__gt=0)
        .values(f"args__{arg}")
        .annotate(n=Count("id"))
    )
    summaries: dict[str, dict] = {}
    for row in finished:
        summary = summaries.setdefault(row[field], {})
        if row["type"] == "succeeded":
            summary["last_success"] = row["last_at"]
        else:
            summary.update(
                last_failure=row["last_at"], failures=row["n"], last_failed_job=row["job"]
            )
    for row in retrying:
        summaries.setdefault(row[f"args__{arg}"], {})["retrying"] = row["n"]
    return {key: RunSummary(**values) for key, values in summaries.items()}


def job_status(job_id: int | None) -> str | None:
    """A queued job's status (`todo`, `doing`, `succeeded`, `failed`, ...), or None."""
    if job_id is None or not queue_available():
        return None
    return ProcrastinateJob.objects.filter(id=job_id).values_list("status", flat=True).first()
