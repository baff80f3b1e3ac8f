"""`jobs.defer`: a job exists iff its transaction commits (PostgreSQL, on the queue); on SQLite
the same task runs in-process after commit, and not at all after a rollback."""

import pytest
from django.db import connection, transaction
from django.test.utils import override_settings

import jobs
from tests.jobs.probe_tasks import lines, probe_record


class Boom(Exception):
    pass


def _defer_and_raise(**kwargs):
    with transaction.atomic():
        jobs.defer(probe_record, **kwargs)
        raise Boom


def _defer_then_fail(**kwargs):
    with pytest.raises(Boom):
        _defer_and_raise(**kwargs)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_job_is_on_the_queue_iff_its_transaction_commits(job_queue, probe_file):
    # when one transaction commits and another rolls back
    with transaction.atomic():
        job_id = jobs.defer(probe_record, path=str(probe_file), key="kept")
    _defer_then_fail(path=str(probe_file), key="lost")

    # then only the committed job exists, waiting on its queue; nothing ran in-process
    assert list(job_queue.values_list("id", "task_name", "queue_name", "status", "args")) == [
        (
            job_id,
            "tests.jobs.probe_tasks.probe_record",
            "messages",
            "todo",
            {"path": str(probe_file), "key": "kept"},
        )
    ]
    assert lines(probe_file) == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_job_is_written_on_djangos_connection_inside_the_transaction(job_queue, probe_file):
    with transaction.atomic():
        job_id = jobs.defer(probe_record, path=str(probe_file), key="k", lock="member:7")
        # seen by this connection before commit: same connection, same transaction
        seen_inside = list(job_queue.values_list("id", "lock"))

    assert seen_inside == [(job_id, "member:7")]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_queueing_lock_refuses_a_duplicate_without_breaking_the_transaction(
    job_queue, probe_file
):
    with transaction.atomic():
        first = jobs.defer(probe_record, queueing_lock="probe:1", path=str(probe_file), key="a")
        second = jobs.defer(probe_record, queueing_lock="probe:1", path=str(probe_file), key="b")
        # the transaction is still usable after the refused duplicate
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            still_usable = cursor.fetchone()

    assert second is None
    assert still_usable == (1,)
    assert list(job_queue.values_list("id", "queueing_lock", "args__key")) == [
        (first, "probe:1", "a")
    ]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_schedule_in_delays_the_job(job_queue, probe_file):
    import datetime as dt

    from django.utils import timezone

    before = timezone.now()
    jobs.defer(probe_record, schedule_in=dt.timedelta(minutes=5), path=str(probe_file), key="k")

    scheduled_at = job_queue.get().scheduled_at
    assert dt.timedelta(minutes=5) <= scheduled_at - before < dt.timedelta(minutes=6)


@pytest.mark.django_db(transaction=True)
@override_settings(JOBS_RUN_INLINE=True)
def test_inline_the_task_runs_right_after_commit_and_not_after_rollback(probe_file):
    # when a transaction defers a job, and we look before it commits
    with transaction.atomic():
        result = jobs.defer(probe_record, path=str(probe_file), key="kept")
        before_commit = lines(probe_file)
    _defer_then_fail(path=str(probe_file), key="lost")

    # then it ran once, after commit; the rolled-back one never ran
    assert result is None
    assert before_commit == []
    assert lines(probe_file) == ["attempt kept", "done kept"]


@pytest.mark.django_db(transaction=True)
@override_settings(JOBS_RUN_INLINE=True)
def test_inline_a_queueing_lock_runs_one_of_the_duplicates(probe_file):
    with transaction.atomic():
        jobs.defer(probe_record, queueing_lock="probe:1", path=str(probe_file), key="a")
        jobs.defer(probe_record, queueing_lock="probe:1", path=str(probe_file), key="b")
    # after it ran, the lock is free again
    jobs.defer(probe_record, queueing_lock="probe:1", path=str(probe_file), key="c")

    assert lines(probe_file) == ["attempt a", "done a", "attempt c", "done c"]


@pytest.mark.django_db(transaction=True)
@override_settings(JOBS_RUN_INLINE=True)
def test_inline_a_failing_job_is_logged_and_does_not_undo_the_commit(probe_file, caplog):
    with transaction.atomic():
        jobs.defer(probe_record, path=str(probe_file), key="f", fail_times=1)

    assert lines(probe_file) == ["attempt f"]
    assert [r.getMessage().split(" failed")[0] for r in caplog.records if r.name == "jobs"] == [
        f"job tests.jobs.probe_tasks.probe_record{{'path': '{probe_file}', 'key': 'f', "
        "'fail_times': 1}"
    ]


@pytest.mark.django_db
def test_sqlite_runs_jobs_inline_and_postgresql_queues_them():
    assert jobs.api.runs_inline() is (connection.vendor != "postgresql")


def test_a_task_must_name_a_known_queue():
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured, match="unknown queue 'mail'"):
        jobs.task(queue="mail")
