"""Driving a job through Procrastinate's own state machine (its SQL functions, as a worker
calls them) without a worker process, for tests of what the admin shows."""

from __future__ import annotations

from django.db import connection


def worker_register() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT procrastinate_register_worker_v1()")
        return cursor.fetchone()[0]


def job_take(*, queue: str, worker_id: int) -> int:
    """Fetch the next job of `queue` as a worker would (status `doing`); its id."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM procrastinate_fetch_job_v2(%s, %s)", [[queue], worker_id])
        return cursor.fetchone()[0]


def job_finish(job_id: int, status: str) -> None:
    """End a `doing` job as `succeeded` or `failed` (no retry left)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT procrastinate_finish_job_v1(%s, %s, false)", [job_id, status])
