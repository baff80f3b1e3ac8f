"""A real worker process runs committed jobs, retries failures with backoff, and recovers the
job of a worker killed mid-job (PostgreSQL; the worker is a subprocess on the test database)."""

import itertools

import pytest
from django.db import transaction
from procrastinate.contrib.django.models import ProcrastinateEvent

import jobs
from tests.jobs.probe_tasks import lines, probe_chain, probe_record
from tests.jobs.worker import kill, running_worker, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _status(job_queue, job_id):
    return job_queue.get(id=job_id).status


def test_a_worker_runs_a_committed_job(job_queue, probe_file, tmp_path):
    with transaction.atomic():
        job_id = jobs.defer(probe_record, path=str(probe_file), key="a")

    with running_worker(tmp_path):
        wait_for(lambda: _status(job_queue, job_id) == "succeeded", what="the job")

    assert lines(probe_file) == ["attempt a", "done a"]
    assert job_queue.get(id=job_id).attempts == 1


def test_a_failing_job_is_retried_with_exponential_backoff(job_queue, probe_file, tmp_path):
    # given a job that fails its first two attempts (retry: exponential_wait=3, so it waits
    # 3 ** 1 s after the first failure and 3 ** 2 s after the second)
    with transaction.atomic():
        job_id = jobs.defer(probe_record, path=str(probe_file), key="f", fail_times=2)

    with running_worker(tmp_path):
        wait_for(lambda: _status(job_queue, job_id) == "succeeded", timeout=90, what="the job")

    # then it ran three times, waiting 3 s then 9 s (plus the worker's 0.5 s polling)
    times = [
        float(line.split()[2])
        for line in probe_file.read_text().splitlines()
        if line.startswith("attempt")
    ]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert lines(probe_file) == ["attempt f", "attempt f", "attempt f", "done f"]
    assert job_queue.get(id=job_id).attempts == 3
    assert 3 <= gaps[0] < 9 <= gaps[1] < 27
    assert list(
        ProcrastinateEvent.objects.filter(job_id=job_id)
        .order_by("id")
        .values_list("type", flat=True)
    ) == [
        "deferred",
        *["started", "scheduled", "deferred_for_retry"] * 2,
        "started",
        "succeeded",
    ]


def test_the_job_of_a_worker_killed_mid_job_is_recovered_and_run(job_queue, probe_file, tmp_path):
    # given a job that holds its first attempt for a minute, taken by a worker
    with transaction.atomic():
        job_id = jobs.defer(probe_record, path=str(probe_file), key="k", hold_seconds=60)
    with running_worker(tmp_path, name="doomed") as doomed:
        wait_for(lambda: lines(probe_file) == ["attempt k"], what="the first attempt")

        # when the worker is SIGKILLed mid-job
        kill(doomed)
    assert _status(job_queue, job_id) == "doing"  # nobody told the database

    # then another worker, finding the dead one's heartbeat stale, retries the job and runs it
    fast_recovery = {
        "JOBS_HEARTBEAT_SECONDS": "1",
        "JOBS_STALLED_AFTER_SECONDS": "3",
        "JOBS_STALLED_CHECK_CRON": "* * * * * */2",
    }
    with running_worker(tmp_path, name="survivor", env=fast_recovery):
        wait_for(lambda: _status(job_queue, job_id) == "succeeded", timeout=90, what="recovery")

    assert lines(probe_file) == ["attempt k", "attempt k", "done k"]
    recovery = job_queue.filter(task_name="jobs.tasks.retry_stalled_jobs", status="succeeded")
    assert recovery.exists()


def test_jobs_sharing_a_lock_run_one_after_the_other(job_queue, probe_file, tmp_path):
    # given two jobs on one member's lock, the first slow; two more alike without a lock; and a
    # worker running 4 jobs at once
    path = str(probe_file)
    with transaction.atomic():
        ids = [
            jobs.defer(probe_record, lock="member:1", path=path, key="a", hold_seconds=3),
            jobs.defer(probe_record, lock="member:1", path=path, key="b"),
            jobs.defer(probe_record, path=path, key="c", hold_seconds=3),
            jobs.defer(probe_record, path=path, key="d"),
        ]

    with running_worker(tmp_path, env={"JOBS_WORKER_CONCURRENCY": "4"}):
        wait_for(
            lambda: (
                set(job_queue.filter(id__in=ids).values_list("status", flat=True)) == {"succeeded"}
            ),
            what="the jobs",
        )

    # then with the lock the second started after the first finished; without, it overtook it
    def of(*keys):
        return [line for line in lines(probe_file) if line.split()[1] in keys]

    assert of("a", "b") == ["attempt a", "done a", "attempt b", "done b"]
    assert of("c", "d") == ["attempt c", "attempt d", "done d", "done c"]


def test_a_job_deferred_by_a_job_exists_only_if_that_job_committed(job_queue, probe_file, tmp_path):
    # given two jobs that each defer a child job in a transaction: one commits, one rolls back
    path = str(probe_file)
    with transaction.atomic():
        kept = jobs.defer(probe_chain, path=path, key="kept", roll_back=False)
        lost = jobs.defer(probe_chain, path=path, key="lost", roll_back=True)

    with running_worker(tmp_path):
        wait_for(lambda: _status(job_queue, lost) == "failed", what="the rolled-back job")
        wait_for(lambda: "done kept-child" in lines(probe_file), what="the kept child")

    # then the child was written in its parent's transaction: kept with it, and gone with it
    assert _status(job_queue, kept) == "succeeded"
    children = job_queue.filter(task_name="tests.jobs.probe_tasks.probe_record")
    assert [c.args["key"] for c in children] == ["kept-child"]
    assert lines(probe_file) == ["chained kept", "attempt kept-child", "done kept-child"]
