"""Procrastinate's job pages: Operators browse jobs and retry or cancel them; other roles do not
see them; on SQLite (no queue) they are not there."""

from http import HTTPStatus

import pytest
from django.contrib.admin import site
from django.db import transaction
from procrastinate.contrib.django.models import ProcrastinateJob

import jobs
from members.roles import CUSTOMER_SERVICE, MARKETING, OPERATOR
from tests.jobs.engine import job_finish, job_take, worker_register
from tests.jobs.probe_tasks import probe_record
from tests.loyalty.staff import client_for, staff_user

CHANGELIST = "/admin/procrastinate/procrastinatejob/"


def _failed_job(probe_file) -> int:
    with transaction.atomic():
        job_id = jobs.defer(probe_record, path=str(probe_file), key="x")
    job_finish(job_take(queue="messages", worker_id=worker_register()), "failed")
    return job_id


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_operator_retries_a_failed_job(job_queue, role_groups, probe_file):
    job_id = _failed_job(probe_file)
    client = client_for(staff_user(OPERATOR, "op"))

    listing = client.get(CHANGELIST, {"status__exact": "failed"})
    response = client.post(CHANGELIST, {"action": "retry", "_selected_action": [job_id]})

    assert listing.status_code == HTTPStatus.OK
    assert b"probe_record" in listing.content
    assert response.status_code == HTTPStatus.FOUND
    assert job_queue.get(id=job_id).status == "todo"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_operator_cancels_a_waiting_job(job_queue, role_groups, probe_file):
    with transaction.atomic():
        job_id = jobs.defer(probe_record, path=str(probe_file), key="x")
    client = client_for(staff_user(OPERATOR, "op"))

    client.post(CHANGELIST, {"action": "cancel", "_selected_action": [job_id]})

    assert job_queue.get(id=job_id).status == "cancelled"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("role", [MARKETING, CUSTOMER_SERVICE])
def test_other_roles_do_not_see_the_jobs(job_queue, role_groups, role):
    client = client_for(staff_user(role, "someone"))

    assert client.get(CHANGELIST).status_code == HTTPStatus.FORBIDDEN


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_viewer_without_the_change_permission_gets_no_actions(job_queue, role_groups):
    from django.contrib.auth.models import Permission

    user = staff_user(None, "viewer")
    user.user_permissions.add(Permission.objects.get(codename="view_procrastinatejob"))

    response = client_for(user).get(CHANGELIST)

    assert response.status_code == HTTPStatus.OK
    assert response.context["action_form"] is None


@pytest.mark.django_db
def test_the_job_pages_exist_only_with_a_queue(is_postgres):
    assert site.is_registered(ProcrastinateJob) is is_postgres


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_finished_jobs_older_than_the_keep_days_are_deleted(job_queue, probe_file, settings):
    import asyncio
    from types import SimpleNamespace

    from asgiref.sync import sync_to_async
    from django.db import connection, connections
    from procrastinate.contrib.django import app

    from jobs.tasks import remove_finished_jobs

    # given an old succeeded job, an old failed one, a recent succeeded one and a waiting one
    worker = worker_register()
    ids = {}
    for key in ("old-ok", "old-failed", "recent"):
        with transaction.atomic():
            ids[key] = jobs.defer(probe_record, path=str(probe_file), key=key)
        job_finish(
            job_take(queue="messages", worker_id=worker),
            "failed" if "failed" in key else "succeeded",
        )
    with transaction.atomic():
        ids["waiting"] = jobs.defer(probe_record, path=str(probe_file), key="waiting")
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE procrastinate_events SET at = now() - interval '31 days'"
            " WHERE job_id = ANY(%s)",
            [[ids["old-ok"], ids["old-failed"]]],
        )

    # when the daily clean-up runs (its context carries only the app, which is all it uses)
    async def run():
        try:
            await remove_finished_jobs.func(SimpleNamespace(app=app), timestamp=0)
        finally:  # the connector ran in asgiref's thread: close that thread's connection
            await sync_to_async(connections.close_all)()

    asyncio.run(run())

    # then
    assert sorted(job_queue.values_list("id", flat=True)) == sorted([ids["recent"], ids["waiting"]])
