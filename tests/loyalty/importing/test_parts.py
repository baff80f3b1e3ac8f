"""A split import (`loyalty.importing.parts`): N parts by customer write what one run writes."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.core.management import call_command
from django.db import connections

from config.errors import ServiceError
from loyalty.importing.parts import import_split, split_results
from loyalty.importing.pipeline import import_orders
from loyalty.importing.synthetic import orders_csv_write
from loyalty.models import ImportRun, Lot, Order, Posting, Refund
from members.actors import Actor
from members.models import Member
from tests.loyalty.importing.conftest import ORDERS_HEADER, days_ago

END = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


def _ledger(prefix: str) -> dict:
    """Everything the import wrote for the customers of one prefix, prefix removed."""
    orders = Order.objects.filter(order_id__startswith=f"{prefix}ORD").select_related("member")
    return {
        "orders": sorted(
            (
                o.order_id.removeprefix(prefix),
                o.member.external_id.removeprefix(prefix),
                o.placed_at,
                o.total,
                o.refunded_total,
                o.points_base,
                o.points_tier_bonus,
            )
            for o in orders
        ),
        "postings": sorted(
            (p.order.order_id.removeprefix(prefix), p.kind, p.points, p.expires_at)
            for p in Posting.objects.filter(order__in=orders).select_related("order")
        ),
        "lots": sorted(
            (lot.member.external_id.removeprefix(prefix), lot.points, lot.remaining)
            for lot in Lot.objects.filter(member__external_id__startswith=f"{prefix}C")
        ),
        "refunds": Refund.objects.filter(order__in=orders).count(),
        "members": sorted(
            (m.external_id.removeprefix(prefix), (m.email or "").removeprefix(prefix.lower()))
            for m in Member.objects.filter(external_id__startswith=f"{prefix}C")
        ),
    }


def test_a_file_split_in_three_writes_what_one_run_writes(
    settings, tmp_path, db, django_capture_on_commit_callbacks
):
    settings.JOBS_RUN_INLINE = True  # the parts run in this process, after the commit
    whole = orders_csv_write(tmp_path / "whole.csv", orders=600, seed=5, end=END, prefix="W")
    split = orders_csv_write(tmp_path / "split.csv", orders=600, seed=5, end=END, prefix="S")
    import_orders(path=whole, actor=Actor.system("tests"))
    since = dt.datetime.now(dt.UTC)

    with django_capture_on_commit_callbacks(execute=True):
        import_split(path=split, parts=3)

    runs = split_results(path=split, parts=3, since=since, wait=False)
    assert [(r.part, r.parts, r.status) for r in runs] == [
        (0, 3, "succeeded"),
        (1, 3, "succeeded"),
        (2, 3, "succeeded"),
    ]
    assert sum(r.orders_created for r in runs) == 600
    assert sorted(r.members_created for r in runs) == [20, 20, 20]  # 60 customers dealt 3 ways
    assert _ledger("S") == _ledger("W")


def test_a_bad_row_is_reported_once(run_import, csv_file):
    path = csv_file(
        f"{ORDERS_HEADER}\n"
        f"O-1,C-1,,{days_ago(3)},5,GBP\n"
        f"O-2,C-2,,{days_ago(3)},five,GBP\n"
        f"O-3,C-3,,{days_ago(3)},7,GBP\n"
        f"O-4,C-4,,not a date,7,GBP\n"
    )

    parts = [run_import(path, part=k, parts=2, skip_invalid=True) for k in (0, 1)]

    # Rows that cannot be read are staged as errors only (no order, no customer): part 0 reports
    # them; a row that was read belongs to its customer's part (the next test).
    assert [(p.orders_created, p.rows_rejected) for p in parts] == [(1, 2), (1, 0)]
    assert sorted(Order.objects.values_list("order_id", flat=True)) == ["O-1", "O-3"]
    assert [row for row, *_ in parts[0].errors] == [3, 5]  # file rows: the header is row 1


def test_a_row_refused_by_a_check_is_reported_by_its_customers_part(run_import, csv_file):
    run_import(csv_file(f"{ORDERS_HEADER}\nO-2,C-2,,{days_ago(3)},5,GBP\n"))
    path = csv_file(
        f"{ORDERS_HEADER}\n"
        f"O-1,C-1,,{days_ago(3)},5,GBP\n"
        f"O-2,C-2,,{days_ago(3)},6,GBP\n"  # read, then refused: recorded with another total
    )

    parts = [run_import(path, part=k, parts=2, skip_invalid=True) for k in (0, 1)]

    assert [(p.orders_created, p.rows_rejected) for p in parts] == [(1, 0), (0, 1)]
    assert [row for row, *_ in parts[1].errors] == [3]


def test_the_part_deal_is_round_robin_over_the_sorted_customers(run_import, csv_file):
    lines = "".join(f"O-{n},C-{n},,{days_ago(3)},5,GBP\n" for n in range(1, 8))
    path = csv_file(ORDERS_HEADER + "\n" + lines)

    written = []
    for k in range(3):
        run_import(path, part=k, parts=3)
        written.append(sorted(Order.objects.values_list("member__external_id", flat=True)))

    # Sorted keys C-1..C-7: ranks 0..6; part k takes ranks k, k + 3, ...
    assert written == [
        ["C-1", "C-4", "C-7"],
        ["C-1", "C-2", "C-4", "C-5", "C-7"],
        ["C-1", "C-2", "C-3", "C-4", "C-5", "C-6", "C-7"],
    ]


RUN_FIELDS = {
    "file_name": "history.csv",
    "file_size": 1,
    "checksum": "ab" * 32,
    "fmt": "orders",
    "profile": "",
    "dry_run": False,
    "skip_invalid": False,
    "via": "command",
}


@pytest.mark.django_db(transaction=True)
def test_one_part_cannot_run_twice_at_once_but_two_parts_can():
    """The part's run is held by another process (a thread with its own connection here: on
    PostgreSQL the lock is a session's advisory lock, on SQLite the record's live process)."""
    from loyalty.importing.runs import run_release, run_start

    held, release = threading.Event(), threading.Event()

    def holder():
        try:
            run_start(actor=Actor.system("first"), **RUN_FIELDS, part=1, parts=2)
            held.set()
            release.wait(timeout=60)
            run_release(RUN_FIELDS["checksum"], 1)
        finally:
            connections["default"].close()

    thread = threading.Thread(target=holder)
    thread.start()
    try:
        assert held.wait(timeout=60)
        with pytest.raises(ServiceError) as excinfo:
            run_start(actor=Actor.system("second"), **RUN_FIELDS, part=1, parts=2)
        other_part = run_start(actor=Actor.system("second"), **RUN_FIELDS, part=0, parts=2)
        run_release(RUN_FIELDS["checksum"], 0)
    finally:
        release.set()
        thread.join(timeout=60)

    assert (other_part.part, excinfo.value.code) == (0, "import_running")
    assert sorted(ImportRun.objects.filter(status="running").values_list("part", flat=True)) == [
        0,
        1,
    ]


@pytest.mark.parametrize("parts", [0, 65])
def test_a_split_out_of_range_is_refused_naming_the_option(db, tmp_path, parts):
    with pytest.raises(ServiceError) as excinfo:
        import_split(path=tmp_path / "x.csv", parts=parts)

    assert (excinfo.value.code, excinfo.value.message) == (
        "invalid_split",
        f"--split must be from 1 to 64; got {parts}.",
    )


@pytest.mark.django_db(transaction=True)  # the parts run when the command's deferral commits
def test_the_command_splits_and_sums_the_parts(settings, tmp_path, capsys):
    settings.JOBS_RUN_INLINE = True
    path = orders_csv_write(tmp_path / "c.csv", orders=200, seed=2, end=END)

    call_command("import_orders", str(path), "--split", "2", "--no-progress")

    out = capsys.readouterr().out
    assert "Split import of c.csv in 2 parts: part 0 succeeded, part 1 succeeded" in out
    assert f"  {'orders created':<28}{200:>12,}" in out.splitlines()
    assert Order.objects.count() == 200


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_parts_at_once_on_postgresql_write_what_one_run_writes(tmp_path):
    whole = orders_csv_write(tmp_path / "whole.csv", orders=3000, seed=8, end=END, prefix="W")
    split = orders_csv_write(tmp_path / "split.csv", orders=3000, seed=8, end=END, prefix="S")
    import_orders(path=whole, actor=Actor.system("tests"), chunk_orders=500)
    outcome, barrier = {}, threading.Barrier(2)

    def part(k):
        try:
            barrier.wait(timeout=30)
            outcome[k] = import_orders(
                path=split, actor=Actor.system("tests"), part=k, parts=2, chunk_orders=500
            )
        finally:
            connections["default"].close()

    threads = [threading.Thread(target=part, args=(k,)) for k in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)

    assert [outcome[k].status for k in (0, 1)] == ["succeeded", "succeeded"]
    assert outcome[0].orders_created + outcome[1].orders_created == 3000
    assert _ledger("S") == _ledger("W")
