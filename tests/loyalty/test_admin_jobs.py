"""The "Jobs & workers" admin page: the daily jobs' last run, next run and failures, the queues
and the workers, for Operators."""

import datetime as dt
from http import HTTPStatus

import pytest
from django.db import transaction
from django.test import override_settings

import jobs
from loyalty.services.jobs import daily_step_names
from loyalty.tasks import daily_step
from members.roles import CUSTOMER_SERVICE, MARKETING, OPERATOR
from tests.jobs.engine import job_finish, job_take, worker_register
from tests.loyalty.staff import client_for, staff_user

URL = "/admin/jobs/"


@pytest.mark.django_db
@pytest.mark.parametrize("role", [MARKETING, CUSTOMER_SERVICE])
def test_only_operators_see_the_page(role):
    assert client_for(staff_user(role, "someone")).get(URL).status_code == HTTPStatus.FORBIDDEN


@pytest.mark.django_db
@override_settings(DAILY_JOBS_AT="04:15", TIME_ZONE="Asia/Shanghai")
def test_the_page_lists_every_daily_step_and_the_schedule():
    response = client_for(staff_user(OPERATOR, "op")).get(URL)

    assert response.status_code == HTTPStatus.OK
    assert [step["name"] for step in response.context["steps"]] == daily_step_names()
    assert "They run every day at 04:15 (Asia/Shanghai)." in response.content.decode()
    assert "Evaluate tiers" in response.content.decode()


@pytest.mark.django_db
def test_without_a_queue_the_page_says_how_jobs_run(is_postgres):
    if is_postgres:
        pytest.skip("SQLite: no queue")
    response = client_for(staff_user(OPERATOR, "op")).get(URL)

    assert response.context["has_queue"] is False
    assert "the daily jobs run when run_daily_jobs is started" in response.content.decode()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_page_shows_last_runs_failures_queues_and_workers(job_queue, role_groups):
    # given the points step succeeded and the tiers step failed for good, and a waiting job
    worker = worker_register()
    args = {"as_of": "2026-12-04", "cutoff": "2026-12-04T03:30:00+00:00"}
    with transaction.atomic():
        jobs.defer(daily_step, step="points", **args)
        jobs.defer(daily_step, step="tiers", **args)
    job_finish(job_take(queue="daily", worker_id=worker), "succeeded")
    failed = job_take(queue="daily", worker_id=worker)
    job_finish(failed, "failed")
    with transaction.atomic():
        jobs.defer(daily_step, step="points", **{**args, "as_of": "2026-12-05"})

    # when an operator opens the page
    response = client_for(staff_user(OPERATOR, "op")).get(URL)

    # then
    steps = {step["name"]: step["run"] for step in response.context["steps"]}
    assert steps["points"].last_success is not None
    assert steps["points"].failures == 0
    assert steps["tiers"].last_success is None
    assert (steps["tiers"].failures, steps["tiers"].last_failed_job) == (1, failed)
    assert steps["tiers"].last_failure > dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    daily = next(q for q in response.context["queues"] if q.name == "daily")
    assert (daily.waiting, daily.running, daily.failed) == (1, 0, 1)
    assert [(w.id, w.alive, w.running) for w in response.context["workers"]] == [(worker, True, 0)]
    assert f"/admin/procrastinate/procrastinatejob/{failed}/change/" in response.content.decode()
