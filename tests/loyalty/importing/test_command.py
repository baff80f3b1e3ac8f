"""`manage.py import_orders`: the summary, the exit status, the listing of bad rows."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from loyalty.models import ImportRun, Order
from tests.loyalty.importing.conftest import ORDERS_HEADER, days_ago

pytestmark = pytest.mark.django_db


def _run(*args) -> str:
    out = io.StringIO()
    call_command("import_orders", *args, "--no-progress", stdout=out)
    return out.getvalue()


def test_the_summary_lists_what_the_spec_asks_for(csv_file):
    path = csv_file(
        f"{ORDERS_HEADER},refunded_total\n"
        f"O-1,C-1,a@b.co,{days_ago(30)},100.00,GBP,20.00\n"
        f"O-2,C-1,a@b.co,{days_ago(3)},50.00,GBP,\n",
        name="shop.csv",
    )

    output = _run(str(path))

    lines = output.splitlines()
    assert lines[0].startswith(
        "Import of shop.csv (format orders, profile orders, comma-delimited): succeeded in "
    )
    assert lines[1:8] == [
        "  rows read                              2",
        "  orders created                         2",
        "  orders already present                 0",
        "  refunds recorded                       1",
        "  members created                        1",
        "  points posted                        130",
        "  rows rejected                          0",
    ]
    assert "  points: 150 earned, 20 reversed by refunds, 0 expired" in lines


def test_a_dry_run_lists_every_bad_row_exits_non_zero_and_writes_nothing(csv_file, tmp_path):
    rows = "".join(f"O-{n},C-{n},,{days_ago(3)},x{n},GBP\n" for n in range(1, 31))
    path = csv_file(f"{ORDERS_HEADER}\n{rows}")
    report = tmp_path / "out.csv"
    out = io.StringIO()

    with pytest.raises(CommandError) as excinfo:
        call_command("import_orders", str(path), "--dry-run", "--errors", str(report), stdout=out)

    listed = [line for line in out.getvalue().splitlines() if "[not_a_number]" in line]
    assert len(listed) == 30  # every one, not the first few
    assert listed[0] == (
        "  row 2, column 'total': 'x1' is not an amount (digits with an optional decimal point, "
        "e.g. 12.50; no currency signs or thousands separators) [not_a_number]"
    )
    assert str(excinfo.value) == "Dry run: 30 row(s) have errors."
    assert f"  error report: {report}" in out.getvalue()
    assert len(report.read_text(encoding="utf-8").splitlines()) == 31
    assert Order.objects.count() == 0


def test_a_real_run_with_bad_rows_writes_the_report_next_to_the_file(csv_file):
    path = csv_file(f"{ORDERS_HEADER}\nO-1,C-1,,{days_ago(3)},1.999,GBP\n", name="bad.csv")

    with pytest.raises(CommandError) as excinfo:
        _run(str(path))

    assert str(excinfo.value).startswith("1 row(s) have errors; nothing was imported.")
    assert (path.parent / "bad.csv.errors.csv").is_file()
    assert ImportRun.objects.get().status == "rejected"


def test_a_file_that_is_not_there_is_a_clear_error(db, tmp_path):
    with pytest.raises(CommandError, match="no such file"):
        _run(str(tmp_path / "missing.csv"))


def test_a_second_run_of_a_running_file_is_refused_without_a_traceback(csv_file, is_postgres):
    if is_postgres:
        pytest.skip("on PostgreSQL a live run is its advisory lock (test_runs.py covers it)")
    import os
    import socket

    from loyalty.importing.reader import file_checksum

    path = csv_file(f"{ORDERS_HEADER}\nO-1,C-1,,{days_ago(3)},1,GBP\n")
    ImportRun.objects.create(
        file_name="x",
        checksum=file_checksum(path)[0],
        format="orders",
        actor_kind="system",
        actor_label="system:other",
        pid=os.getpid(),
        host=socket.gethostname(),
    )

    with pytest.raises(CommandError, match="This file is already being imported"):
        _run(str(path))


def test_user_records_the_staff_member(csv_file, django_user_model):
    django_user_model.objects.create_user(username="ops", password="x", is_staff=True)
    path = csv_file(f"{ORDERS_HEADER}\nO-1,C-1,,{days_ago(3)},1,GBP\n")

    _run(str(path), "--user", "ops")

    run = ImportRun.objects.get()
    assert (run.actor_kind, run.actor_label) == ("staff", "ops")
