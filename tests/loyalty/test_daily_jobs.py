"""`run_daily_jobs`: each lot matures and expires once, however often and however many run."""

import datetime as dt
import os
import re
import subprocess
import sys
import threading

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from loyalty.models import Account, Lot, Posting, ProgramSettings
from loyalty.selectors.audit import ledger_audit
from loyalty.services.jobs import daily_jobs_run
from loyalty.services.points import points_adjust_post
from tests.loyalty.conftest import T0

DAY = dt.timedelta(days=1)
SUMMARY = re.compile(r"(\d+) members, (\d+) lots matured, (\d+) lots expired")


def run_command(capsys, *args) -> str:
    call_command("run_daily_jobs", *args, "--no-progress")
    return capsys.readouterr().out.strip()


def summary(line: str) -> str:
    """The command's line without the other apps' steps (which vary as apps register them)."""
    return line.split(";")[0]


def test_running_the_daily_jobs_twice_changes_nothing_the_second_time(
    make_member, record_order, system_actor, capsys
):
    # given two members with an order due to mature and one with a lot due to expire
    a, b, c = make_member(), make_member(), make_member()
    record_order(a, "O-A", "10.00", placed_at=T0)
    record_order(b, "O-B", "20.00", placed_at=T0)
    ProgramSettings.objects.update_or_create(pk=1, defaults={"points_lifetime_days": 30})
    points_adjust_post(
        member=c, points=30, reason="t", actor=system_actor, idempotency_key="adj", now=T0
    )
    as_of = (T0 + 30 * DAY).date().isoformat()

    # when the job runs twice for the same day
    first = run_command(capsys, "--as-of", as_of)
    postings = Posting.objects.count()
    second = run_command(capsys, "--as-of", as_of)

    # then
    assert summary(first) == (
        "Daily jobs as of 2026-02-04: 3 members, 2 lots matured, 1 lots expired"
    )
    assert (
        summary(second) == "Daily jobs as of 2026-02-04: 0 members, 0 lots matured, 0 lots expired"
    )
    assert Posting.objects.count() == postings
    balances = {
        acc.member_id: (acc.available, acc.pending)
        for acc in Account.objects.filter(member__in=[a, b, c])
    }
    assert balances == {a.pk: (10, 0), b.pk: (20, 0), c.pk: (0, 0)}
    assert Posting.objects.get(kind="expire").points == -30


def test_the_daily_jobs_work_up_to_the_end_of_the_as_of_day(member, record_order, capsys):
    record_order(member, "O-1", "10.00", placed_at=T0)  # due at T0 + 14 days, 10:00 UTC

    day_before = run_command(capsys, "--as-of", (T0 + 13 * DAY).date().isoformat())
    same_day = run_command(capsys, "--as-of", (T0 + 14 * DAY).date().isoformat())

    assert SUMMARY.search(day_before).groups() == ("0", "0", "0")
    assert SUMMARY.search(same_day).groups() == ("1", "1", "0")


@pytest.mark.parametrize("as_of", ["2026-13-01", "tomorrow", "05/01/2026"])
def test_an_as_of_that_is_not_a_date_is_a_command_error(db, as_of):
    with pytest.raises(CommandError) as excinfo:
        call_command("run_daily_jobs", "--as-of", as_of, "--no-progress")

    assert str(excinfo.value) == f"--as-of: {as_of!r} is not a date (YYYY-MM-DD)"


# --- Two copies at once (PostgreSQL) ---------------------------------------------------------

MEMBERS = 200
AS_OF = (T0 + 5 * DAY).date()


@pytest.fixture
def due_members(make_member, record_order):
    """200 members, each with a lot due to mature and expire and another due to mature."""
    ProgramSettings.objects.update_or_create(pk=1, defaults={"points_lifetime_days": 30})
    members = [make_member() for _ in range(MEMBERS)]
    for i, member in enumerate(members):
        # available T0 − 36 days, expires T0 − 6 days (the job has never run)
        record_order(member, f"OLD-{i}", "10.00", placed_at=T0 - 50 * DAY)
        # available T0 + 4 days
        record_order(member, f"NEW-{i}", "7.00", placed_at=T0 - 10 * DAY)
    return members


def assert_each_lot_matured_and_expired_once(members):
    assert Lot.objects.filter(member__in=members, matured=False).count() == 0
    expiries = Posting.objects.filter(member__in=members, kind="expire")
    assert expiries.count() == MEMBERS
    assert set(expiries.values_list("points", flat=True)) == {-10}
    assert {(a.available, a.pending) for a in Account.objects.filter(member__in=members)} == {
        (7, 0)
    }
    assert ledger_audit().mismatches == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_daily_jobs_at_once_in_threads_do_each_piece_of_work_once(due_members):
    barrier = threading.Barrier(2)
    reports, errors = [], []

    def run():
        try:
            barrier.wait(timeout=30)
            reports.append(daily_jobs_run(as_of=AS_OF))
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    assert sum(r.matured_lots for r in reports) == 2 * MEMBERS
    assert sum(r.expired_lots for r in reports) == MEMBERS
    assert_each_lot_matured_and_expired_once(due_members)
    again = daily_jobs_run(as_of=AS_OF)
    assert (again.members, again.matured_lots, again.expired_lots) == (0, 0, 0)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_daily_job_processes_at_once_do_each_piece_of_work_once(due_members):
    db = settings.DATABASES["default"]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": (
            f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
        ),
    }
    command = [
        sys.executable,
        "manage.py",
        "run_daily_jobs",
        "--as-of",
        AS_OF.isoformat(),
        "--no-progress",
    ]

    processes = [
        subprocess.Popen(
            command,
            cwd=settings.BASE_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [process.communicate(timeout=120) for process in processes]

    assert [p.returncode for p in processes] == [0, 0], outputs
    counts = [SUMMARY.search(out).groups() for out, _ in outputs]
    assert sum(int(matured) for _, matured, _ in counts) == 2 * MEMBERS
    assert sum(int(expired) for _, _, expired in counts) == MEMBERS
    assert_each_lot_matured_and_expired_once(due_members)
