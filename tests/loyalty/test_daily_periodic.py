"""The daily jobs as a periodic task: two real workers, one run, every step once, in order
(PostgreSQL; the workers are subprocesses on the test database)."""

import datetime as dt
import zoneinfo

import pytest
from procrastinate.contrib.django.models import ProcrastinateJob, ProcrastinateWorker

from loyalty.models import Lot, ProgramSettings
from loyalty.services.jobs import daily_step_names
from tests.jobs.worker import running_worker, wait_for

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")  # the program's time zone here: not UTC, no DST


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_daily_jobs_run_once_a_day_with_two_workers(
    job_queue, make_member, record_order, tmp_path
):
    # given a member whose points are due to mature, and the daily time a few seconds away
    ProgramSettings.objects.update_or_create(pk=1, defaults={"points_lifetime_days": 365})
    member = make_member()
    now = dt.datetime.now(dt.UTC)
    record_order(member, "O-1", "10.00", placed_at=now - dt.timedelta(days=20), now=now)
    at = (now + dt.timedelta(seconds=20)).replace(microsecond=0)
    local_at = at.astimezone(SHANGHAI)
    env = {"TIME_ZONE": "Asia/Shanghai", "DAILY_JOBS_AT": local_at.strftime("%H:%M:%S")}

    # when two workers run through the daily time
    with running_worker(tmp_path, name="w1", env=env), running_worker(tmp_path, name="w2", env=env):
        steps = ProcrastinateJob.objects.filter(task_name="loyalty.tasks.daily_step")
        wait_for(
            lambda: steps.filter(status="succeeded").count() == len(daily_step_names()),
            timeout=120,
            what="the daily steps",
        )
        workers_alive = ProcrastinateWorker.objects.count()

    # then both workers were up, and one tick made one job that deferred each step once, in order
    assert workers_alive == 2
    ticks = job_queue.filter(
        task_name="loyalty.tasks.daily_jobs", args__timestamp=int(at.timestamp())
    )
    assert list(ticks.values_list("status", flat=True)) == ["succeeded"]
    assert list(steps.order_by("id").values_list("args", "status", "lock")) == [
        (
            {
                "step": step,
                "as_of": local_at.date().isoformat(),
                "cutoff": at.isoformat(),
            },
            "succeeded",
            "daily-jobs",
        )
        for step in daily_step_names()
    ]
    assert list(Lot.objects.filter(member=member).values_list("matured", flat=True)) == [True]
