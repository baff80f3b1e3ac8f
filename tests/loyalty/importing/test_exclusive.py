"""`--exclusive`: one transaction, the ledger locked, its indexes and foreign keys built once.

It must write exactly what a chunked import writes, leave the schema exactly as it found it, and
leave nothing at all when it fails or is killed part-way."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import time
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

from loyalty.importing.exclusive import TABLES
from loyalty.importing.synthetic import orders_csv_write
from loyalty.models import Debt, ImportRun, Order, Posting
from members.models import Member
from tests.loyalty.importing.conftest import ORDERS_HEADER, days_ago
from tests.loyalty.importing.test_runs import ROOT, _command, _env, _ledger_state


def schema() -> list[tuple]:
    """Every index and constraint of the tables an import writes, with its definition."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT t.relname, c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i "
                "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid "
                "WHERE t.relname = ANY(%s) "
                "UNION ALL SELECT t.relname, k.conname, pg_get_constraintdef(k.oid) "
                "FROM pg_constraint k JOIN pg_class t ON t.oid = k.conrelid "
                "WHERE t.relname = ANY(%s)",
                [list(TABLES), list(TABLES)],
            )
        else:
            cursor.execute(
                "SELECT tbl_name, name, sql FROM sqlite_master WHERE type IN ('table', 'index') "
                "AND tbl_name IN "
                f"({', '.join(['%s'] * len(TABLES))})",
                list(TABLES),
            )
        return sorted(cursor.fetchall())


@pytest.fixture
def history(tmp_path, member_in_debt):
    """A file of 1,200 orders over 120 customers, one of whom is already a member with a debt
    (so the exclusive write meets existing accounts, their lock and `debts_settle`)."""
    path = orders_csv_write(tmp_path / "history.csv", orders=1_200, seed=11)
    member_in_debt(path.read_text().splitlines()[1].split(",")[1])
    return path


def test_an_exclusive_import_writes_what_a_chunked_one_writes(run_import, history):
    before = schema()
    with transaction.atomic():  # the chunked import, measured, then undone
        chunked = run_import(history, chunk_orders=100)
        chunked_state = _ledger_state()
        chunked_debt = Debt.objects.get().remaining
        transaction.set_rollback(True)
    assert Order.objects.count() == 1  # the member's live order

    result = run_import(history, chunk_orders=100, exclusive=True)

    assert (result.status, result.orders_created, result.members_created) == (
        "succeeded",
        1_200,
        119,
    )
    assert (chunked.status, chunked.orders_created, chunked.points_posted) == (
        "succeeded",
        1_200,
        result.points_posted,
    )
    assert _ledger_state() == chunked_state
    assert Debt.objects.get().remaining == chunked_debt == 0
    assert schema() == before


def test_an_exclusive_import_of_a_file_already_imported_changes_nothing(run_import, history):
    run_import(history, exclusive=True)
    state = _ledger_state()

    again = run_import(history, exclusive=True)

    assert (again.status, again.orders_created, again.orders_present) == ("succeeded", 0, 1_200)
    assert _ledger_state() == state


def test_a_failure_while_writing_leaves_nothing_and_the_schema_whole(run_import, history):
    members, postings = Member.objects.count(), Posting.objects.count()
    before = schema()
    # A real database error late in the first chunk: the ledger refuses every allocation.
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "CREATE FUNCTION test_refuse() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$"
            )
            cursor.execute(
                "CREATE TRIGGER test_refuse BEFORE INSERT ON loyalty_lotallocation "
                "FOR EACH ROW EXECUTE FUNCTION test_refuse()"
            )
        else:
            cursor.execute(
                "CREATE TRIGGER test_refuse BEFORE INSERT ON loyalty_lotallocation "
                "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
            )

    result = run_import(history, chunk_orders=100, exclusive=True)

    assert result.status == "failed"
    assert "refused by the test" in result.message
    assert (Member.objects.count(), Posting.objects.count(), Order.objects.count()) == (
        members,
        postings,
        1,  # the member's live order
    )
    assert ImportRun.objects.get().status == "failed"
    assert schema() == before


def test_the_command_takes_exclusive(history, capsys):
    call_command("import_orders", str(history), "--no-progress", "--exclusive")

    assert "orders created                     1,200" in capsys.readouterr().out
    assert Order.objects.count() == 1_201


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_killed_while_writing_leaves_nothing_and_runs_again_as_one_clean_run(tmp_path):
    path = orders_csv_write(tmp_path / "history.csv", orders=12_000, seed=7)
    env = _env()
    before = schema()

    # given: an exclusive import killed with SIGKILL while it writes its chunks
    victim = subprocess.Popen(
        [*_command(path), "--exclusive"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL
    )
    held = False
    deadline = time.monotonic() + 120
    while not held and time.monotonic() < deadline and victim.poll() is None:
        held = _exclusive_lock_held()
        time.sleep(0.01)
    time.sleep(0.3)  # some of its 24 chunks written
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(timeout=30)
    assert held, "the kill must land while the import holds the ledger"
    deadline = time.monotonic() + 30
    while _exclusive_lock_held() and time.monotonic() < deadline:
        time.sleep(0.05)  # the dead client's backend ends its statement, then rolls back
    assert (Order.objects.count(), Member.objects.count(), Posting.objects.count()) == (0, 0, 0)
    assert schema() == before

    # when: it is run again
    again = subprocess.run(
        [*_command(path), "--exclusive"], env=env, cwd=ROOT, capture_output=True, text=True
    )

    # then: it writes everything, and the ledger is what one clean chunked run gives
    assert again.returncode == 0, again.stderr
    assert sorted(ImportRun.objects.values_list("status", flat=True)) == [
        "interrupted",
        "succeeded",
    ]
    resumed = _ledger_state()
    assert schema() == before
    call_command("flush", interactive=False, verbosity=0)
    clean = subprocess.run(_command(path), env=env, cwd=ROOT, capture_output=True, text=True)
    assert clean.returncode == 0, clean.stderr
    assert _ledger_state() == resumed
    assert resumed[0]["orders"] == 12_000


def _exclusive_lock_held() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
            "WHERE c.relname = 'loyalty_order' AND l.mode = 'AccessExclusiveLock' AND l.granted"
        )
        return cursor.fetchone()[0] > 0


# --- what the storefront records between the checks and the write, in both modes -------------


def _between_checks_and_write(action):
    """A progress callback that runs `action` once, when the checks are done (before writing)."""

    def progress(phase, done, total):
        if phase == "check":
            action()

    return progress


@pytest.mark.parametrize("exclusive", [False, True], ids=["chunked", "exclusive"])
def test_orders_recorded_meanwhile_are_present_or_conflicts(
    run_import, csv_file, make_member, record_order, exclusive
):
    placed = (timezone.now() - dt.timedelta(days=30)).replace(microsecond=0)
    path = csv_file(
        f"{ORDERS_HEADER}\n"
        f"O-1,C-1,a@b.co,{placed.isoformat()},10.00,GBP\n"
        f"O-2,C-1,a@b.co,{placed.isoformat()},20.00,GBP\n"
        f"O-3,C-2,c@d.co,{placed.isoformat()},30.00,GBP\n"
    )

    def storefront():
        member = make_member(external_id="C-1", email="a@b.co")
        record_order(member, "O-1", "10.00", placed_at=placed)  # the same order
        record_order(member, "O-2", "25.00", placed_at=placed)  # other content

    result = run_import(
        path, chunk_orders=1, exclusive=exclusive, progress=_between_checks_and_write(storefront)
    )

    assert (result.status, result.orders_created, result.orders_present) == ("partial", 1, 1)
    assert result.errors == [
        (
            3,
            "order_id",
            "O-2",
            "order_conflict",
            "row 3: order O-2 was recorded meanwhile with other content",
        )
    ]
    assert sorted(Order.objects.values_list("order_id", "total", "source")) == [
        ("O-1", Decimal("10.00"), "api"),
        ("O-2", Decimal("25.00"), "api"),
        ("O-3", Decimal("30.00"), "import"),
    ]


@pytest.mark.parametrize("exclusive", [False, True], ids=["chunked", "exclusive"])
def test_members_enrolled_meanwhile_get_their_orders_or_refuse_an_email(
    run_import, csv_file, make_member, exclusive
):
    path = csv_file(
        f"{ORDERS_HEADER}\n"
        f"O-1,C-1,a@b.co,{days_ago(30)},10.00,GBP\n"
        f"O-2,C-2,c@d.co,{days_ago(30)},20.00,GBP\n"
        f"O-3,C-3,e@f.co,{days_ago(30)},30.00,GBP\n"
    )

    def storefront():
        make_member(external_id="C-1", email="a@b.co")  # the customer enrolled meanwhile
        make_member(external_id="X-9", email="c@d.co")  # someone else took C-2's email

    result = run_import(path, exclusive=exclusive, progress=_between_checks_and_write(storefront))

    assert (result.status, result.orders_created, result.members_created) == ("partial", 2, 1)
    assert [error[3:] for error in result.errors] == [
        ("email_taken", "row 3: customer C-2: another member already uses this customer's email")
    ]
    assert sorted(Order.objects.values_list("order_id", "member__external_id")) == [
        ("O-1", "C-1"),
        ("O-3", "C-3"),
    ]
