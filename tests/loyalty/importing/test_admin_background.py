"""The admin import as a background job: progress on the run record, the progress page and its
status, the result; previews told from imports in the runs list. On PostgreSQL, a real worker
runs the job."""

from __future__ import annotations

import re
from http import HTTPStatus

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from loyalty.importing.progress import ProgressRecorder, percent
from loyalty.importing.runs import run_start
from loyalty.models import ImportRun, Order
from members.actors import Actor
from members.roles import OPERATOR
from members.staff import staff_user_ensure
from tests.jobs.worker import running_worker, wait_for
from tests.loyalty.importing.conftest import ORDERS_HEADER, days_ago

IMPORT_URL = "admin:loyalty_importrun_import"
GOOD = (
    f"{ORDERS_HEADER}\n"
    f"O-1,C-1,ada@example.com,{days_ago(30)},100.00,GBP\n"
    f"O-2,C-2,bob@example.com,{days_ago(3)},50.00,GBP\n"
)


@pytest.fixture(autouse=True)
def _uploads_in_tmp(settings, tmp_path):
    settings.IMPORT_UPLOAD_DIR = tmp_path / "uploads"


@pytest.fixture
def operator(db) -> Client:
    user, _ = staff_user_ensure(username="op", password="x", role=OPERATOR, superuser=False)
    client = Client()
    client.force_login(user)
    return client


def _preview(client: Client, content: str = GOOD):
    upload = SimpleUploadedFile("orders.csv", content.encode(), content_type="text/csv")
    return client.post(reverse(IMPORT_URL), {"file": upload, "format": "auto", "profile": ""})


def _running_run(checksum: str = "ab" * 32) -> ImportRun:
    return run_start(
        actor=Actor.system("tests"),
        file_name="big.csv",
        file_size=1,
        checksum=checksum,
        fmt="orders",
        profile="",
        dry_run=False,
        skip_invalid=False,
        via="admin",
    )


@pytest.mark.parametrize(
    ("phase", "done", "total", "expected"),
    [
        ("read", 0, 1000, 0),
        ("read", 500, 1000, 27),
        ("read", 1000, 1000, 55),
        ("check", 1, 1, 65),
        ("write", 1, 4, 73),
        ("write", 4, 4, 97),
        ("tiers", 1, 1, 100),
        ("write", 0, 0, 97),
    ],
)
def test_each_phase_has_its_share_of_the_bar(phase, done, total, expected):
    assert percent(phase, done, total) == expected


@pytest.mark.django_db
def test_progress_is_written_on_the_running_run_at_most_once_a_second_per_phase():
    run = _running_run()
    now = [100.0]
    recorder = ProgressRecorder(checksum=run.checksum, clock=lambda: now[0])

    def seen():
        run.refresh_from_db()
        return run.phase, run.progress

    recorder("read", 100, 1000)
    first = seen()
    now[0] += 0.5
    recorder("read", 900, 1000)  # within the second: not written
    throttled = seen()
    recorder("check", 1, 1)  # a new phase: written at once
    phase_change = seen()

    assert (first, throttled, phase_change) == (("read", 5), ("read", 5), ("check", 65))


@pytest.mark.django_db
def test_the_status_follows_a_running_import(operator, settings):
    # given a confirmed import whose run is under way (started by hand here, as the job would)
    settings.JOBS_RUN_INLINE = False  # a queue: nothing runs in-process
    from django.utils import timezone

    from loyalty.admin.import_progress import progress_token

    checksum = "cd" * 32
    token = progress_token(checksum=checksum, name="big.csv", since=timezone.now(), job_id=None)
    status_url = reverse("admin:loyalty_importrun_progress_status", args=[token])
    page_url = reverse("admin:loyalty_importrun_progress", args=[token])

    def state():
        return operator.get(status_url).json()

    waiting = state() if settings.DATABASES["default"]["ENGINE"].endswith("postgresql") else None
    run = _running_run(checksum)
    ProgressRecorder(checksum=checksum)("write", 1, 2)
    ImportRun.objects.filter(pk=run.pk).update(rows_read=12345)
    running = state()
    page = operator.get(page_url).content.decode()

    # then
    if waiting is not None:
        assert waiting == {
            "state": "waiting",
            "percent": 0,
            "text": "Waiting for a worker to start the import…",
        }
    assert running == {
        "state": "running",
        "run": run.pk,
        "percent": 81,
        "text": "Writing orders and points: 81% (12,345 rows read)",
    }
    assert 'id="import-progress" max="100" value="81"' in page
    assert '<script src="/static/backoffice/import_progress.js" defer></script>' in page
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", page) == []  # no inline script


@pytest.mark.django_db
def test_a_forged_progress_address_is_not_found(operator):
    url = reverse("admin:loyalty_importrun_progress", args=["forged"])

    assert operator.get(url).status_code == HTTPStatus.NOT_FOUND


@pytest.mark.django_db
def test_the_runs_list_tells_previews_from_imports(
    operator, settings, django_capture_on_commit_callbacks
):
    settings.JOBS_RUN_INLINE = True
    preview = _preview(operator)
    with django_capture_on_commit_callbacks(execute=True):
        operator.post(reverse(IMPORT_URL), {"token": preview.context["token"]})

    listing = operator.get(reverse("admin:loyalty_importrun_changelist"))

    rows = listing.context["cl"].result_list
    kinds = [listing.context["cl"].model_admin.kind(run) for run in rows]
    assert sorted(kinds) == ["Import", "Preview (nothing written)"]
    assert "Preview (nothing written)" in listing.content.decode()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_worker_runs_the_confirmed_import_and_the_page_shows_the_result(
    job_queue, role_groups, operator, tmp_path
):
    # given a confirmed preview: the job waits on the imports queue
    preview = _preview(operator)
    confirmed = operator.post(reverse(IMPORT_URL), {"token": preview.context["token"]})
    page_url = confirmed["Location"]
    status_url = page_url + "status/"
    waiting = operator.get(status_url).json()
    queued = list(job_queue.values_list("task_name", "queue_name", "status"))

    # when a worker runs it
    env = {"IMPORT_UPLOAD_DIR": str(tmp_path / "uploads")}
    with running_worker(tmp_path, env=env):
        finished = wait_for(
            lambda: (s := operator.get(status_url).json())["state"] == "finished" and s,
            timeout=120,
            what="the import",
        )

    # then
    run = ImportRun.objects.get(dry_run=False)
    assert waiting["state"] == "waiting"
    assert queued == [("loyalty.tasks.import_upload", "imports", "todo")]
    assert finished == {"state": "finished", "run": run.pk, "percent": 100, "text": "Succeeded"}
    assert (run.status, run.phase, run.progress, run.orders_created) == (
        "succeeded",
        "write",
        97,
        2,
    )
    assert sorted(Order.objects.values_list("order_id", flat=True)) == ["O-1", "O-2"]
    page = operator.get(page_url).content.decode()
    assert "Result: Succeeded" in page
    assert "import_progress.js" not in page  # nothing left to follow
